/**
 * The GitHub services a step is handed by its door: the run's context (read once, on first use)
 * and API clients by token. Tests pass their own (a stand-in's URL, a fixed context).
 */
import { githubClient, type GithubClient } from './client.ts';
import { readGithubContext, type GithubContext } from './context.ts';
import { provenanceOf, readLocalGit, type Provenance } from './provenance.ts';

export interface GithubService {
  /** The Actions context of this run (an empty one outside Actions). */
  context(): Promise<GithubContext>;
  /** An API client authenticated with `token`, at the run's API URL. */
  client(token: string): Promise<GithubClient>;
  /** Where this run comes from (commit, dirty tree, ref, repository, run link). */
  provenance(): Promise<Provenance>;
}

/** The service for an environment (GITHUB_* variables) and a working directory (its git checkout). */
export function githubService(env: Readonly<Record<string, string | undefined>>, cwd: string): GithubService {
  let context: Promise<GithubContext> | undefined;
  let provenance: Promise<Provenance> | undefined;
  const ctx = (): Promise<GithubContext> => (context ??= readGithubContext(env));
  return {
    context: ctx,
    client: (token) => Promise.resolve(githubClient(token, (env['GITHUB_API_URL'] ?? 'https://api.github.com').replace(/\/+$/, ''))),
    provenance: () => (provenance ??= Promise.all([ctx(), readLocalGit(cwd)]).then(([c, local]) => provenanceOf(c, local))),
  };
}
