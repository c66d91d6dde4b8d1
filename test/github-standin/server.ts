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
 *   POST  /repos/{o}/{r}/actions/workflows/{file}/dispatches  {"ref": string, "inputs"?: {…}} → 204
 * Errors: 401 without or with an unknown token, 403 "Resource not accessible by integration" for a
 * read-only token on writes, 404 for unknown repositories, issues, comments and workflows, 400 for
 * unparsable JSON, 415 for an unsupported accept header, 422 for invalid bodies.
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

interface Repo {
  issues: Map<number, StandinComment[]>;
  pulls: StandinPull[];
  workflows: Set<string>;
  dispatches: { workflow: string; ref: string; inputs: Record<string, string> }[];
}

export type TokenAccess = 'write' | 'read';

export class GitHubStandin {
  readonly requests: RecordedRequest[] = [];
  private server: Server | undefined;
  private readonly repos = new Map<string, Repo>();
  private readonly tokens: Map<string, { access: TokenAccess; login: string }>;
  private nextId = 1000;
  private clock = Date.parse('2026-01-01T00:00:00Z');
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
      r = { issues: new Map(), pulls: [], workflows: new Set(), dispatches: [] };
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

  addWorkflow(fullName: string, file: string): void {
    const [o, n] = fullName.split('/') as [string, string];
    this.repo(o, n, true)!.workflows.add(file);
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
    if ((m = /^actions\/workflows\/([^/]+)\/dispatches$/.exec(route)) && method === 'POST') {
      if (!repo.workflows.has(m[1])) return send(404, { message: 'Not Found', documentation_url: docs });
      if (token.access !== 'write') return forbidden();
      const b = body as { ref?: unknown; inputs?: unknown } | undefined;
      if (!b || typeof b !== 'object' || typeof b.ref !== 'string' || b.ref === '') {
        return send(422, { message: 'Invalid request.\n\n"ref" wasn\'t supplied.', documentation_url: docs });
      }
      const inputs = (b.inputs ?? {}) as Record<string, unknown>;
      if (typeof inputs !== 'object' || Array.isArray(inputs) || Object.values(inputs).some((v) => typeof v !== 'string')) {
        return send(422, { message: "Invalid request.\n\nFor 'properties/inputs', values must be strings.", documentation_url: docs });
      }
      repo.dispatches.push({ workflow: m[1], ref: b.ref, inputs: inputs as Record<string, string> });
      return send(204);
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
