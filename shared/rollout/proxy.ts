/**
 * The local target's traffic splitter: a small HTTP proxy in front of the model server processes.
 * Each request goes, whole, to one backend chosen by weight; a client that sends
 * `X-Modelship-Session` always reaches the same backend while the weights stay (sticky per
 * client). Routes change at run time through an admin API on another port; requests in flight
 * finish where they started. A connection refused before any answer (a backend that just went
 * away) is retried once on another backend, so moving weights and replacing stable lose nothing.
 * Its own /metrics count requests by backend and version.
 *
 * Feedback (`…:feedback`) must reach the server that made the prediction, since only that one
 * holds its input: the proxy remembers which backend answered each request id (the X-Request-Id
 * of the answer; the most recent REMEMBERED_IDS), sends feedback there, and splits a batch whose
 * ids were answered by several backends, merging their answers in the batch's order.
 */
import { createHash, randomInt } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import { z } from 'zod';

export const SESSION_HEADER = 'x-modelship-session';
const MAX_BODY = 64 * 1024 * 1024;
/** Request ids whose backend the proxy remembers, for routing feedback. */
export const REMEMBERED_IDS = 200_000;
const FEEDBACK_PATH = /:feedback$/;
const PREDICT_PATH = /(:predict|:classify|:regress|\/infer)$/;

/**
 * How a feedback body splits over backends: each group's entries (their positions in the batch)
 * and the body to send it. `backendOf` says which backend answered an id (undefined: not known, the
 * group of `undefined` goes wherever the proxy would send it). One group means: send the body as it
 * is. A body of another shape is one group of unknown backend (the server refuses it). Pure.
 */
export function splitFeedback(
  doc: unknown,
  backendOf: (id: string) => string | undefined,
): { readonly backend: string | undefined; readonly positions: readonly number[]; readonly body: unknown }[] {
  const obj = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
  const idOf = (e: unknown): string | undefined => {
    const id = typeof e === 'object' && e !== null ? (e as Record<string, unknown>)['id'] : undefined;
    return typeof id === 'string' ? backendOf(id) : undefined;
  };
  const examples = obj?.['examples'];
  if (!obj || !Array.isArray(examples) || Object.keys(obj).length !== 1)
    return [{ backend: obj ? idOf(obj) : undefined, positions: [0], body: doc }];
  const groups = new Map<string | undefined, number[]>();
  examples.forEach((e, i) => {
    const b = idOf(e);
    groups.set(b, [...(groups.get(b) ?? []), i]);
  });
  if (groups.size <= 1) return [{ backend: [...groups.keys()][0], positions: examples.map((_, i) => i), body: doc }];
  return [...groups].map(([backend, positions]) => ({
    backend,
    positions,
    body: { examples: positions.map((i): unknown => examples[i]) },
  }));
}

interface BatchAnswer {
  readonly accepted: number;
  readonly rejected: number;
  readonly stored: boolean;
  readonly results: readonly unknown[];
}

/** The answers of a split batch as one, in the batch's order (each part's results by its positions). Pure. */
export function mergeFeedbackAnswers(
  total: number,
  parts: readonly { readonly positions: readonly number[]; readonly answer: BatchAnswer }[],
): BatchAnswer & { errors: boolean } {
  const results = new Array<unknown>(total);
  let accepted = 0;
  let rejected = 0;
  let stored = true;
  for (const { positions, answer } of parts) {
    accepted += answer.accepted;
    rejected += answer.rejected;
    stored &&= answer.stored;
    positions.forEach((p, k) => (results[p] = answer.results[k]));
  }
  return { accepted, rejected, errors: rejected > 0, stored, results };
}

export interface Backend {
  /** stable or canary. */
  readonly role: string;
  readonly url: string;
  readonly version: string;
  /** Percent of the traffic; the weights of all backends add up to 100. */
  readonly weight: number;
}

const routesSchema = z.strictObject({
  backends: z
    .array(
      z.strictObject({
        role: z.string().min(1).max(32),
        url: z.url(),
        version: z.string().min(1).max(64),
        weight: z.number().int().min(0).max(100),
      }),
    )
    .max(8),
});

/** Checks a route table: known fields, weights adding up to 100 (or no backends at all). */
export function parseRoutes(body: unknown): Backend[] {
  const r = routesSchema.safeParse(body);
  if (!r.success) throw new Error(`routes: ${r.error.issues[0]?.message ?? 'invalid'}`);
  const total = r.data.backends.reduce((a, b) => a + b.weight, 0);
  if (r.data.backends.length > 0 && total !== 100) throw new Error(`routes: the weights add up to ${total}, not 100`);
  return r.data.backends;
}

/** The backend for a request: by the session key when there is one (stable while the weights stay), else at random by weight. Pure given `draw`. */
export function chooseBackend(backends: readonly Backend[], session: string | undefined, draw: () => number): Backend | undefined {
  const live = backends.filter((b) => b.weight > 0);
  if (live.length === 0) return undefined;
  const point = session !== undefined ? createHash('sha256').update(session).digest().readUInt32BE(0) % 100 : draw();
  let acc = 0;
  for (const b of live) {
    acc += b.weight;
    if (point < acc) return b;
  }
  return live[live.length - 1];
}

export interface ProxyOptions {
  readonly host: string;
  readonly port: number;
  readonly adminPort: number;
  readonly backends?: readonly Backend[];
}

export interface RunningProxy {
  readonly url: string;
  readonly adminUrl: string;
  routes(): readonly Backend[];
  setRoutes(backends: readonly Backend[]): void;
  close(): Promise<void>;
}

export async function startProxy(o: ProxyOptions): Promise<RunningProxy> {
  let backends: readonly Backend[] = o.backends ?? [];
  const metrics = new Registry();
  const requests = new Counter({
    name: 'modelship_proxy_requests_total',
    help: 'Requests through the proxy by backend role, version and status code.',
    labelNames: ['role', 'version', 'code'],
    registers: [metrics],
  });
  const retries = new Counter({
    name: 'modelship_proxy_retries_total',
    help: 'Requests retried on another backend after a refused connection.',
    labelNames: ['role', 'version'],
    registers: [metrics],
  });
  const duration = new Histogram({
    name: 'modelship_proxy_request_duration_seconds',
    help: 'Latency through the proxy by backend role and version.',
    labelNames: ['role', 'version'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metrics],
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  /** Request id → the url of the backend that answered it, oldest first. */
  const answered = new Map<string, string>();
  const remember = (id: string, url: string): void => {
    answered.delete(id);
    answered.set(id, url);
    if (answered.size > REMEMBERED_IDS) answered.delete(answered.keys().next().value!);
  };
  const backendOf = (id: string): string | undefined => {
    const url = answered.get(id);
    return url !== undefined && backends.some((b) => b.url === url) ? url : undefined;
  };

  /** A split feedback batch: each part to its backend, the answers merged (the first refusal, whole, when a part is refused). */
  const feedbackParts = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    parts: ReturnType<typeof splitFeedback>,
    fallback: Backend,
    total: number,
  ): Promise<void> => {
    const answers = await Promise.all(
      parts.map(async (part) => {
        const b = backends.find((x) => x.url === part.backend) ?? fallback;
        const up = await forward(b, req, Buffer.from(JSON.stringify(part.body)));
        const chunks: Buffer[] = [];
        for await (const c of up) chunks.push(c as Buffer);
        requests.inc({ role: b.role, version: b.version, code: String(up.statusCode ?? 502) });
        return { b, part, status: up.statusCode ?? 502, text: Buffer.concat(chunks).toString('utf8') };
      }),
    );
    res.setHeader('content-type', 'application/json');
    const refused = answers.find((a) => a.status !== 200);
    if (refused) {
      const taken = answers.filter((a) => a.status === 200).reduce((n, a) => n + ((JSON.parse(a.text) as BatchAnswer).accepted ?? 0), 0);
      let error = refused.text;
      try {
        const e = (JSON.parse(refused.text) as { error?: unknown }).error;
        if (typeof e === 'string') error = e;
      } catch {
        // not JSON: pass it on as it is
      }
      res.statusCode = refused.status;
      res.end(
        JSON.stringify({
          error: `${error} (the batch's ids were answered by ${parts.length} servers; the ${refused.part.positions.length} entries for ${refused.b.role} v${refused.b.version} were refused${taken ? `, ${taken} entries sent to the others were accepted` : ''})`,
        }),
      );
      return;
    }
    res.statusCode = 200;
    res.setHeader('x-modelship-backend', answers.map((a) => a.b.role).join(','));
    res.end(
      JSON.stringify(
        mergeFeedbackAnswers(
          total,
          answers.map((a) => ({ positions: a.part.positions, answer: JSON.parse(a.text) as BatchAnswer })),
        ),
      ),
    );
  };

  const forward = (backend: Backend, req: http.IncomingMessage, body: Buffer): Promise<http.IncomingMessage> =>
    new Promise((resolve, reject) => {
      const target = new URL(req.url ?? '/', backend.url);
      const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      delete headers['connection'];
      const up = http.request(target, { method: req.method, headers, agent }, resolve);
      up.on('error', reject);
      up.end(body);
    });

  const server = http.createServer((req, res) => {
    if (req.url === '/metrics' && req.method === 'GET') {
      void metrics.metrics().then((text) => {
        res.setHeader('content-type', metrics.contentType);
        res.end(text);
      });
      return;
    }
    if (req.url === '/healthz') {
      res.statusCode = backends.some((b) => b.weight > 0) ? 200 : 503;
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        res.statusCode = 413;
        res.end(JSON.stringify({ error: `the request body is larger than ${MAX_BODY} bytes` }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (res.writableEnded) return;
      const body = Buffer.concat(chunks);
      const session = req.headers[SESSION_HEADER];
      let first = chooseBackend(backends, typeof session === 'string' ? session : undefined, () => randomInt(100));
      if (!first) {
        res.statusCode = 503;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ error: 'no backend is serving' }));
        return;
      }
      const pathname = (req.url ?? '/').split('?')[0];
      const predicts = req.method === 'POST' && PREDICT_PATH.test(pathname);
      if (req.method === 'POST' && FEEDBACK_PATH.test(pathname)) {
        let doc: unknown;
        try {
          doc = JSON.parse(body.toString('utf8'));
        } catch {
          // the server answers a malformed body
        }
        const parts = doc === undefined ? [] : splitFeedback(doc, backendOf);
        if (parts.length > 1) {
          const total = ((doc as { examples: unknown[] }).examples ?? []).length;
          feedbackParts(req, res, parts, first, total).catch((err: unknown) => fail(err as Error));
          return;
        }
        const to = parts[0]?.backend;
        first = backends.find((b) => b.url === to) ?? first;
      }
      const t0 = process.hrtime.bigint();
      const send = (b: Backend, up: http.IncomingMessage): void => {
        const id = up.headers['x-request-id'];
        if (predicts && typeof id === 'string') remember(id, b.url);
        res.writeHead(up.statusCode ?? 502, { ...up.headers, 'x-modelship-backend': b.role, 'x-modelship-version': b.version });
        up.pipe(res);
        up.on('end', () => {
          requests.inc({ role: b.role, version: b.version, code: String(up.statusCode ?? 502) });
          duration.observe({ role: b.role, version: b.version }, Number(process.hrtime.bigint() - t0) / 1e9);
        });
      };
      forward(first, req, body).then(
        (up) => send(first, up),
        (err: NodeJS.ErrnoException) => {
          // Refused or reset before any answer: the backend went away; try another one once.
          const other =
            backends.find((b) => b.weight > 0 && b.url !== first.url) ?? backends.find((b) => b.url !== first.url && b.weight >= 0);
          const retriable = err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' || err.code === 'EPIPE';
          if (retriable && other) {
            retries.inc({ role: first.role, version: first.version });
            forward(other, req, body).then(
              (up) => send(other, up),
              (err2: Error) => fail(err2),
            );
          } else fail(err);
        },
      );
      function fail(err: Error): void {
        requests.inc({ role: first!.role, version: first!.version, code: '502' });
        if (res.headersSent) {
          res.destroy();
          return;
        }
        res.statusCode = 502;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ error: `the model server did not answer: ${err.message}` }));
      }
    });
  });

  const admin = http.createServer((req, res) => {
    const reply = (code: number, body: unknown): void => {
      res.statusCode = code;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    };
    if (req.url === '/routes' && req.method === 'GET') return reply(200, { backends });
    if (req.url === '/routes' && req.method === 'PUT') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          backends = parseRoutes(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          reply(200, { backends });
        } catch (err) {
          reply(400, { error: (err as Error).message });
        }
      });
      return;
    }
    reply(404, { error: 'not found' });
  });

  const listen = (s: http.Server, port: number, host: string): Promise<number> =>
    new Promise((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => {
        s.off('error', reject);
        resolve((s.address() as AddressInfo).port);
      });
    });
  const port = await listen(server, o.port, o.host);
  const adminPort = await listen(admin, o.adminPort, '127.0.0.1').catch(async (err: unknown) => {
    await new Promise((r) => server.close(r));
    throw err;
  });
  return {
    url: `http://${o.host}:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    routes: () => backends,
    setRoutes: (b) => {
      backends = parseRoutes({ backends: b });
    },
    async close() {
      const closed = Promise.all([new Promise((r) => server.close(r)), new Promise((r) => admin.close(r))]);
      server.closeIdleConnections();
      admin.closeIdleConnections();
      await closed;
      agent.destroy();
    },
  };
}
