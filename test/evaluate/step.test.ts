/**
 * evaluate-gate as the runner runs it: runAction with INPUT_* variables, a pull_request event file,
 * GITHUB_API_URL at the local GitHub stand-in, temporary GITHUB_OUTPUT and GITHUB_STEP_SUMMARY,
 * real (tiny) tfjs models and a local registry holding the production model.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../shared/model/backend.ts';
import { openRegistry } from '../../shared/registry/index.ts';
import { parseGateReport } from '../../shared/report/gate-report.ts';
import { evaluateGateStep } from '../../shared/steps/evaluate-gate.ts';
import { silentLogger } from '../../shared/util/log.ts';
import { GitHubStandin } from '../github-standin/server.ts';
import { runAsRunner } from '../helpers/runner.ts';
import { writeDataset, writeModel } from './fixtures.ts';

const REPO = 'acme/shop';

interface RunResult {
  outputs: Record<string, string>;
  summary: string;
  log: string;
  failed: boolean;
}

describe('evaluate-gate step (runAction)', () => {
  const gh = new GitHubStandin();
  let root = '';
  let dataset = '';
  let registry = '';
  let good = '';
  let nearCopy = '';
  let confused = '';
  let otherData = '';

  before(async () => {
    await initBackend('auto', silentLogger);
    root = await mkdtemp(path.join(os.tmpdir(), 'modelship-gate-'));
    await gh.start();
    gh.addIssue(REPO, 12);
    gh.addIssue(REPO, 13);
    dataset = await writeDataset(path.join(root, 'data'));
    good = await writeModel(path.join(root, 'good'), 'good');
    nearCopy = await writeModel(path.join(root, 'near'), 'near-copy');
    confused = await writeModel(path.join(root, 'confused'), 'confused');
    otherData = await writeModel(path.join(root, 'other'), 'good', { datasetDigest: `sha256:${'9'.repeat(64)}` });
    registry = path.join(root, 'registry');
  });
  after(async () => {
    await gh.stop();
    await rm(root, { recursive: true, force: true });
  });

  async function run(inputs: Record<string, string>, event: { pr?: number; fork?: boolean; name?: string } = {}): Promise<RunResult> {
    const dir = await mkdtemp(path.join(root, 'run-'));
    const eventPath = path.join(dir, 'event.json');
    const pr = event.pr ?? 12;
    await writeFile(
      eventPath,
      JSON.stringify(
        event.name === 'push'
          ? { ref: 'refs/heads/main' }
          : {
              action: 'synchronize',
              number: pr,
              pull_request: {
                number: pr,
                title: 'Try <script> `x` @everyone',
                head: { ref: 'feat/|x|', sha: 'f'.repeat(40), repo: { full_name: event.fork ? 'mallory/shop' : REPO } },
                base: { ref: 'main', repo: { full_name: REPO } },
              },
            },
      ),
    );
    const env: Record<string, string> = {
      GITHUB_REPOSITORY: REPO,
      GITHUB_EVENT_NAME: event.name ?? 'pull_request',
      GITHUB_EVENT_PATH: eventPath,
      GITHUB_API_URL: gh.url,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_RUN_ID: '4242',
      GITHUB_RUN_NUMBER: '482',
      GITHUB_SHA: 'e'.repeat(40),
      GITHUB_WORKFLOW: 'PR',
      GITHUB_WORKFLOW_REF: `${REPO}/.github/workflows/pr.yml@refs/pull/${pr}/merge`,
    };
    const all: Record<string, string> = {
      'report-dir': path.join(dir, 'report'),
      registry,
      'github-token': 'ghs_write',
      ...inputs,
    };
    const r = await runAsRunner(evaluateGateStep, all, { env, cwd: dir });
    return { outputs: r.outputs, summary: r.summary, log: `${r.log}\n${r.commands}`, failed: r.failed };
  }

  it('first model (empty registry): gated on thresholds only, said plainly; one comment across repeated runs', async () => {
    const inputs = {
      model: good,
      dataset,
      baseline: 'production',
      thresholds: 'accuracy >= 0.9\nlog_loss <= 1',
      'max-regression': 'accuracy: 1pp',
    };
    const r1 = await run(inputs);
    assert.equal(r1.failed, false, r1.log);
    assert.equal(r1.outputs['passed'], 'true');
    assert.match(
      r1.summary,
      /^### ✅ fashion · candidate passes the thresholds \(first model: the registry .* has no versions of fashion yet — gated on thresholds only\)/,
    );
    const report = parseGateReport(JSON.parse(await readFile(r1.outputs['report'], 'utf8')));
    assert.equal(report.firstModel, true);
    assert.equal(report.baseline, null);
    assert.deepEqual(
      report.rules.map((r) => r.verdict),
      ['pass', 'pass', 'skip'],
    );
    const metrics = JSON.parse(r1.outputs['metrics']) as Record<string, number>;
    assert.ok(metrics['accuracy'] > 0.9, String(metrics['accuracy']));
    assert.equal((await readFile(r1.outputs['markdown'], 'utf8')).trimEnd(), r1.summary.trimEnd());
    assert.match(r1.outputs['comment-url'], /\/acme\/shop\/pull\/12#issuecomment-\d+$/);
    // class names from the data are escaped in the summary and the comment
    assert.ok(!r1.summary.includes('<b>bird'));
    assert.ok(r1.summary.includes('cat&#124;dog'));
    assert.match(
      r1.summary,
      /\(660 examples, split 30\/30\/600; scored on the test split, 600\) · params `architecture=dense epochs=3 batch=32 lr=0\.001 seed=1` · backend `cpu` · \[run \\#482\]\(https:\/\/github\.com\/acme\/shop\/actions\/runs\/4242\) · commit `0123456`/,
    );
    const r2 = await run(inputs);
    assert.equal(r2.outputs['comment-url'], r1.outputs['comment-url']);
    const comments = gh.comments(REPO, 12);
    assert.equal(comments.length, 1);
    assert.ok(comments[0].body.startsWith('<!-- modelship:evaluate-gate:fashion:pr.yml -->\n### ✅ fashion'));
  });

  it('against the registered production model: a significant regression fails the step, outputs still set', async () => {
    const reg = await openRegistry(registry, { log: silentLogger });
    await reg.push(good, { name: 'fashion' });
    await reg.setAlias('fashion', 'production', 1);
    const r = await run({
      model: confused,
      dataset,
      baseline: 'production',
      thresholds: 'accuracy >= 0.5',
      'max-regression': 'accuracy: 1pp\nf1_macro: 2%',
    });
    assert.equal(r.failed, true);
    assert.equal(r.outputs['passed'], 'false');
    assert.match(
      r.log,
      /evaluate-gate failed: the gate did not pass: .*accuracy: 1pp \(accuracy worse by .*significant \(McNemar p = .* < 0\.05\)\)/,
    );
    assert.match(r.summary, /^### ❌ fashion · candidate fails the gate \(\d of 3 rules\) \(vs `production` v1\)/);
    assert.match(r.summary, /\| metric \| production v1 \| this PR \| change \| rule \|/);
    assert.match(r.summary, /McNemar exact test on 600 paired test examples/);
    assert.match(r.summary, /95% paired bootstrap interval of the change/);
    const report = parseGateReport(JSON.parse(await readFile(r.outputs['report'], 'utf8')));
    assert.equal(report.baseline?.version, 1);
    assert.match(report.baseline?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(report.run?.pr, 12);
    assert.equal(report.run?.url, 'https://github.com/acme/shop/actions/runs/4242');
    assert.equal(gh.comments(REPO, 12).length, 1, 'the same comment is updated');
    assert.match(gh.comments(REPO, 12)[0].body, /### ❌ fashion/);
  });

  it('first model for an alias (versions registered, none aliased staging): no baseline, says why, thresholds alone decide', async () => {
    // Its own registry: one version of fashion (the good model), aliased nothing. Had it been the
    // baseline, the confused candidate (accuracy 0.325) would fail `accuracy: 1pp` (as in the test above).
    const own = path.join(root, 'registry-unaliased');
    const reg = await openRegistry(own, { log: silentLogger });
    await reg.push(good, { name: 'fashion' });
    const r = await run({
      model: confused,
      dataset,
      registry: own,
      baseline: 'staging',
      thresholds: 'accuracy >= 0.3',
      'max-regression': 'accuracy: 1pp',
      comment: 'false',
    });
    assert.equal(r.failed, false, r.log);
    assert.equal(r.outputs['passed'], 'true');
    const note = 'first model for staging: no version of fashion is aliased staging yet, 1 registered — gated on thresholds only';
    assert.match(r.log, new RegExp(note));
    assert.match(r.summary, new RegExp(`^### ✅ fashion · candidate passes the thresholds \\(${note}\\)`));
    const report = parseGateReport(JSON.parse(await readFile(r.outputs['report'], 'utf8')));
    assert.equal(report.firstModel, true);
    assert.equal(report.baseline, null);
    assert.equal(report.baselineNote, note);
    assert.deepEqual(
      report.rules.map((x) => [x.rule, x.verdict, x.baseline]),
      [
        ['accuracy >= 0.3', 'pass', null],
        ['accuracy: 1pp', 'skip', null],
      ],
    );
    assert.match(report.rules[1].reason, /first model/);
    assert.equal(report.significance.mcnemar, undefined);
  });

  it('fail-on-gate: false keeps the step green with passed=false', async () => {
    const r = await run({
      model: confused,
      dataset,
      baseline: 'production',
      'max-regression': 'accuracy: 1pp',
      'fail-on-gate': 'false',
      comment: 'false',
    });
    assert.equal(r.failed, false, r.log);
    assert.equal(r.outputs['passed'], 'false');
    assert.equal(r.outputs['comment-url'], '');
  });

  it('a baseline folder with a tiny change beyond the limit is within noise: passes with a warning', async () => {
    // The near-copy baseline gets 1 more test example right than the good candidate (3 vs 2 discordant).
    const r = await run({ model: good, dataset, baseline: nearCopy, 'max-regression': 'accuracy: 0.01pp', comment: 'false' });
    assert.equal(r.failed, false, r.log);
    assert.equal(r.outputs['passed'], 'true');
    const report = parseGateReport(JSON.parse(await readFile(r.outputs['report'], 'utf8')));
    const rule = report.rules[0];
    assert.ok(rule.value! < rule.baseline!, `${rule.value} vs ${rule.baseline}`);
    assert.equal(rule.verdict, 'pass');
    assert.equal(rule.note, 'within-noise');
    assert.equal(report.significance.mcnemar?.significant, false);
    assert.match(r.summary, /\| accuracy \| .* \| max drop 0\.01 pp \| ⚠️ \|/);
    assert.match(r.summary, /- ⚠️ `accuracy: 0\.01pp`: .*within noise/);
    assert.equal(report.baseline?.source, 'folder');
  });

  it('a fork PR with comment: auto is not commented and says why', async () => {
    const before = gh.requests.length;
    const r = await run({ model: good, dataset, baseline: 'none', thresholds: 'accuracy >= 0.9' }, { pr: 13, fork: true });
    assert.equal(r.failed, false, r.log);
    assert.match(r.log, /No PR comment: pull request #13 comes from a fork \(mallory\/shop\)/);
    assert.equal(gh.requests.length, before);
    assert.equal(gh.comments(REPO, 13).length, 0);
    assert.match(r.summary, /\(no baseline, baseline: none — gated on thresholds only\)/);
  });

  it('a push event writes only the job summary', async () => {
    const r = await run({ model: good, dataset, baseline: 'none', thresholds: 'accuracy >= 0.9' }, { name: 'push' });
    assert.equal(r.failed, false, r.log);
    assert.match(r.log, /No PR comment: this run is for a push event, not for a pull request/);
    assert.match(r.summary, /### ✅ fashion/);
  });

  it('a model trained on another data set is refused, naming both digests', async () => {
    const r = await run({ model: otherData, dataset, baseline: 'none', comment: 'false' });
    assert.equal(r.failed, true);
    const { digest } = JSON.parse(await readFile(path.join(dataset, 'manifest.json'), 'utf8')) as { digest: string };
    assert.match(r.log, new RegExp(`trained on data set sha256:9{64}, but input 'dataset' is ${digest}`));
  });

  it('an unknown metric in thresholds lists the known ones', async () => {
    const r = await run({ model: good, dataset, baseline: 'none', thresholds: 'acc >= 0.9', comment: 'false' });
    assert.equal(r.failed, true);
    assert.match(r.log, /thresholds line 1: 'acc >= 0\.9' names an unknown metric 'acc'\.(\n|%0A)\s+Use one of: accuracy, precision_macro/);
  });
});
