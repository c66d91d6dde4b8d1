/**
 * One PR comment per model and workflow, found by a hidden marker and updated in place on every
 * push: never a second one.
 *
 * Fork pull requests run with a read-only token. That is detected (head repository ≠ base
 * repository, or GitHub's 403 "Resource not accessible by integration") and said in the log; it
 * fails the step only when the user asked for `comment: true`. The safe way to comment on fork PRs
 * is the two-phase pattern (examples/workflows/pr-comment.yml): the gate uploads its report, a
 * `workflow_run` workflow posts it with `modelship comment` (cli/comment.ts).
 */
import { errorMessage, type Logger, ModelshipError } from '../util/index.ts';
import { githubClient, httpStatus, isReadOnlyTokenError, type GithubClient } from './client.ts';
import type { GithubContext, RepoName } from './context.ts';

export type CommentMode = 'auto' | 'true' | 'false';

/** GitHub refuses comment bodies longer than this. */
export const MAX_COMMENT_LENGTH = 65536;

/** Keeps marker keys to a safe alphabet, so no text can end the HTML comment or fake another key. */
function markerKey(s: string): string {
  return (
    s
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .replace(/-{2,}/g, '-')
      .slice(0, 100) || '_'
  );
}

/** `<!-- modelship:evaluate-gate:<model name>:<workflow> -->` */
export function commentMarker(name: string, workflow: string, kind = 'evaluate-gate'): string {
  return `<!-- modelship:${markerKey(kind)}:${markerKey(name)}:${markerKey(workflow)} -->`;
}

export interface UpsertResult {
  readonly action: 'created' | 'updated' | 'unchanged';
  readonly id: number;
  readonly url: string;
}

interface IssueComment {
  readonly id: number;
  readonly html_url: string;
  readonly body?: string | null;
  readonly user?: { readonly type?: string } | null;
}

/**
 * Lists every comment of the issue (all pages), updates the one whose body starts with `marker`
 * (preferring one written by a bot, i.e. by a workflow token), or creates it. `body` is the
 * rendered Markdown; the marker is put on its first line.
 */
export async function upsertComment(
  client: GithubClient,
  target: RepoName & { readonly issueNumber: number },
  marker: string,
  body: string,
): Promise<UpsertResult> {
  const full = `${marker}\n${body}`;
  if (full.length > MAX_COMMENT_LENGTH) {
    throw new ModelshipError(`the comment is ${full.length} characters; GitHub accepts at most ${MAX_COMMENT_LENGTH}.`);
  }
  const comments = (await client.paginate(client.rest.issues.listComments, {
    owner: target.owner,
    repo: target.repo,
    issue_number: target.issueNumber,
    per_page: 100,
  })) as IssueComment[];
  const ours = comments.filter((c) => (c.body ?? '').startsWith(marker));
  const existing = ours.find((c) => c.user?.type === 'Bot') ?? ours[0];
  if (existing) {
    if (existing.body === full) return { action: 'unchanged', id: existing.id, url: existing.html_url };
    const { data } = await client.rest.issues.updateComment({
      owner: target.owner,
      repo: target.repo,
      comment_id: existing.id,
      body: full,
    });
    return { action: 'updated', id: data.id, url: data.html_url };
  }
  const { data } = await client.rest.issues.createComment({
    owner: target.owner,
    repo: target.repo,
    issue_number: target.issueNumber,
    body: full,
  });
  return { action: 'created', id: data.id, url: data.html_url };
}

export interface CommentOutcome {
  /** The comment's URL when one was created, updated or already up to date. */
  readonly url?: string;
  readonly action?: UpsertResult['action'];
  /** Why nothing was posted, when nothing was. */
  readonly skipped?: string;
  /** Set when mode is `true` and the comment could not be written: the step should fail with it. */
  readonly failure?: string;
}

export interface PublishOptions {
  readonly mode: CommentMode;
  readonly token: string | undefined;
  readonly context: GithubContext;
  /** Model name and workflow key of the marker. */
  readonly name: string;
  readonly markdown: string;
  readonly log: Logger;
  /** For tests: a ready client. */
  readonly client?: GithubClient;
}

const TWO_PHASE_HINT =
  'To comment on fork pull requests, upload the report as an artifact and post it from a workflow_run workflow (see examples/workflows/pr-comment.yml).';

/** Upserts the gate's PR comment when the mode and the event call for it. Never throws for `auto`. */
export async function publishComment(opts: PublishOptions): Promise<CommentOutcome> {
  const { mode, context, log } = opts;
  const skip = (why: string, hint?: string): CommentOutcome => {
    if (mode === 'true') return { skipped: why, failure: `comment: true, but ${why}.${hint ? ` ${hint}` : ''}` };
    log.info(`No PR comment: ${why}.${hint ? ` ${hint}` : ''}`);
    return { skipped: why };
  };
  if (mode === 'false') return { skipped: 'comment is false' };
  const pr = context.pullRequest;
  if (!pr)
    return skip(
      `${context.eventName ? `this run is for a ${context.eventName} event,` : 'this run is'} not for a pull request (the report is in the job summary)`,
    );
  if (!context.repository) return skip('GITHUB_REPOSITORY is not set');
  if (!opts.token) return skip('no github-token was given');
  // pull_request_target runs with the base repository's token, which can write: try it.
  if (context.isFork && mode === 'auto' && context.eventName !== 'pull_request_target') {
    return skip(
      `pull request #${pr.number} comes from a fork (${pr.headRepo ?? 'a deleted repository'}), whose token is read-only`,
      TWO_PHASE_HINT,
    );
  }
  const workflow = context.workflowFile ?? context.workflow ?? 'workflow';
  const client = opts.client ?? githubClient(opts.token, context.apiUrl);
  try {
    const r = await upsertComment(
      client,
      { ...context.repository, issueNumber: pr.number },
      commentMarker(opts.name, workflow),
      opts.markdown,
    );
    log.info(`PR comment ${r.action}: ${r.url}`);
    return { url: r.url, action: r.action };
  } catch (err) {
    if (isReadOnlyTokenError(err)) {
      return skip(
        `the token cannot write to pull request #${pr.number} (GitHub: Resource not accessible by integration)`,
        `Give the job 'permissions: pull-requests: write'. ${TWO_PHASE_HINT}`,
      );
    }
    const why = `the PR comment could not be written (${httpStatus(err) ?? 'error'}: ${errorMessage(err).split('\n')[0]})`;
    if (mode === 'true') return { skipped: why, failure: why };
    log.warning(`${why}. The report is in the job summary.`);
    return { skipped: why };
  }
}

/** Finds the open pull request a `workflow_run` event is about, from the event's head SHA and repository. */
export async function findPullForWorkflowRun(
  client: GithubClient,
  repo: RepoName,
  head: { readonly prNumbers: readonly number[]; readonly headSha?: string; readonly headRepo?: string },
): Promise<number | undefined> {
  if (head.prNumbers.length > 0) return head.prNumbers[0];
  if (!head.headSha) return undefined;
  const pulls = await client.paginate(client.rest.pulls.list, { owner: repo.owner, repo: repo.repo, state: 'open', per_page: 100 });
  const match = pulls.find(
    (p) => p.head.sha === head.headSha && (!head.headRepo || p.head.repo?.full_name?.toLowerCase() === head.headRepo.toLowerCase()),
  );
  return match?.number;
}
