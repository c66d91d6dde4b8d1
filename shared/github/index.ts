/** The github domain's public surface: other domains import it only through this file. */
export { publishComment, type CommentMode, type CommentOutcome } from './comments.ts';
export { readGithubContext, type GithubContext } from './context.ts';
export { postReportComment } from './report-comment.ts';
