/**
 * A plain, typed view of the GitHub Actions context, built from an environment record (so tests
 * pass their own) and the event payload file it names. Nothing here reads process.env directly.
 */
import { readFile } from 'node:fs/promises';
import { ModelshipError } from '../util/index.ts';

export interface RepoName {
  readonly owner: string;
  readonly repo: string;
}

export interface GithubContext {
  /** The repository the workflow runs in (GITHUB_REPOSITORY). */
  readonly repository?: RepoName;
  readonly eventName?: string;
  /** The event payload (GITHUB_EVENT_PATH), {} when there is none. */
  readonly event: Readonly<Record<string, unknown>>;
  /** The pull request this run is for (pull_request and pull_request_target events). */
  readonly pullRequest?: {
    readonly number: number;
    readonly title?: string;
    /** owner/repo of the head (the fork for fork PRs); undefined when the fork was deleted. */
    readonly headRepo?: string;
    readonly baseRepo?: string;
    readonly headRef?: string;
    readonly headSha?: string;
  };
  /** True for a pull request whose head lives in another repository (a fork): its token is read-only. */
  readonly isFork: boolean;
  readonly sha?: string;
  readonly ref?: string;
  readonly runId?: string;
  readonly runNumber?: string;
  readonly runAttempt?: string;
  /** Link to this run's page, when the variables for it are set. */
  readonly runUrl?: string;
  readonly serverUrl: string;
  readonly apiUrl: string;
  readonly workflow?: string;
  /** The workflow file name (`pr.yml`), from GITHUB_WORKFLOW_REF, else undefined. */
  readonly workflowFile?: string;
  readonly actor?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The one way a workflow run's page is addressed: `<server>/<owner>/<repo>/actions/runs/<id>`. */
export function runUrl(serverUrl: string, repository: string, runId: string): string {
  return `${serverUrl.replace(/\/+$/, '')}/${repository}/actions/runs/${runId}`;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Reads GITHUB_EVENT_PATH (when set) and builds the context. */
export async function readGithubContext(env: Env): Promise<GithubContext> {
  const file = str(env['GITHUB_EVENT_PATH']);
  let event: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ModelshipError(`cannot read the event payload GITHUB_EVENT_PATH=${file} (${(err as Error).message}).`);
    }
    try {
      event = obj(JSON.parse(text)) ?? {};
    } catch (err) {
      throw new ModelshipError(`the event payload ${file} is not JSON (${(err as Error).message}).`);
    }
  }
  return githubContextFrom(env, event);
}

/** Builds the context from an environment record and an already-read event payload. Pure. */
export function githubContextFrom(env: Env, event: Readonly<Record<string, unknown>>): GithubContext {
  const full = str(env['GITHUB_REPOSITORY']);
  const slash = full ? full.indexOf('/') : -1;
  const repository = full && slash > 0 ? { owner: full.slice(0, slash), repo: full.slice(slash + 1) } : undefined;
  const serverUrl = (str(env['GITHUB_SERVER_URL']) ?? 'https://github.com').replace(/\/+$/, '');
  const apiUrl = (str(env['GITHUB_API_URL']) ?? 'https://api.github.com').replace(/\/+$/, '');
  const runId = str(env['GITHUB_RUN_ID']);
  const eventName = str(env['GITHUB_EVENT_NAME']);
  const pr = obj(event['pull_request']);
  let pullRequest: GithubContext['pullRequest'];
  if (pr && typeof pr['number'] === 'number') {
    const head = obj(pr['head']);
    const base = obj(pr['base']);
    pullRequest = {
      number: pr['number'],
      ...(str(pr['title']) ? { title: str(pr['title']) } : {}),
      ...(str(obj(head?.['repo'])?.['full_name']) ? { headRepo: str(obj(head?.['repo'])?.['full_name']) } : {}),
      ...(str(obj(base?.['repo'])?.['full_name']) ? { baseRepo: str(obj(base?.['repo'])?.['full_name']) } : {}),
      ...(str(head?.['ref']) ? { headRef: str(head?.['ref']) } : {}),
      ...(str(head?.['sha']) ? { headSha: str(head?.['sha']) } : {}),
    };
  }
  const baseRepo = pullRequest?.baseRepo ?? full;
  const isFork =
    pullRequest !== undefined && (pullRequest.headRepo === undefined || pullRequest.headRepo.toLowerCase() !== baseRepo?.toLowerCase());
  const workflowRef = str(env['GITHUB_WORKFLOW_REF']);
  const workflowFile = workflowRef ? /\/([^/@]+)@/.exec(workflowRef)?.[1] : undefined;
  return {
    ...(repository ? { repository } : {}),
    ...(eventName ? { eventName } : {}),
    event,
    ...(pullRequest ? { pullRequest } : {}),
    isFork,
    ...(str(env['GITHUB_SHA']) ? { sha: str(env['GITHUB_SHA']) } : {}),
    ...(str(env['GITHUB_REF']) ? { ref: str(env['GITHUB_REF']) } : {}),
    ...(runId ? { runId } : {}),
    ...(str(env['GITHUB_RUN_NUMBER']) ? { runNumber: str(env['GITHUB_RUN_NUMBER']) } : {}),
    ...(str(env['GITHUB_RUN_ATTEMPT']) ? { runAttempt: str(env['GITHUB_RUN_ATTEMPT']) } : {}),
    ...(runId && full ? { runUrl: runUrl(serverUrl, full, runId) } : {}),
    serverUrl,
    apiUrl,
    ...(str(env['GITHUB_WORKFLOW']) ? { workflow: str(env['GITHUB_WORKFLOW']) } : {}),
    ...(workflowFile ? { workflowFile } : {}),
    ...(str(env['GITHUB_ACTOR']) ? { actor: str(env['GITHUB_ACTOR']) } : {}),
  };
}

/**
 * The pull request a `workflow_run` event is about, from the event payload only (never from an
 * artifact the triggering run wrote). Same-repository PRs are listed in `workflow_run.pull_requests`;
 * for fork PRs that list is empty, so the caller matches open PRs by the head SHA and head repository
 * the event carries (see comments.ts `findPullForWorkflowRun`).
 */
export function workflowRunHead(event: Readonly<Record<string, unknown>>):
  | {
      readonly prNumbers: readonly number[];
      readonly headSha?: string;
      readonly headRepo?: string;
      readonly headBranch?: string;
      readonly event?: string;
      /** The triggering workflow's file, e.g. `.github/workflows/pr-gate.yml`. */
      readonly workflowPath?: string;
    }
  | undefined {
  const run = obj(event['workflow_run']);
  if (!run) return undefined;
  const prs = Array.isArray(run['pull_requests']) ? run['pull_requests'] : [];
  const prNumbers = prs.map((p) => obj(p)?.['number']).filter((n): n is number => typeof n === 'number');
  const headSha = str(run['head_sha']);
  const headRepo = str(obj(run['head_repository'])?.['full_name']);
  const headBranch = str(run['head_branch']);
  const ev = str(run['event']);
  const workflowPath = str(run['path']);
  return {
    prNumbers,
    ...(headSha ? { headSha } : {}),
    ...(headRepo ? { headRepo } : {}),
    ...(headBranch ? { headBranch } : {}),
    ...(ev ? { event: ev } : {}),
    ...(workflowPath ? { workflowPath } : {}),
  };
}

/** The run as reports record it (links, event, commit, PR). */
export interface RunInfo {
  readonly url?: string;
  readonly number?: string;
  readonly workflow?: string;
  readonly workflowFile?: string;
  readonly event?: string;
  readonly sha?: string;
  readonly ref?: string;
  readonly repository?: string;
  readonly pr?: number;
}

/** The run a report records, from the context: for pull requests the PR's head, else the pushed commit. Pure. */
export function runInfo(c: GithubContext): RunInfo {
  return {
    ...(c.runUrl ? { url: c.runUrl } : {}),
    ...(c.runNumber ? { number: c.runNumber } : {}),
    ...(c.workflow ? { workflow: c.workflow } : {}),
    ...(c.workflowFile ? { workflowFile: c.workflowFile } : {}),
    ...(c.eventName ? { event: c.eventName } : {}),
    ...(c.pullRequest?.headSha ? { sha: c.pullRequest.headSha } : c.sha ? { sha: c.sha } : {}),
    ...(c.pullRequest?.headRef ? { ref: c.pullRequest.headRef } : c.ref ? { ref: c.ref } : {}),
    ...(c.repository ? { repository: `${c.repository.owner}/${c.repository.repo}` } : {}),
    ...(c.pullRequest ? { pr: c.pullRequest.number } : {}),
  };
}
