/**
 * workflow_dispatch: start a workflow (monitor-check uses it to trigger retraining on a breach).
 */
import { ConfigurationError, errorMessage, ModelshipError } from '../util/index.ts';
import { githubClient, httpStatus, isReadOnlyTokenError, type GithubClient } from './client.ts';
import type { RepoName } from './context.ts';

export interface DispatchOptions {
  readonly repository: RepoName;
  /** The workflow file name (`retrain.yml`) or its numeric id. */
  readonly workflow: string;
  /** The branch or tag to run it on. */
  readonly ref: string;
  /** workflow_dispatch inputs; GitHub takes strings only. */
  readonly inputs?: Readonly<Record<string, string>>;
  readonly token: string;
  readonly apiUrl: string;
  readonly client?: GithubClient;
}

/** POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches; resolves when GitHub accepted it (204). */
export async function dispatchWorkflow(opts: DispatchOptions): Promise<void> {
  if (opts.ref.trim() === '')
    throw new ConfigurationError('workflow_dispatch needs a ref.', 'Give the branch or tag to run the workflow on.');
  const client = opts.client ?? githubClient(opts.token, opts.apiUrl);
  const where = `${opts.repository.owner}/${opts.repository.repo} workflow ${opts.workflow}`;
  try {
    await client.rest.actions.createWorkflowDispatch({
      owner: opts.repository.owner,
      repo: opts.repository.repo,
      workflow_id: opts.workflow,
      ref: opts.ref,
      ...(opts.inputs ? { inputs: { ...opts.inputs } } : {}),
    });
  } catch (err) {
    if (isReadOnlyTokenError(err)) {
      throw new ConfigurationError(`the token may not start ${where}.`, "Give the job 'permissions: actions: write'.", { cause: err });
    }
    if (httpStatus(err) === 404) {
      throw new ConfigurationError(
        `${where} was not found.`,
        'Check the workflow file name and that it has an on: workflow_dispatch trigger on that ref.',
        { cause: err },
      );
    }
    throw new ModelshipError(`workflow_dispatch of ${where} failed: ${errorMessage(err).split('\n')[0]}`, undefined, { cause: err });
  }
}
