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
    if (httpStatus(err) === 422) throw unprocessable(err, where, opts);
    throw new ModelshipError(`workflow_dispatch of ${where} failed: ${errorMessage(err).split('\n')[0]}`, undefined, { cause: err });
  }
}

/** GitHub's 422 answers to a dispatch, each as what to change. */
function unprocessable(err: unknown, where: string, opts: DispatchOptions): ConfigurationError {
  const message = errorMessage(err);
  const file = opts.workflow;
  if (/does not have 'workflow_dispatch' trigger/i.test(message)) {
    return new ConfigurationError(
      `${where} has no workflow_dispatch trigger on ${opts.ref}.`,
      `Add 'on: workflow_dispatch:' to ${file} on ${opts.ref}.`,
      { cause: err },
    );
  }
  const unexpected = /Unexpected inputs provided: (\[.*\])/i.exec(message);
  if (unexpected) {
    let names: string[] = [];
    try {
      names = (JSON.parse(unexpected[1]) as unknown[]).map(String);
    } catch {
      names = [unexpected[1]];
    }
    return new ConfigurationError(
      `${where} does not declare the input${names.length > 1 ? 's' : ''} ${names.join(', ')}.`,
      `Declare them under on.workflow_dispatch.inputs in ${file} (type: string), or drop them from the dispatch (monitor-check: set them to null in retrain-inputs).`,
      { cause: err },
    );
  }
  const required = /Required input '([^']+)' not provided/i.exec(message);
  if (required) {
    return new ConfigurationError(
      `${where} requires the input '${required[1]}'.`,
      `Give it in the dispatch inputs (monitor-check: retrain-inputs), or make it optional in ${file}.`,
      {
        cause: err,
      },
    );
  }
  if (/No ref found for/i.test(message)) {
    return new ConfigurationError(
      `the ref '${opts.ref}' does not exist in ${where.split(' ')[0]}.`,
      'Give a branch or tag that exists (monitor-check: retrain-ref).',
      { cause: err },
    );
  }
  return new ConfigurationError(
    `GitHub refused the dispatch of ${where}: ${message.split('\n')[0]}`,
    `Check ${file}'s workflow_dispatch inputs and the ref.`,
    { cause: err },
  );
}
