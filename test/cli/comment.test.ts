import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { commentCommand } from '../../shared/cli/comment.ts';
import { postReportComment } from '../../shared/cli/comment.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { GitHubStandin } from '../github-standin/server.ts';
import { sampleReport } from '../report/sample.ts';

const REPO = 'acme/shop';
const SHA = '7'.repeat(40);

describe('postReportComment (workflow_run, phase two)', () => {
  const gh = new GitHubStandin();
  let dir = '';
  let reportPath = '';
  const env = (event: unknown, extra: Record<string, string> = {}): Promise<Record<string, string>> =>
    writeFile(path.join(dir, 'event.json'), JSON.stringify(event)).then(() => ({
      GITHUB_REPOSITORY: REPO,
      GITHUB_EVENT_NAME: 'workflow_run',
      GITHUB_EVENT_PATH: path.join(dir, 'event.json'),
      GITHUB_API_URL: gh.url,
      ...extra,
    }));
  const forkRun = {
    action: 'completed',
    workflow_run: {
      event: 'pull_request',
      path: '.github/workflows/pr-gate.yml',
      head_sha: SHA,
      head_repository: { full_name: 'mallory/shop' },
      pull_requests: [],
    },
  };

  before(async () => {
    await gh.start();
    dir = await mkdtemp(path.join(os.tmpdir(), 'modelship-comment-'));
    gh.addPull(REPO, {
      number: 21,
      state: 'open',
      title: 'fork PR',
      head: { sha: SHA, ref: 'main', repo: { full_name: 'mallory/shop' } },
      base: { ref: 'main', repo: { full_name: REPO } },
    });
    gh.addIssue(REPO, 99);
    // The artifact lies about the PR: the event decides.
    reportPath = path.join(dir, 'report.json');
    await writeFile(reportPath, JSON.stringify(sampleReport({ run: { pr: 99, workflowFile: 'other.yml' } })));
  });
  after(async () => {
    await gh.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the fork PR from the event, upserts once, ignores the PR number in the artifact', async () => {
    const log = memoryLogger();
    const e = await env(forkRun);
    const first = await postReportComment({ report: reportPath, token: 'ghs_write', env: e, log });
    const second = await postReportComment({ report: reportPath, token: 'ghs_write', env: e, log });
    assert.equal(first.pr, 21);
    assert.equal(first.action, 'created');
    assert.equal(second.action, 'unchanged');
    assert.equal(gh.comments(REPO, 21).length, 1);
    assert.equal(gh.comments(REPO, 99).length, 0);
    assert.ok(gh.comments(REPO, 21)[0].body.startsWith('<!-- modelship:evaluate-gate:fashion:pr-gate.yml -->\n### ✅ fashion'));
    assert.match(log.lines.join('\n'), /report names PR #99; commenting on #21/);
  });

  it('refuses a tampered report and non-PR runs', async () => {
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ ...sampleReport(), passed: 'yes' }));
    await assert.rejects(
      postReportComment({ report: bad, token: 'ghs_write', env: await env(forkRun), log: memoryLogger() }),
      /bad\.json is not a modelship gate report: passed/,
    );
    await assert.rejects(
      postReportComment({
        report: reportPath,
        token: 'ghs_write',
        env: await env({ workflow_run: { ...forkRun.workflow_run, event: 'push' } }),
        log: memoryLogger(),
      }),
      /triggered by push, not a pull request/,
    );
    await assert.rejects(
      postReportComment({
        report: reportPath,
        token: 'ghs_write',
        env: await env({ workflow_run: { ...forkRun.workflow_run, head_sha: '0'.repeat(40) } }),
        log: memoryLogger(),
      }),
      /no open pull request has head 0{40} from mallory\/shop/,
    );
    await assert.rejects(
      postReportComment({ report: reportPath, token: undefined, env: await env(forkRun), log: memoryLogger() }),
      ConfigurationError,
    );
  });

  it('a read-only token is a clear error', async () => {
    await assert.rejects(
      postReportComment({
        report: reportPath,
        pr: 21,
        workflow: 'another.yml',
        token: 'ghs_read',
        env: await env(forkRun),
        log: memoryLogger(),
      }),
      (e: unknown) => e instanceof ConfigurationError && /pull-requests: write/.test(e.hint ?? ''),
    );
  });

  it('the CLI door: modelship comment --report … (token from GITHUB_TOKEN)', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const code = await commentCommand(['--report', 'report.json'], {
      log: memoryLogger(),
      stdout: out,
      cwd: dir,
      env: { ...(await env(forkRun)), GITHUB_TOKEN: 'ghs_write' },
    });
    assert.equal(code, 0);
    assert.match(text, /^comment-url=https:\/\/github\.com\/acme\/shop\/pull\/21#issuecomment-\d+\n$/);
    await assert.rejects(
      commentCommand(['--pr', 'x', '--report', 'r'], { log: memoryLogger(), stdout: out, cwd: dir, env: {} }),
      /--pr must be a pull request number/,
    );
    await assert.rejects(commentCommand(['--nope'], { log: memoryLogger(), stdout: out, cwd: dir, env: {} }), /unknown option --nope/);
  });
});
