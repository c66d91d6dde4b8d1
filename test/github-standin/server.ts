/**
 * A local stand-in for the parts of GitHub's REST API modelship uses, on 127.0.0.1 and a free
 * port. It checks requests as GitHub would (paths, methods, the authorization and accept headers,
 * JSON bodies, pagination) and records every request for assertions.
 *
 * Routes:
 *   GET   /repos/{o}/{r}/issues/{n}/comments       per_page (≤ 100, default 30), page, Link header
 *   POST  /repos/{o}/{r}/issues/{n}/comments       {"body": string}  → 201
 *   PATCH /repos/{o}/{r}/issues/comments/{id}      {"body": string}  → 200
 *   GET   /repos/{o}/{r}/pulls                     state, per_page, page
 *   POST  /repos/{o}/{r}/actions/workflows/{file|id}/dispatches  {"ref": string, "inputs"?: {…}} → 204,
 *         and a queued workflow_dispatch run of that workflow
 *   GET   /repos/{o}/{r}/actions/workflows/{file|id}/runs   status (a status or a conclusion), created
 *         (>=, <=, >, <, A..B or a date), event, branch, per_page, page → {total_count, workflow_runs},
 *         newest first, Link header
 * Errors: 401 without or with an unknown token, 403 "Resource not accessible by integration" for a
 * read-only token on writes, 404 for unknown repositories, issues, comments and workflows, 400 for
 * unparsable JSON, 415 for an unsupported accept header, 422 for invalid bodies and, for a dispatch,
 * GitHub's own 422s: a workflow without a workflow_dispatch trigger, inputs it does not declare,
 * a required input missing, a ref that does not exist (when the workflow was added with a spec).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: unknown;
  readonly status: number;
}

export interface StandinComment {
  id: number;
  node_id: string;
  url: string;
  html_url: string;
  body: string;
  user: { login: string; type: 'Bot' | 'User' };
  created_at: string;
  updated_at: string;
}

export interface StandinPull {
  readonly number: number;
  readonly state: 'open' | 'closed';
  readonly title: string;
  readonly head: { readonly sha: string; readonly ref: string; readonly repo: { readonly full_name: string } | null };
  readonly base: { readonly ref: string; readonly repo: { readonly full_name: string } };
}

/** What the stand-in knows of a workflow file; without a spec it accepts any dispatch inputs. */
export interface StandinWorkflowSpec {
  /** Has an `on: workflow_dispatch` trigger (default true). */
  readonly dispatch?: boolean;
  /** Declared workflow_dispatch inputs; others are refused with 422 as GitHub does. */
  readonly inputs?: Readonly<Record<string, { readonly required?: boolean }>>;
  /** Refs that exist (default: any). */
  readonly refs?: readonly string[];
}

export interface StandinRun {
  id: number;
  name: string;
  path: string;
  workflow_id: number;
  run_number: number;
  event: string;
  status: string;
  conclusion: string | null;
  head_branch: string;
  head_sha: string;
  created_at: string;
  updated_at: string;
  html_url: string;
  url: string;
}

interface Workflow {
  id: number;
  file: string;
  spec: StandinWorkflowSpec | undefined;
}

interface Repo {
  issues: Map<number, StandinComment[]>;
  pulls: StandinPull[];
  workflows: Map<string, Workflow>;
  runs: StandinRun[];
  dispatches: { workflow: string; ref: string; inputs: Record<string, string> }[];
}

const RUN_STATUSES = [
  'completed',
  'action_required',
  'cancelled',
  'failure',
  'neutral',
  'skipped',
  'stale',
  'success',
  'timed_out',
  'in_progress',
  'queued',
  'requested',
  'waiting',
  'pending',
];

/** GitHub's date qualifier for runs: `>=D`, `<=D`, `>D`, `<D`, `A..B` or `D`; undefined when unparsable. */
function createdFilter(q: string): ((t: number) => boolean) | undefined {
  const date = (s: string): number | undefined => {
    const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s);
    return /^\d{4}-\d{2}-\d{2}/.test(s) && Number.isFinite(t) ? t : undefined;
  };
  let m: RegExpExecArray | null;
  if ((m = /^(>=|<=|>|<)(.+)$/.exec(q))) {
    const t = date(m[2]);
    if (t === undefined) return undefined;
    const op = m[1];
    return (x) => (op === '>=' ? x >= t : op === '<=' ? x <= t : op === '>' ? x > t : x < t);
  }
  if ((m = /^(.+)\.\.(.+)$/.exec(q))) {
    const a = date(m[1]);
    const b = date(m[2]);
    if (a === undefined || b === undefined) return undefined;
    return (x) => x >= a && x <= b;
  }
  const t = date(q);
  if (t === undefined) return undefined;
  return /^\d{4}-\d{2}-\d{2}$/.test(q) ? (x) => x >= t && x < t + 86_400_000 : (x) => x === t;
}

export type TokenAccess = 'write' | 'read';

export class GitHubStandin {
  readonly requests: RecordedRequest[] = [];
  private server: Server | undefined;
  private readonly repos = new Map<string, Repo>();
  private readonly tokens: Map<string, { access: TokenAccess; login: string }>;
  private nextId = 1000;
  private clock = Date.parse('2026-01-01T00:00:00Z');
  private nextRunId = 5000;
  /** The time runs are created at (dispatches take it); tests move it with the checker's clock. */
  runClock: () => Date = () => new Date();
  url = '';

  constructor(tokens: Readonly<Record<string, TokenAccess>> = { ghs_write: 'write', ghs_read: 'read' }) {
    this.tokens = new Map(Object.entries(tokens).map(([t, access]) => [t, { access, login: 'github-actions[bot]' }]));
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ message: String(err) }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  private repo(owner: string, name: string, create = false): Repo | undefined {
    const key = `${owner}/${name}`.toLowerCase();
    let r = this.repos.get(key);
    if (!r && create) {
      r = { issues: new Map(), pulls: [], workflows: new Map(), runs: [], dispatches: [] };
      this.repos.set(key, r);
    }
    return r;
  }

  /** Creates an issue or pull request (they share numbers and comments). */
  addIssue(fullName: string, issue: number): void {
    const [o, n] = fullName.split('/') as [string, string];
    this.repo(o, n, true)!.issues.set(issue, this.repo(o, n)!.issues.get(issue) ?? []);
  }

  addPull(fullName: string, pull: StandinPull): void {
    this.addIssue(fullName, pull.number);
    const [o, n] = fullName.split('/') as [string, string];
    this.repo(o, n)!.pulls.push(pull);
  }

  /** Adds a workflow file; with a spec, dispatches are checked against it as GitHub would. Returns its id. */
  addWorkflow(fullName: string, file: string, spec?: StandinWorkflowSpec): number {
    const [o, n] = fullName.split('/') as [string, string];
    const repo = this.repo(o, n, true)!;
    const id = 100 + repo.workflows.size;
    repo.workflows.set(file, { id, file, spec });
    return id;
  }

  /** Seeds a run of a workflow (default: a completed workflow_dispatch run created now). */
  addRun(
    fullName: string,
    file: string,
    run: { status?: string; conclusion?: string | null; event?: string; createdAt?: string; branch?: string } = {},
  ): StandinRun {
    const [o, n] = fullName.split('/') as [string, string];
    const repo = this.repo(o, n);
    const wf = repo?.workflows.get(file);
    if (!repo || !wf) throw new Error(`no workflow ${file} in ${fullName} in the stand-in`);
    const status = run.status ?? 'completed';
    return this.makeRun(o, n, repo, wf, {
      status,
      conclusion: run.conclusion !== undefined ? run.conclusion : status === 'completed' ? 'success' : null,
      event: run.event ?? 'workflow_dispatch',
      created: run.createdAt ?? this.runClock().toISOString(),
      branch: run.branch ?? 'main',
    });
  }

  runs(fullName: string): readonly StandinRun[] {
    const [o, n] = fullName.split('/') as [string, string];
    return this.repo(o, n)?.runs ?? [];
  }

  /** Moves a run on (e.g. queued → in_progress → completed). */
  setRunStatus(fullName: string, id: number, status: string, conclusion: string | null = status === 'completed' ? 'success' : null): void {
    const run = this.runs(fullName).find((r) => r.id === id);
    if (!run) throw new Error(`no run ${id} in ${fullName}`);
    run.status = status;
    run.conclusion = conclusion;
    run.updated_at = this.runClock().toISOString();
  }

  private makeRun(
    owner: string,
    name: string,
    repo: Repo,
    wf: Workflow,
    r: { status: string; conclusion: string | null; event: string; created: string; branch: string },
  ): StandinRun {
    const id = this.nextRunId++;
    const created = r.created.replace(/\.\d{3}Z$/, 'Z');
    const run: StandinRun = {
      id,
      name: wf.file.replace(/\.ya?ml$/, ''),
      path: `.github/workflows/${wf.file}`,
      workflow_id: wf.id,
      run_number: repo.runs.filter((x) => x.workflow_id === wf.id).length + 1,
      event: r.event,
      status: r.status,
      conclusion: r.conclusion,
      head_branch: r.branch,
      head_sha: 'a'.repeat(40),
      created_at: created,
      updated_at: created,
      html_url: `https://github.com/${owner}/${name}/actions/runs/${id}`,
      url: `${this.url}/repos/${owner}/${name}/actions/runs/${id}`,
    };
    repo.runs.push(run);
    return run;
  }

  /** Seeds a comment, e.g. from a person or to push the marker onto page 2. */
  addComment(
    fullName: string,
    issue: number,
    body: string,
    user: { login: string; type: 'Bot' | 'User' } = { login: 'octocat', type: 'User' },
  ): StandinComment {
    const [o, n] = fullName.split('/') as [string, string];
    const list = this.repo(o, n)?.issues.get(issue);
    if (!list) throw new Error(`no issue ${fullName}#${issue} in the stand-in`);
    const c = this.makeComment(o, n, issue, body, user);
    list.push(c);
    return c;
  }

  comments(fullName: string, issue: number): readonly StandinComment[] {
    const [o, n] = fullName.split('/') as [string, string];
    return this.repo(o, n)?.issues.get(issue) ?? [];
  }

  dispatches(fullName: string): readonly { workflow: string; ref: string; inputs: Record<string, string> }[] {
    const [o, n] = fullName.split('/') as [string, string];
    return this.repo(o, n)?.dispatches ?? [];
  }

  private makeComment(
    owner: string,
    name: string,
    issue: number,
    body: string,
    user: { login: string; type: 'Bot' | 'User' },
  ): StandinComment {
    const id = this.nextId++;
    const at = new Date((this.clock += 1000)).toISOString();
    return {
      id,
      node_id: `IC_${id}`,
      url: `${this.url}/repos/${owner}/${name}/issues/comments/${id}`,
      html_url: `https://github.com/${owner}/${name}/pull/${issue}#issuecomment-${id}`,
      body,
      user,
      created_at: at,
      updated_at: at,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', 'http://standin');
    const query = Object.fromEntries(u.searchParams.entries());
    let body: unknown = undefined;
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}): void => {
      this.requests.push({ method: req.method ?? '', path: u.pathname, query, headers: req.headers, body, status });
      res.statusCode = status;
      for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
      if (payload === undefined) {
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(payload));
    };
    const docs = 'https://docs.github.com/rest';
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
        return send(400, { message: 'Problems parsing JSON', documentation_url: docs });
      }
    }
    // Headers every GitHub REST call needs.
    if (!req.headers['user-agent'])
      return send(403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header' });
    const accept = req.headers['accept'] ?? '';
    if (!/application\/(vnd\.github[^,]*\+json|json)|\*\/\*/.test(accept)) {
      return send(415, { message: `Unsupported 'Accept' header: '${accept}'`, documentation_url: docs });
    }
    const auth = /^(?:token|Bearer) (\S+)$/i.exec(req.headers['authorization'] ?? '');
    if (!auth) return send(401, { message: 'Requires authentication', documentation_url: docs });
    const token = this.tokens.get(auth[1]);
    if (!token) return send(401, { message: 'Bad credentials', documentation_url: docs });

    const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    if (parts[0] !== 'repos' || parts.length < 4) return send(404, { message: 'Not Found', documentation_url: docs });
    const [, owner, name] = parts as [string, string, string];
    const repo = this.repo(owner, name);
    if (!repo) return send(404, { message: 'Not Found', documentation_url: docs });
    const route = parts.slice(3).join('/');
    const forbidden = (): void => send(403, { message: 'Resource not accessible by integration', documentation_url: docs, status: '403' });
    const invalid = (field: string, message: string): void =>
      send(422, {
        message: 'Invalid request.',
        errors: [{ resource: 'IssueComment', code: 'invalid', field, message }],
        documentation_url: docs,
      });

    let m: RegExpExecArray | null;
    if ((m = /^issues\/(\d+)\/comments$/.exec(route))) {
      const list = repo.issues.get(Number(m[1]));
      if (!list) return send(404, { message: 'Not Found', documentation_url: docs });
      if (method === 'GET') return this.page(u, list, send);
      if (method === 'POST') {
        if (token.access !== 'write') return forbidden();
        const b = body as { body?: unknown } | undefined;
        if (!b || typeof b !== 'object' || !('body' in b)) return invalid('body', '"body" wasn\'t supplied.');
        if (typeof b.body !== 'string') return invalid('body', "For 'properties/body', it is not a string.");
        if (b.body.length > 65536) return invalid('body', 'Body is too long (maximum is 65536 characters)');
        const c = this.makeComment(owner, name, Number(m[1]), b.body, { login: token.login, type: 'Bot' });
        list.push(c);
        return send(201, c, { location: c.url });
      }
      return send(404, { message: 'Not Found', documentation_url: docs });
    }
    if ((m = /^issues\/comments\/(\d+)$/.exec(route))) {
      const id = Number(m[1]);
      const c = [...repo.issues.values()].flat().find((x) => x.id === id);
      if (!c) return send(404, { message: 'Not Found', documentation_url: docs });
      if (method === 'GET') return send(200, c);
      if (method === 'PATCH') {
        if (token.access !== 'write') return forbidden();
        const b = body as { body?: unknown } | undefined;
        if (!b || typeof b !== 'object' || typeof b.body !== 'string') return invalid('body', "For 'properties/body', it is not a string.");
        if (b.body.length > 65536) return invalid('body', 'Body is too long (maximum is 65536 characters)');
        c.body = b.body;
        c.updated_at = new Date((this.clock += 1000)).toISOString();
        return send(200, c);
      }
      return send(404, { message: 'Not Found', documentation_url: docs });
    }
    if (route === 'pulls' && method === 'GET') {
      const state = query['state'] ?? 'open';
      if (!['open', 'closed', 'all'].includes(state)) return invalid('state', `state must be open, closed or all`);
      return this.page(
        u,
        repo.pulls.filter((p) => state === 'all' || p.state === state),
        send,
      );
    }
    const workflowOf = (key: string): Workflow | undefined =>
      repo.workflows.get(key) ?? [...repo.workflows.values()].find((w) => String(w.id) === key);
    if ((m = /^actions\/workflows\/([^/]+)\/dispatches$/.exec(route)) && method === 'POST') {
      const wf = workflowOf(m[1]);
      if (!wf) return send(404, { message: 'Not Found', documentation_url: docs });
      if (token.access !== 'write') return forbidden();
      const b = body as { ref?: unknown; inputs?: unknown } | undefined;
      if (!b || typeof b !== 'object' || typeof b.ref !== 'string' || b.ref === '') {
        return send(422, { message: 'Invalid request.\n\n"ref" wasn\'t supplied.', documentation_url: docs });
      }
      const inputs = (b.inputs ?? {}) as Record<string, unknown>;
      if (typeof inputs !== 'object' || Array.isArray(inputs) || Object.values(inputs).some((v) => typeof v !== 'string')) {
        return send(422, { message: "Invalid request.\n\nFor 'properties/inputs', values must be strings.", documentation_url: docs });
      }
      const dispatchDocs = 'https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event';
      const spec = wf.spec;
      if (spec) {
        const ref = b.ref.replace(/^refs\/(heads|tags)\//, '');
        if (spec.refs && !spec.refs.includes(ref))
          return send(422, { message: `No ref found for: ${b.ref}`, documentation_url: dispatchDocs, status: '422' });
        if (spec.dispatch === false) {
          return send(422, {
            message: "Workflow does not have 'workflow_dispatch' trigger",
            documentation_url: dispatchDocs,
            status: '422',
          });
        }
        const declared = spec.inputs ?? {};
        const unexpected = Object.keys(inputs).filter((k) => !Object.hasOwn(declared, k));
        if (unexpected.length) {
          return send(422, {
            message: `Unexpected inputs provided: ${JSON.stringify(unexpected)}`,
            documentation_url: dispatchDocs,
            status: '422',
          });
        }
        const missing = Object.entries(declared).find(([k, d]) => d.required && !Object.hasOwn(inputs, k));
        if (missing)
          return send(422, { message: `Required input '${missing[0]}' not provided`, documentation_url: dispatchDocs, status: '422' });
      }
      repo.dispatches.push({ workflow: m[1], ref: b.ref, inputs: inputs as Record<string, string> });
      this.makeRun(owner, name, repo, wf, {
        status: 'queued',
        conclusion: null,
        event: 'workflow_dispatch',
        created: this.runClock().toISOString(),
        branch: b.ref.replace(/^refs\/(heads|tags)\//, ''),
      });
      return send(204);
    }
    if ((m = /^actions\/workflows\/([^/]+)\/runs$/.exec(route)) && method === 'GET') {
      const wf = workflowOf(m[1]);
      if (!wf) return send(404, { message: 'Not Found', documentation_url: docs });
      const runsDocs = 'https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow';
      const status = query['status'];
      if (status !== undefined && !RUN_STATUSES.includes(status)) {
        return send(422, {
          message: 'Validation Failed',
          errors: [{ resource: 'WorkflowRun', field: 'status', code: 'invalid', value: status }],
          documentation_url: runsDocs,
        });
      }
      const created = query['created'] !== undefined ? createdFilter(query['created']) : undefined;
      if (query['created'] !== undefined && !created) {
        return send(422, {
          message: 'Validation Failed',
          errors: [{ resource: 'WorkflowRun', field: 'created', code: 'invalid', value: query['created'] }],
          documentation_url: runsDocs,
        });
      }
      const list = repo.runs
        .filter((r) => r.workflow_id === wf.id)
        .filter((r) => status === undefined || r.status === status || r.conclusion === status)
        .filter((r) => !created || created(Date.parse(r.created_at)))
        .filter((r) => query['event'] === undefined || r.event === query['event'])
        .filter((r) => query['branch'] === undefined || r.head_branch === query['branch'])
        .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id);
      return this.page(u, list, (code, payload, headers) => send(code, { total_count: list.length, workflow_runs: payload }, headers));
    }
    return send(404, { message: 'Not Found', documentation_url: docs });
  }

  private page<T>(u: URL, items: readonly T[], send: (status: number, payload?: unknown, headers?: Record<string, string>) => void): void {
    const perPage = Math.min(100, Math.max(1, Number(u.searchParams.get('per_page') ?? 30) || 30));
    const page = Math.max(1, Number(u.searchParams.get('page') ?? 1) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const link = (p: number, rel: string): string => {
      const next = new URL(u.pathname, this.url);
      for (const [k, v] of u.searchParams) next.searchParams.set(k, v);
      next.searchParams.set('per_page', String(perPage));
      next.searchParams.set('page', String(p));
      return `<${next.toString()}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, 'prev'), link(1, 'first'));
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
    send(200, slice, links.length ? { link: links.join(', ') } : {});
  }
}
