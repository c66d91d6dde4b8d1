/**
 * monitor-check's retrainer: what a breach publishes, through GitHub. Unless a run of the
 * retraining workflow is queued or in progress, or one started within the cool-down (asked of the
 * Actions API, so it holds across runners and re-runs; the decision is monitor's pure
 * decideDispatch), it sends workflow_dispatch with the inputs that say why.
 */
import { dispatchWorkflow, listWorkflowRuns, type GithubClient, type RepoName } from '../github/index.ts';
import { ACTIVE_STATUSES, decideDispatch, type RetrainRun, type Retrainer } from '../monitor/index.ts';

export function githubRetrainer(client: GithubClient, repository: RepoName): Retrainer {
  return async ({ workflow, ref, inputs, cooldownSeconds, now }) => {
    const since = new Date(now.getTime() - cooldownSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const lists = await Promise.all([
      ...ACTIVE_STATUSES.map((status) => listWorkflowRuns({ client, repository, workflow, status })),
      listWorkflowRuns({ client, repository, workflow, created: `>=${since}`, maxPages: 1 }),
    ]);
    const runs = new Map<number, RetrainRun>();
    for (const l of lists) {
      for (const r of l.runs)
        runs.set(r.id, { id: r.id, runNumber: r.runNumber, status: r.status, event: r.event, createdAt: r.createdAt, url: r.url });
    }
    const decision = decideDispatch([...runs.values()], now, cooldownSeconds);
    if (!decision.dispatch) return { state: 'skipped', workflow, reason: decision.reason, ...(decision.run ? { run: decision.run } : {}) };
    await dispatchWorkflow({ repository, workflow, ref, inputs, token: '', apiUrl: '', client });
    return { state: 'dispatched', workflow, ref, inputs };
  };
}
