/**
 * The REST layer: the API server's paths, verbs, list/watch, patch types, status subresource,
 * pod logs, and `Status` errors, over the store.
 *
 *   /api/v1/namespaces/{ns}/{plural}[/{name}[/status|/log]]      (core group)
 *   /apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}[/status]]
 *   /api/v1/{plural}, /apis/{group}/{version}/{plural}             (all namespaces: list, watch)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { deleteWithPropagation, type PropagationPolicy } from './controllers/gc.ts';
import { ApiError, badRequest, gone, notFound, type StatusObject } from './errors.ts';
import { formatNs, parseTimeNs, type LogBook, type LogLine } from './logs.ts';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.ts';
import { apiVersionOf, podType, type ResourceType } from './resources/index.ts';
import { matchesFields, matchesRequirements, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import type { Store, StoreEvent } from './store.ts';
import type { ContainerStatus, KubeObject, Pod } from './types.ts';

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
}

interface Route {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

export interface OpenStream {
  readonly kind: 'watch' | 'log';
  /** The collection watched (`/apis/batch/v1/namespaces/ml/jobs`) or the pod's log path. */
  readonly path: string;
  readonly end: () => void;
}

export interface ServerContext {
  readonly store: Store;
  readonly logs: LogBook;
  resources(): readonly ResourceType[];
  /** A bearer token every request must carry, when set. */
  readonly token: string | undefined;
  /** Open watch and follow-log responses, so tests can cut them. */
  readonly streams: Set<OpenStream>;
  readonly requests: RequestRecord[];
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, err: ApiError): void {
  send(res, err.code, err.toStatus());
}

function route(ctx: ServerContext, pathname: string): Route | undefined {
  const parts = pathname
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const type = ctx.resources().find((t) => t.group === group && t.version === version && t.plural === rest[0]);
  if (!type || rest.length > 3) return undefined;
  return { type, namespace, name: rest[1], subresource: rest[2] };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest(`the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`);
  }
}

function withKind(type: ResourceType, o: KubeObject): KubeObject {
  return { apiVersion: apiVersionOf(type), kind: type.kind, ...o };
}

function filterFor(type: ResourceType, query: URLSearchParams): (o: KubeObject) => boolean {
  const labels = parseLabelSelector(query.get('labelSelector') ?? undefined);
  const fields = parseFieldSelector(query.get('fieldSelector') ?? undefined, type.selectableFields);
  return (o) => matchesRequirements(o.metadata.labels, labels) && matchesFields(o, fields);
}

export function createHandler(ctx: ServerContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(ctx, req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof ApiError) sendError(res, err);
      else sendError(res, new ApiError(500, 'InternalError', `simulator: ${err instanceof Error ? err.message : String(err)}`));
    });
  };
}

async function handle(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sim');
  const method = req.method ?? 'GET';
  ctx.requests.push({ method, path: url.pathname, query: Object.fromEntries(url.searchParams) });
  if (ctx.token !== undefined && req.headers.authorization !== `Bearer ${ctx.token}`) {
    send(res, 401, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    } satisfies StatusObject);
    return;
  }
  if (url.pathname === '/version') {
    send(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-modelship-sim', platform: 'linux/amd64' });
    return;
  }
  const r = route(ctx, url.pathname);
  if (!r) {
    send(res, 404, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'the server could not find the requested resource',
      reason: 'NotFound',
      details: { causes: [{ reason: 'UnexpectedServerResponse', message: '404 page not found' }] },
      code: 404,
    } satisfies StatusObject);
    return;
  }
  const { type, namespace, name, subresource } = r;
  const q = url.searchParams;
  if (type.namespaced && name !== undefined && namespace === undefined) throw notFound(type, name);

  if (name === undefined) {
    if (method === 'GET' && q.get('watch') === 'true') return watch(ctx, type, namespace, q, req, res);
    if (method === 'GET') return list(ctx, type, namespace, q, res);
    if (method === 'POST') {
      if (type.namespaced && namespace === undefined)
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      const body = (await readBody(req)) as KubeObject | undefined;
      if (!body || typeof body !== 'object') throw badRequest('the request body is empty');
      if (body.kind !== undefined && body.kind !== type.kind)
        throw badRequest(
          `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersionOf(type)})`,
        );
      if (q.get('dryRun')) throw badRequest('simulator: dryRun is not supported');
      return send(res, 201, ctx.store.create(type, namespace, body));
    }
    if (method === 'DELETE') {
      const filter = filterFor(type, q);
      const items = ctx.store.list(type, namespace, filter);
      for (const o of items)
        deleteWithPropagation(ctx.store, ctx.resources(), type, o.metadata.namespace, o.metadata.name!, type.defaultPropagation);
      return send(res, 200, {
        kind: `${type.kind}List`,
        apiVersion: apiVersionOf(type),
        metadata: { resourceVersion: ctx.store.resourceVersion() },
        items,
      });
    }
    throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }

  if (subresource === 'log') {
    if (type !== podType || method !== 'GET')
      throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    return podLog(ctx, namespace, name, q, req, res);
  }
  if (subresource !== undefined && (subresource !== 'status' || !type.statusSubresource)) throw notFound(type, name);
  const sub = subresource === 'status' ? 'status' : undefined;

  switch (method) {
    case 'GET':
      return send(res, 200, ctx.store.get(type, namespace, name));
    case 'PUT': {
      const body = (await readBody(req)) as KubeObject | undefined;
      if (!body) throw badRequest('the request body is empty');
      return send(res, 200, ctx.store.update(type, namespace, name, body, sub));
    }
    case 'PATCH': {
      const body = await readBody(req);
      const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim();
      const current = ctx.store.get(type, namespace, name);
      let patched: unknown;
      if (contentType === 'application/merge-patch+json') patched = mergePatch(current, body);
      else if (contentType === 'application/strategic-merge-patch+json') patched = strategicMergePatch(current, body);
      else if (contentType === 'application/json-patch+json') patched = jsonPatch(current, body);
      else
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (the simulator does not implement ${contentType || 'this patch type'})`,
        );
      const next = patched as KubeObject;
      // A patch carries a precondition only when it names a resourceVersion itself.
      const bodyRv = JSON.stringify(body).includes('"resourceVersion"') ? next.metadata?.resourceVersion : undefined;
      if (!bodyRv && next.metadata) delete next.metadata.resourceVersion;
      return send(res, 200, ctx.store.update(type, namespace, name, next, sub));
    }
    case 'DELETE': {
      if (sub) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      const body = (await readBody(req)) as { propagationPolicy?: string; orphanDependents?: boolean } | undefined;
      let policy = (q.get('propagationPolicy') ?? body?.propagationPolicy) as PropagationPolicy | undefined;
      const orphan = q.get('orphanDependents') ?? (body?.orphanDependents === undefined ? undefined : String(body.orphanDependents));
      if (policy === undefined && orphan !== undefined) policy = orphan === 'true' ? 'Orphan' : 'Background';
      if (policy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(policy))
        throw new ApiError(
          422,
          'Invalid',
          `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"`,
        );
      const deleted = deleteWithPropagation(ctx.store, ctx.resources(), type, namespace, name, policy);
      if (type.returnDeletedObject) return send(res, 200, deleted);
      return send(res, 200, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, group: type.group, kind: type.plural, uid: deleted.metadata.uid },
      });
    }
    default:
      throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }
}

function list(ctx: ServerContext, type: ResourceType, ns: string | undefined, q: URLSearchParams, res: ServerResponse): void {
  const filter = filterFor(type, q);
  const items = ctx.store.list(type, ns, filter).map((o) => {
    const { apiVersion: _a, kind: _k, ...rest } = o;
    return rest;
  });
  send(res, 200, {
    kind: `${type.kind}List`,
    apiVersion: apiVersionOf(type),
    metadata: { resourceVersion: ctx.store.resourceVersion() },
    items,
  });
}

function watch(
  ctx: ServerContext,
  type: ResourceType,
  ns: string | undefined,
  q: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const filter = filterFor(type, q);
  const rvParam = q.get('resourceVersion') ?? '';
  const inScope = (o: KubeObject): boolean => !type.namespaced || ns === undefined || o.metadata.namespace === ns;
  const matches = (o: KubeObject | undefined): boolean => o !== undefined && inScope(o) && filter(o);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  const write = (t: string, object: unknown): void => {
    res.write(`${JSON.stringify({ type: t, object })}\n`);
  };
  let closed = false;
  const stream: OpenStream = {
    kind: 'watch',
    path: new URL(req.url ?? '/', 'http://sim').pathname,
    end: () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      ctx.streams.delete(stream);
      if (timer) clearTimeout(timer);
      res.end();
    },
  };
  const deliver = (e: StoreEvent): void => {
    if (e.resource !== type || closed) return;
    const now = matches(e.object);
    const before = e.type !== 'ADDED' && matches(e.previous);
    const obj = withKind(type, e.object);
    if (e.type === 'ADDED' && now) write('ADDED', obj);
    else if (e.type === 'MODIFIED' && before && now) write('MODIFIED', obj);
    else if (e.type === 'MODIFIED' && !before && now) write('ADDED', obj);
    else if (e.type === 'MODIFIED' && before && !now) write('DELETED', obj);
    else if (e.type === 'DELETED' && before) write('DELETED', obj);
  };
  let unsubscribe: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  if (rvParam === '' || rvParam === '0') {
    for (const o of ctx.store.list(type, ns, filter)) write('ADDED', withKind(type, o));
  } else {
    const from = Number(rvParam);
    if (!Number.isInteger(from)) {
      write('ERROR', badRequest(`invalid resource version: ${rvParam}`).toStatus());
      res.end();
      return;
    }
    if (from < ctx.store.compactedRv) {
      write('ERROR', gone(`too old resource version: ${from} (${ctx.store.compactedRv})`).toStatus());
      res.end();
      return;
    }
    for (const e of ctx.store.history) if (e.rv > from) deliver(e);
  }
  unsubscribe = ctx.store.subscribe(deliver);
  ctx.streams.add(stream);
  const timeout = Number(q.get('timeoutSeconds') ?? '');
  if (timeout > 0) timer = setTimeout(() => stream.end(), timeout * 1000);
  req.on('close', () => stream.end());
  res.on('close', () => stream.end());
}

function waitingMessage(s: ContainerStatus | undefined, pod: string): string | undefined {
  const w = s?.state.waiting;
  if (!s || !w) return undefined;
  const reason = w.reason ?? 'ContainerCreating';
  if (reason === 'ImagePullBackOff') return `container "${s.name}" in pod "${pod}" is waiting to start: trying and failing to pull image`;
  if (reason === 'ErrImagePull') return `container "${s.name}" in pod "${pod}" is waiting to start: image can't be pulled`;
  if (reason === 'CrashLoopBackOff') return undefined;
  return `container "${s.name}" in pod "${pod}" is waiting to start: ${reason}`;
}

function podLog(
  ctx: ServerContext,
  ns: string | undefined,
  name: string,
  q: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const pod = ctx.store.get(podType, ns, name) as Pod;
  const names = pod.spec.containers.map((c) => c.name);
  let container = q.get('container') ?? '';
  if (!container) {
    if (names.length !== 1) throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`);
    container = names[0]!;
  }
  if (!names.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  const status = pod.status?.containerStatuses?.find((s) => s.name === container);
  const previous = q.get('previous') === 'true';
  if (!status) throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
  const waiting = waitingMessage(status, name);
  if (waiting && !previous) throw badRequest(waiting);
  const uid = pod.metadata.uid!;
  const log = previous ? ctx.logs.previous(uid, container) : ctx.logs.current(uid, container);
  if (!log) {
    if (previous) throw badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
    throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
  }
  const timestamps = q.get('timestamps') === 'true';
  const follow = q.get('follow') === 'true' && !previous;
  let since: bigint | undefined;
  if (q.get('sinceTime')) {
    since = parseTimeNs(q.get('sinceTime')!);
    if (since === undefined) throw badRequest(`invalid sinceTime: ${q.get('sinceTime')}`);
  } else if (q.get('sinceSeconds')) since = BigInt(Date.now() - Number(q.get('sinceSeconds')) * 1000) * 1_000_000n;
  const tail = q.get('tailLines') ? Number(q.get('tailLines')) : undefined;
  let budget = q.get('limitBytes') ? Number(q.get('limitBytes')) : Infinity;
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  let closed = false;
  const stream: OpenStream = {
    kind: 'log',
    path: new URL(req.url ?? '/', 'http://sim').pathname,
    end: () => {
      if (closed) return;
      closed = true;
      log.off('line', onLine);
      log.off('end', stream.end);
      ctx.streams.delete(stream);
      res.end();
    },
  };
  const emit = (l: LogLine): void => {
    if (closed) return;
    const text = `${timestamps ? `${formatNs(l.ns)} ` : ''}${l.text}\n`;
    const bytes = Buffer.from(text);
    if (bytes.length > budget) {
      res.write(bytes.subarray(0, budget));
      budget = 0;
      stream.end();
      return;
    }
    budget -= bytes.length;
    res.write(bytes);
  };
  const onLine = (l: LogLine): void => emit(l);
  let lines = log.lines.filter((l) => since === undefined || l.ns >= since);
  if (tail !== undefined) lines = tail === 0 ? [] : lines.slice(-tail);
  for (const l of lines) emit(l);
  if (!follow || log.ended) {
    stream.end();
    return;
  }
  log.on('line', onLine);
  log.on('end', stream.end);
  ctx.streams.add(stream);
  req.on('close', () => stream.end());
  res.on('close', () => stream.end());
}
