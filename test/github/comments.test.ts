import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { githubClient } from '../../shared/github/client.ts';
import { commentMarker, findPullForWorkflowRun, publishComment, upsertComment } from '../../shared/github/comments.ts';
import { githubContextFrom, workflowRunHead, type GithubContext } from '../../shared/github/context.ts';
import { dispatchWorkflow } from '../../shared/github/dispatch.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { GitHubStandin } from '../github-standin/server.ts';

const REPO = 'acme/shop';
const repo = { owner: 'acme', repo: 'shop' };

describe('GitHub comments against the stand-in', () => {
  const gh = new GitHubStandin();
  let n = 0;
  let issue = 0;
  before(async () => {
    await gh.start();
  });
  after(async () => {
    await gh.stop();
  });
  beforeEach(() => {
    issue = ++n;
    gh.addIssue(REPO, issue);
    gh.requests.length = 0;
  });

  function ctx(over: Partial<GithubContext> = {}, pr: Record<string, unknown> = {}): GithubContext {
    const base = githubContextFrom(
      {
        GITHUB_REPOSITORY: REPO,
        GITHUB_EVENT_NAME: 'pull_request',
        GITHUB_API_URL: gh.url,
        GITHUB_WORKFLOW_REF: `${REPO}/.github/workflows/pr.yml@refs/pull/${issue}/merge`,
      },
      { pull_request: { number: issue, head: { repo: { full_name: REPO } }, base: { repo: { full_name: REPO } }, ...pr } },
    );
    return { ...base, ...over };
  }

  it('upserts exactly one comment across repeated runs, updating it in place', async () => {
    const client = githubClient('ghs_write', gh.url);
    const marker = commentMarker('fashion', 'pr.yml');
    const first = await upsertComment(client, { ...repo, issueNumber: issue }, marker, 'run 1');
    const again = await upsertComment(client, { ...repo, issueNumber: issue }, marker, 'run 1');
    const second = await upsertComment(client, { ...repo, issueNumber: issue }, marker, 'run 2');
    assert.deepEqual([first.action, again.action, second.action], ['created', 'unchanged', 'updated']);
    assert.equal(first.id, second.id);
    const comments = gh.comments(REPO, issue);
    assert.equal(comments.length, 1);
    assert.equal(comments[0].body, `${marker}\nrun 2`);
    assert.match(second.url, new RegExp(`/acme/shop/pull/${issue}#issuecomment-${first.id}$`));
    const calls = gh.requests.map((r) => `${r.method} ${r.path} ${r.status}`);
    assert.deepEqual(calls, [
      `GET /repos/acme/shop/issues/${issue}/comments 200`,
      `POST /repos/acme/shop/issues/${issue}/comments 201`,
      `GET /repos/acme/shop/issues/${issue}/comments 200`,
      `GET /repos/acme/shop/issues/${issue}/comments 200`,
      `PATCH /repos/acme/shop/issues/comments/${first.id} 200`,
    ]);
    for (const r of gh.requests) {
      assert.match(String(r.headers['authorization']), /^token ghs_write$/);
      assert.match(String(r.headers['accept']), /application\/vnd\.github/);
    }
    assert.equal(gh.requests[0].query['per_page'], '100');
  });

  it('two models (or workflows) keep two comments', async () => {
    const client = githubClient('ghs_write', gh.url);
    await upsertComment(client, { ...repo, issueNumber: issue }, commentMarker('fashion', 'pr.yml'), 'a');
    await upsertComment(client, { ...repo, issueNumber: issue }, commentMarker('digits', 'pr.yml'), 'b');
    await upsertComment(client, { ...repo, issueNumber: issue }, commentMarker('fashion', 'nightly.yml'), 'c');
    await upsertComment(client, { ...repo, issueNumber: issue }, commentMarker('fashion', 'pr.yml'), 'a2');
    assert.deepEqual(
      gh.comments(REPO, issue).map((c) => c.body.split('\n')[1]),
      ['a2', 'b', 'c'],
    );
  });

  it('finds the marker on page 2 (follows the Link header) and does not post a second comment', async () => {
    const marker = commentMarker('fashion', 'pr.yml');
    for (let i = 0; i < 130; i++) gh.addComment(REPO, issue, `chatter ${i}`);
    // A person quoting the marker in the middle of a comment is not ours.
    gh.addComment(REPO, issue, `look at this: ${marker}`);
    const ours = gh.addComment(REPO, issue, `${marker}\nold`, { login: 'github-actions[bot]', type: 'Bot' });
    const client = githubClient('ghs_write', gh.url);
    const r = await upsertComment(client, { ...repo, issueNumber: issue }, marker, 'new');
    assert.equal(r.action, 'updated');
    assert.equal(r.id, ours.id);
    assert.equal(gh.comments(REPO, issue).length, 132);
    const pages = gh.requests.filter((q) => q.method === 'GET').map((q) => q.query['page'] ?? '1');
    assert.deepEqual(pages, ['1', '2']);
  });

  it('marker keys cannot break out of the HTML comment', () => {
    assert.equal(commentMarker('a -->b<!--', 'x y.yml'), '<!-- modelship:evaluate-gate:a_-_b__-:x_y.yml -->');
  });

  it('auto on a fork PR: says so in the log, makes no API call, does not fail', async () => {
    const log = memoryLogger();
    const out = await publishComment({
      mode: 'auto',
      token: 'ghs_read',
      context: ctx({}, { head: { repo: { full_name: 'mallory/shop' } } }),
      name: 'fashion',
      markdown: 'x',
      log,
    });
    assert.equal(out.failure, undefined);
    assert.equal(out.url, undefined);
    assert.match(log.lines.join('\n'), /comes from a fork \(mallory\/shop\).*read-only.*workflow_run/);
    assert.equal(gh.requests.length, 0);
  });

  it('auto on a fork PR under pull_request_target (a writing token) comments', async () => {
    const out = await publishComment({
      mode: 'auto',
      token: 'ghs_write',
      context: ctx({ eventName: 'pull_request_target' }, { head: { repo: { full_name: 'mallory/shop' } } }),
      name: 'fashion',
      markdown: 'x',
      log: memoryLogger(),
    });
    assert.equal(out.action, 'created');
    assert.equal(gh.comments(REPO, issue).length, 1);
  });

  it('auto with a read-only token (403): logs, does not fail, posts nothing', async () => {
    const log = memoryLogger();
    const out = await publishComment({ mode: 'auto', token: 'ghs_read', context: ctx(), name: 'fashion', markdown: 'x', log });
    assert.equal(out.failure, undefined);
    assert.match(log.lines.join('\n'), /Resource not accessible by integration.*pull-requests: write/);
    assert.deepEqual(
      gh.requests.map((r) => r.status),
      [200, 403],
    );
    assert.equal(gh.comments(REPO, issue).length, 0);
  });

  it('true with a read-only token: a failure for the step', async () => {
    const out = await publishComment({
      mode: 'true',
      token: 'ghs_read',
      context: ctx(),
      name: 'fashion',
      markdown: 'x',
      log: memoryLogger(),
    });
    assert.match(out.failure ?? '', /comment: true, but the token cannot write to pull request/);
  });

  it('true on a fork still tries (a PAT may write), auto on a push event only logs', async () => {
    const tried = await publishComment({
      mode: 'true',
      token: 'ghs_write',
      context: ctx({}, { head: { repo: { full_name: 'mallory/shop' } } }),
      name: 'fashion',
      markdown: 'x',
      log: memoryLogger(),
    });
    assert.equal(tried.action, 'created');
    const log = memoryLogger();
    const push = await publishComment({
      mode: 'auto',
      token: 'ghs_write',
      context: githubContextFrom({ GITHUB_REPOSITORY: REPO, GITHUB_EVENT_NAME: 'push' }, {}),
      name: 'fashion',
      markdown: 'x',
      log,
    });
    assert.equal(push.failure, undefined);
    assert.match(log.lines.join('\n'), /this run is for a push event, not for a pull request/);
    const pushTrue = await publishComment({
      mode: 'true',
      token: 'ghs_write',
      context: githubContextFrom({ GITHUB_REPOSITORY: REPO, GITHUB_EVENT_NAME: 'push' }, {}),
      name: 'fashion',
      markdown: 'x',
      log,
    });
    assert.match(pushTrue.failure ?? '', /not for a pull request/);
  });

  it('an unknown issue is a 404 the step reports', async () => {
    const log = memoryLogger();
    const out = await publishComment({
      mode: 'auto',
      token: 'ghs_write',
      context: ctx({ pullRequest: { number: 9999 } }),
      name: 'f',
      markdown: 'x',
      log,
    });
    assert.match(out.skipped ?? '', /404/);
    assert.equal(out.failure, undefined);
  });

  it('the stand-in refuses what GitHub refuses', async () => {
    const url = `${gh.url}/repos/acme/shop/issues/${issue}/comments`;
    const h = { 'user-agent': 't', accept: 'application/vnd.github+json', 'content-type': 'application/json' };
    const post = (headers: Record<string, string>, body: string): Promise<Response> => fetch(url, { method: 'POST', headers, body });
    assert.equal((await post(h, '{"body":"x"}')).status, 401);
    assert.equal((await post({ ...h, authorization: 'token nope' }, '{"body":"x"}')).status, 401);
    assert.equal((await post({ ...h, authorization: 'Bearer ghs_write' }, '{"body":1}')).status, 422);
    assert.equal((await post({ ...h, authorization: 'Bearer ghs_write' }, '{}')).status, 422);
    assert.equal((await post({ ...h, authorization: 'Bearer ghs_write' }, '{oops')).status, 400);
    assert.equal((await post({ ...h, accept: 'text/html', authorization: 'Bearer ghs_write' }, '{"body":"x"}')).status, 415);
    assert.equal((await post({ ...h, authorization: 'Bearer ghs_write' }, '{"body":"x"}')).status, 201);
    const missing = await fetch(`${gh.url}/repos/acme/shop/issues/424242/comments`, {
      headers: { ...h, authorization: 'token ghs_write' },
    });
    assert.equal(missing.status, 404);
  });
});

describe('workflow_run: the PR comes from the event', () => {
  const gh = new GitHubStandin();
  before(async () => {
    await gh.start();
    gh.addPull(REPO, {
      number: 7,
      state: 'open',
      title: 't',
      head: { sha: 'a'.repeat(40), ref: 'main', repo: { full_name: 'mallory/shop' } },
      base: { ref: 'main', repo: { full_name: REPO } },
    });
    gh.addPull(REPO, {
      number: 8,
      state: 'open',
      title: 't',
      head: { sha: 'b'.repeat(40), ref: 'main', repo: { full_name: 'eve/shop' } },
      base: { ref: 'main', repo: { full_name: REPO } },
    });
  });
  after(async () => {
    await gh.stop();
  });
  it('same-repository PRs are listed in the event', async () => {
    const head = workflowRunHead({ workflow_run: { pull_requests: [{ number: 5 }], head_sha: 'c'.repeat(40) } })!;
    assert.equal(await findPullForWorkflowRun(githubClient('ghs_read', gh.url), repo, head), 5);
    assert.equal(gh.requests.length, 0);
  });
  it('fork PRs are matched by head SHA and head repository', async () => {
    const client = githubClient('ghs_read', gh.url);
    const ev = (sha: string, full: string): Record<string, unknown> => ({
      workflow_run: { pull_requests: [], head_sha: sha, head_repository: { full_name: full } },
    });
    assert.equal(await findPullForWorkflowRun(client, repo, workflowRunHead(ev('b'.repeat(40), 'eve/shop'))!), 8);
    assert.equal(await findPullForWorkflowRun(client, repo, workflowRunHead(ev('b'.repeat(40), 'mallory/shop'))!), undefined);
    assert.equal(await findPullForWorkflowRun(client, repo, workflowRunHead(ev('f'.repeat(40), 'eve/shop'))!), undefined);
  });
});

describe('workflow_dispatch against the stand-in', () => {
  const gh = new GitHubStandin();
  before(async () => {
    await gh.start();
    gh.addWorkflow(REPO, 'retrain.yml');
  });
  after(async () => {
    await gh.stop();
  });
  it('dispatches with ref and string inputs (204)', async () => {
    await dispatchWorkflow({
      repository: repo,
      workflow: 'retrain.yml',
      ref: 'main',
      inputs: { reason: 'psi 0.31 > 0.2' },
      token: 'ghs_write',
      apiUrl: gh.url,
    });
    assert.deepEqual(gh.dispatches(REPO), [{ workflow: 'retrain.yml', ref: 'main', inputs: { reason: 'psi 0.31 > 0.2' } }]);
    const req = gh.requests.at(-1)!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/repos/acme/shop/actions/workflows/retrain.yml/dispatches');
    assert.equal(req.status, 204);
  });
  it('explains a read-only token, an unknown workflow and a missing ref', async () => {
    await assert.rejects(
      dispatchWorkflow({ repository: repo, workflow: 'retrain.yml', ref: 'main', token: 'ghs_read', apiUrl: gh.url }),
      (e: unknown) => e instanceof ConfigurationError && /actions: write/.test(e.hint ?? ''),
    );
    await assert.rejects(
      dispatchWorkflow({ repository: repo, workflow: 'nope.yml', ref: 'main', token: 'ghs_write', apiUrl: gh.url }),
      /nope\.yml was not found/,
    );
    await assert.rejects(
      dispatchWorkflow({ repository: repo, workflow: 'retrain.yml', ref: ' ', token: 'ghs_write', apiUrl: gh.url }),
      /needs a ref/,
    );
    const raw = await fetch(`${gh.url}/repos/acme/shop/actions/workflows/retrain.yml/dispatches`, {
      method: 'POST',
      headers: { 'user-agent': 't', accept: 'application/vnd.github+json', authorization: 'token ghs_write' },
      body: '{"inputs":{}}',
    });
    assert.equal(raw.status, 422);
  });
});

describe('githubContextFrom', () => {
  it('reads a PR event, its fork status and the run URL', () => {
    const c = githubContextFrom(
      {
        GITHUB_REPOSITORY: 'acme/shop',
        GITHUB_EVENT_NAME: 'pull_request',
        GITHUB_RUN_ID: '42',
        GITHUB_RUN_NUMBER: '7',
        GITHUB_SHA: 'abc',
        GITHUB_WORKFLOW: 'PR gate',
        GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/pr-gate.yml@refs/pull/3/merge',
      },
      {
        pull_request: {
          number: 3,
          title: 'x',
          head: { ref: 'feat', sha: 'def', repo: { full_name: 'Acme/Shop' } },
          base: { repo: { full_name: 'acme/shop' } },
        },
      },
    );
    assert.equal(c.pullRequest?.number, 3);
    assert.equal(c.isFork, false);
    assert.equal(c.runUrl, 'https://github.com/acme/shop/actions/runs/42');
    assert.equal(c.apiUrl, 'https://api.github.com');
    assert.equal(c.workflowFile, 'pr-gate.yml');
    assert.deepEqual(c.repository, { owner: 'acme', repo: 'shop' });
  });
  it('a deleted fork counts as a fork; a push is not a PR', () => {
    assert.equal(
      githubContextFrom(
        { GITHUB_REPOSITORY: 'a/b' },
        { pull_request: { number: 1, head: { repo: null }, base: { repo: { full_name: 'a/b' } } } },
      ).isFork,
      true,
    );
    const push = githubContextFrom({ GITHUB_REPOSITORY: 'a/b', GITHUB_EVENT_NAME: 'push' }, {});
    assert.equal(push.pullRequest, undefined);
    assert.equal(push.isFork, false);
  });
});
