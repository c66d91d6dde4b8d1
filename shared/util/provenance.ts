/** Where a run comes from, recorded with models and versions (built by the github domain, see github/provenance.ts). */
export interface Provenance {
  readonly commit?: string;
  /** True when tracked files differed from the commit (known only where a checkout is). */
  readonly dirty?: boolean;
  readonly ref?: string;
  /** owner/repo. */
  readonly repository?: string;
  /** The GitHub server, for links to the repository. */
  readonly serverUrl: string;
  /** The workflow run's page. */
  readonly runUrl?: string;
  readonly runId?: string;
  readonly runAttempt?: string;
  readonly workflow?: string;
}
