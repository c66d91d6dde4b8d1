/**
 * The one GitHub API client of modelship: @actions/github's Octokit, pointed at GITHUB_API_URL
 * (GitHub Enterprise Server, or the local stand-in in tests).
 */
import { getOctokit } from '@actions/github';

export type GithubClient = ReturnType<typeof getOctokit>;

export function githubClient(token: string, apiUrl: string): GithubClient {
  return getOctokit(token, { baseUrl: apiUrl.replace(/\/+$/, ''), request: { retries: 0 } });
}

/** The HTTP status of an Octokit RequestError (or anything with a numeric `status`), else undefined. */
export function httpStatus(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === 'number' ? s : undefined;
}

/** True for the 403 GitHub answers when the token may not write (fork PRs, read-only permissions). */
export function isReadOnlyTokenError(err: unknown): boolean {
  return (
    httpStatus(err) === 403 &&
    /Resource not accessible by integration|must have (push|write|admin) access/i.test(String((err as Error).message))
  );
}
