/**
 * The github domain: the one client of GitHub (the run's context and provenance, PR comments,
 * workflow dispatch and runs, the Actions cache adapter). It publishes what the steps give it; it decides
 * nothing about models.
 */
export { actionsDataCache, cacheServiceAvailable } from './cache.ts';
export { githubClient, httpStatus, isReadOnlyTokenError, type GithubClient } from './client.ts';
export {
  commentMarker,
  findPullForWorkflowRun,
  MAX_COMMENT_LENGTH,
  publishComment,
  upsertComment,
  type CommentMode,
  type CommentOutcome,
  type UpsertResult,
} from './comments.ts';
export {
  githubContextFrom,
  readGithubContext,
  runInfo,
  runUrl,
  workflowRunHead,
  type GithubContext,
  type RepoName,
  type RunInfo,
} from './context.ts';
export { dispatchWorkflow, type DispatchOptions } from './dispatch.ts';
export { provenanceOf, readLocalGit, type LocalGit, type Provenance } from './provenance.ts';
export { listWorkflowRuns, type ListRunsOptions, type WorkflowRunInfo } from './runs.ts';
export { githubService, type GithubService } from './service.ts';
