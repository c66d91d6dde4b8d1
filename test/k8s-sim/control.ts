/**
 * The simulator's control surface over HTTP, for tests in another process (the standalone
 * simulator serves it; in-process tests call `sim.faults` directly). Paths under `/k8s-sim/`,
 * which no Kubernetes client requests:
 *
 *   POST   /k8s-sim/faults            {"kind": "fail", "path": "/deployments", "code": 503, "count": 2}  → {"id": 1}
 *          kinds: fail (code, message?, retryAfterSeconds?), drop, delay (ms), conflict (resource?, name?,
 *          namespace?), goneOnWatch (mode?: event|http), with path?/method?/watch?/count?;
 *          crash (lines?, exitCode?, afterMs?), neverReady, imagePull (message?), oomKilled (lines?),
 *          livenessFails (afterMs?), with match: {image?, pod?, container?, labels?, namespace?}
 *   DELETE /k8s-sim/faults/{id}       switch one off
 *   DELETE /k8s-sim/faults            switch all off
 *   GET    /k8s-sim/faults            {"injected": [{kind, method, path}, ...]}
 *   POST   /k8s-sim/cut-watches       {"path": "/pods"?}  → {"cut": n}
 *   POST   /k8s-sim/close-watches     {"path": "/pods"?}  → {"closed": n}
 *   POST   /k8s-sim/compact           forget the watch history (watches from older versions get 410)
 *   PUT    /k8s-sim/gateway-api       {"on": true}
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultHandle, Faults } from './faults.ts';

export interface ControlTarget {
  readonly faults: Faults;
  closeWatches(suffix?: string): number;
  compact(): void;
  setGatewayApi(on: boolean): void;
}

type Body = Record<string, unknown>;

function reply(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const lines = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.map(String) : undefined);

function fault(t: ControlTarget, b: Body): FaultHandle {
  const f = t.faults;
  const req = {
    ...(str(b['path']) ? { path: str(b['path']) } : {}),
    ...(b['method'] !== undefined ? { method: b['method'] as string | string[] } : {}),
    ...(typeof b['watch'] === 'boolean' ? { watch: b['watch'] } : {}),
  };
  const count = num(b['count']) ?? 1;
  const match = (b['match'] ?? {}) as {
    image?: string;
    pod?: string;
    container?: string;
    labels?: Record<string, string>;
    namespace?: string;
  };
  switch (b['kind']) {
    case 'fail':
      return f.fail({
        ...req,
        code: (num(b['code']) ?? 500) as 500 | 503 | 504 | 429,
        count,
        ...(str(b['message']) ? { message: str(b['message']) } : {}),
        ...(num(b['retryAfterSeconds']) !== undefined ? { retryAfterSeconds: num(b['retryAfterSeconds']) } : {}),
      });
    case 'drop':
      return f.drop({ ...req, count });
    case 'delay':
      return f.delay({ ...req, count, ms: num(b['ms']) ?? 1000 });
    case 'conflict':
      return f.conflict({
        count,
        ...(str(b['resource']) ? { resource: str(b['resource']) } : {}),
        ...(str(b['name']) ? { name: str(b['name']) } : {}),
        ...(str(b['namespace']) ? { namespace: str(b['namespace']) } : {}),
      });
    case 'goneOnWatch':
      return f.goneOnWatch({ ...(req.path ? { path: req.path } : {}), count, mode: b['mode'] === 'http' ? 'http' : 'event' });
    case 'crash':
      return f.crash(match, { lines: lines(b['lines']) ?? [], exitCode: num(b['exitCode']) ?? 1, afterMs: num(b['afterMs']) ?? 0 });
    case 'neverReady':
      return f.neverReady(match);
    case 'imagePull':
      return f.imagePull(match, str(b['message']));
    case 'oomKilled':
      return f.oomKilled(match, lines(b['lines']) ?? []);
    case 'livenessFails':
      return f.livenessFails(match, num(b['afterMs']) ?? 0);
    default:
      throw new Error(`unknown fault kind ${JSON.stringify(b['kind'])}`);
  }
}

export class Control {
  private readonly target: ControlTarget;
  private readonly handles = new Map<number, FaultHandle>();
  private next = 1;

  constructor(target: ControlTarget) {
    this.target = target;
  }

  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8').trim();
    let body: Body = {};
    try {
      body = text ? (JSON.parse(text) as Body) : {};
    } catch {
      return reply(res, 400, { error: 'the body is not JSON' });
    }
    const method = req.method ?? 'GET';
    try {
      const one = /^\/k8s-sim\/faults\/(\d+)$/.exec(pathname);
      if (pathname === '/k8s-sim/faults' && method === 'POST') {
        const id = this.next++;
        this.handles.set(id, fault(this.target, body));
        return reply(res, 201, { id });
      }
      if (pathname === '/k8s-sim/faults' && method === 'GET') return reply(res, 200, { injected: this.target.faults.injected });
      if (pathname === '/k8s-sim/faults' && method === 'DELETE') {
        this.target.faults.clear();
        this.handles.clear();
        return reply(res, 200, {});
      }
      if (one && method === 'DELETE') {
        const h = this.handles.get(Number(one[1]));
        if (!h) return reply(res, 404, { error: `no fault ${one[1]}` });
        h.off();
        this.handles.delete(Number(one[1]));
        return reply(res, 200, { hits: h.hits });
      }
      if (pathname === '/k8s-sim/cut-watches' && method === 'POST')
        return reply(res, 200, { cut: this.target.faults.cutWatches(str(body['path'])) });
      if (pathname === '/k8s-sim/close-watches' && method === 'POST')
        return reply(res, 200, { closed: this.target.closeWatches(str(body['path'])) });
      if (pathname === '/k8s-sim/compact' && method === 'POST') {
        this.target.compact();
        return reply(res, 200, {});
      }
      if (pathname === '/k8s-sim/gateway-api' && method === 'PUT') {
        this.target.setGatewayApi(body['on'] === true);
        return reply(res, 200, { on: body['on'] === true });
      }
    } catch (err) {
      return reply(res, 400, { error: err instanceof Error ? err.message : String(err) });
    }
    return reply(res, 404, { error: `no control ${method} ${pathname}` });
  }
}
