/** The GitHub client domain: the REST client, the Actions context, workflow dispatch and runs. */
export { githubClient, httpStatus, isReadOnlyTokenError, type GithubClient } from './client.ts';
export { githubContextFrom, readGithubContext, type GithubContext, type RepoName } from './context.ts';
export { dispatchWorkflow, type DispatchOptions } from './dispatch.ts';
export { listWorkflowRuns, type ListRunsOptions, type WorkflowRunInfo } from './runs.ts';
