/**
 * The runs of one workflow, through the Actions API (GET /repos/{owner}/{repo}/actions/workflows/
 * {workflow}/runs): monitor-check asks it whether retraining is already queued or running, and
 * when it last started, before it dispatches.
 */
import { ConfigurationError, errorMessage, ModelshipError } from '../util/index.ts';
import { httpStatus, type GithubClient } from './client.ts';
import type { RepoName } from './context.ts';

export interface WorkflowRunInfo {
  readonly id: number;
  readonly runNumber: number;
  readonly status: string;
  readonly conclusion: string | null;
  readonly event: string;
  readonly headBranch: string | null;
  readonly createdAt: string;
  readonly url: string;
}

export interface ListRunsOptions {
  readonly client: GithubClient;
  readonly repository: RepoName;
  /** The workflow file name (`retrain.yml`) or its numeric id. */
  readonly workflow: string;
  /** A status or conclusion: queued, in_progress, completed, success, … */
  readonly status?: string;
  /** GitHub's date filter, e.g. `>=2026-01-01T00:00:00Z`. */
  readonly created?: string;
  readonly event?: string;
  readonly branch?: string;
  /** Stop after this many pages of 100 (default 3). */
  readonly maxPages?: number;
}

/** Lists runs, newest first, following pagination up to `maxPages`. */
export async function listWorkflowRuns(
  opts: ListRunsOptions,
): Promise<{ readonly total: number; readonly runs: readonly WorkflowRunInfo[] }> {
  const where = `${opts.repository.owner}/${opts.repository.repo} workflow ${opts.workflow}`;
  const runs: WorkflowRunInfo[] = [];
  let total = 0;
  const maxPages = opts.maxPages ?? 3;
  try {
    for (let page = 1; page <= maxPages; page++) {
      const res = await opts.client.rest.actions.listWorkflowRuns({
        owner: opts.repository.owner,
        repo: opts.repository.repo,
        workflow_id: opts.workflow,
        per_page: 100,
        page,
        exclude_pull_requests: true,
        ...(opts.status ? { status: opts.status as 'queued' } : {}),
        ...(opts.created ? { created: opts.created } : {}),
        ...(opts.event ? { event: opts.event } : {}),
        ...(opts.branch ? { branch: opts.branch } : {}),
      });
      total = res.data.total_count;
      for (const r of res.data.workflow_runs) {
        runs.push({
          id: r.id,
          runNumber: r.run_number,
          status: r.status ?? 'unknown',
          conclusion: r.conclusion ?? null,
          event: r.event,
          headBranch: r.head_branch ?? null,
          createdAt: r.created_at,
          url: r.html_url,
        });
      }
      if (res.data.workflow_runs.length < 100 || runs.length >= total) break;
    }
  } catch (err) {
    const status = httpStatus(err);
    if (status === 404) {
      throw new ConfigurationError(
        `${where} was not found.`,
        'Check the retrain-workflow file name (e.g. retrain.yml, in .github/workflows/ of this repository).',
        {
          cause: err,
        },
      );
    }
    if (status === 403) {
      throw new ConfigurationError(
        `the token may not list the runs of ${where}.`,
        "Give the job 'permissions: actions: write' (it includes reading runs).",
        { cause: err },
      );
    }
    throw new ModelshipError(`listing the runs of ${where} failed: ${errorMessage(err).split('\n')[0]}`, undefined, { cause: err });
  }
  return { total, runs };
}
