/**
 * The REST layer: the API server's paths, verbs, list/watch, patch types (server-side apply
 * included), status and scale subresources, pod logs, the pod and service proxy, discovery, and
 * `Status` errors, over the store; with the faults a test switched on.
 *
 *   /api, /apis, /apis/{group}, /api/v1, /apis/{group}/{version}  (discovery)
 *   /api/v1/namespaces/{ns}/{plural}[/{name}[/status|/log|/proxy/...]]      (core group)
 *   /apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}[/status|/scale]]
 *   /api/v1/{plural}, /apis/{group}/{version}/{plural}             (all namespaces: list, watch)
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { deleteWithPropagation, type PropagationPolicy } from './controllers/gc.ts';
import { apiGroup, apiGroupList, apiResourceList, apiVersions } from './discovery.ts';
import { ApiError, badRequest, conflict, gone, notFound, type StatusObject } from './errors.ts';
import type { Control } from './control.ts';
import type { Faults } from './faults.ts';
import type { Kubelet } from './kubelet.ts';
import { formatNs, parseTimeNs, type LogBook, type LogLine } from './logs.ts';
import { apply } from './managed.ts';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.ts';
import { apiVersionOf, endpointSliceType, podType, serviceType, type ResourceType } from './resources/index.ts';
import { matchesFields, matchesRequirements, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { rfc3339, type Store, type StoreEvent } from './store.ts';
import type { ContainerStatus, EndpointSlice, KubeObject, Pod, Service } from './types.ts';

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
  /** For `/proxy/...`: the path after `proxy`. */
  proxyPath?: string;
}

export interface OpenStream {
  readonly kind: 'watch' | 'log';
  /** The collection watched (`/apis/batch/v1/namespaces/ml/jobs`) or the pod's log path. */
  readonly path: string;
  /** Ends the response cleanly (as an API server shutting a watch does). */
  readonly end: () => void;
  /** Cuts the connection without ending the response (a dropped connection). */
  readonly destroy: () => void;
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
  readonly faults: Faults;
  readonly kubelet: Kubelet;
  /** `127.0.0.1:<port>`, for `/api`'s serverAddressByClientCIDRs. */
  serverAddress(): string;
  /** The control paths under /k8s-sim/, when served. */
  control?: Control;
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, err: ApiError, retryAfter?: number): void {
  const text = JSON.stringify(err.toStatus());
  res.writeHead(err.code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...(retryAfter !== undefined ? { 'Retry-After': String(retryAfter) } : {}),
  });
  res.end(text);
}

/** What a request names that is not served: the mux's plain 404 for a group/version, a Status for a resource. */
function sendNotFound(res: ServerResponse, plain: boolean): void {
  if (plain) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
    res.end('404 page not found\n');
    return;
  }
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
  if (!type) return undefined;
  if (rest[2] === 'proxy' && type.group === '' && (type.plural === 'pods' || type.plural === 'services'))
    return { type, namespace, name: rest[1], subresource: 'proxy', proxyPath: rest.slice(3).join('/') };
  if (rest.length > 3) return undefined;
  return { type, namespace, name: rest[1], subresource: rest[2] };
}

/** Whether a path names a group/version the server serves (else the mux answers a plain 404). */
function servedGroupVersion(ctx: ServerContext, pathname: string): boolean {
  const parts = pathname.split('/').filter((p) => p !== '');
  if (parts[0] === 'api') return parts[1] === 'v1';
  if (parts[0] === 'apis') return ctx.resources().some((t) => t.group === parts[1] && t.version === parts[2]);
  return false;
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const text = await readText(req);
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

const METHOD_NOT_ALLOWED = (): ApiError =>
  new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

/** The field manager of a non-apply write: `fieldManager`, else the User-Agent up to its first `/`. */
function managerOf(req: IncomingMessage, q: URLSearchParams): string {
  const m = q.get('fieldManager');
  if (m) {
    if (m.length > 128) throw invalidOptions('fieldManager', `Too long: may not be more than 128 bytes`);
    return m;
  }
  const ua = req.headers['user-agent'] ?? '';
  return ua.split('/')[0] || 'unknown';
}

function invalidOptions(field: string, message: string, kind = 'PatchOptions'): ApiError {
  return new ApiError(422, 'Invalid', `${kind}.meta.k8s.io "" is invalid: ${field}: ${message}`, {
    group: 'meta.k8s.io',
    kind,
    causes: [{ reason: 'FieldValueInvalid', message, field }],
  });
}

const contentTypeOf = (req: IncomingMessage): string => (req.headers['content-type'] ?? '').split(';')[0].trim();

async function handle(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sim');
  const method = req.method ?? 'GET';
  const q = url.searchParams;
  ctx.requests.push({ method, path: url.pathname, query: Object.fromEntries(q) });
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
  if (ctx.control && url.pathname.startsWith('/k8s-sim/')) return ctx.control.handle(req, res, url.pathname);
  const info = { method, path: url.pathname, watch: q.get('watch') === 'true' || q.get('watch') === '1' };
  const fault = ctx.faults.httpAction(info);
  if (fault?.kind === 'drop') {
    req.socket.destroy();
    return;
  }
  if (fault?.kind === 'error') return sendError(res, fault.error, fault.retryAfter);
  if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));

  const pathname = url.pathname.replace(/\/+$/, '') || '/';
  if (pathname === '/version') {
    send(res, 200, {
      major: '1',
      minor: '31',
      gitVersion: 'v1.31.0-modelship-sim',
      gitCommit: '0000000000000000000000000000000000000000',
      gitTreeState: 'clean',
      buildDate: '2024-08-13T00:00:00Z',
      goVersion: 'go1.22.5',
      compiler: 'gc',
      platform: 'linux/amd64',
    });
    return;
  }
  if (method === 'GET') {
    const parts = pathname.split('/').filter((p) => p !== '');
    let doc: unknown;
    let discovery = false;
    if (parts[0] === 'api' && parts.length <= 2) {
      discovery = true;
      doc = parts.length === 1 ? apiVersions(ctx.serverAddress()) : apiResourceList(ctx.resources(), '', parts[1]);
    } else if (parts[0] === 'apis' && parts.length <= 3) {
      discovery = true;
      if (parts.length === 1) doc = apiGroupList(ctx.resources());
      else if (parts.length === 2) doc = apiGroup(ctx.resources(), parts[1]);
      else doc = apiResourceList(ctx.resources(), parts[1], parts[2]);
    }
    if (discovery) {
      if (doc === undefined) return sendNotFound(res, true);
      return send(res, 200, doc);
    }
  }
  const r = route(ctx, pathname);
  if (!r) return sendNotFound(res, !servedGroupVersion(ctx, pathname));
  const { type, namespace, name, subresource } = r;
  if (type.namespaced && name !== undefined && namespace === undefined) throw notFound(type, name);
  if (q.get('force') !== null && !(method === 'PATCH' && contentTypeOf(req) === 'application/apply-patch+yaml'))
    throw invalidOptions('force', 'Forbidden: may not be specified for non-apply patch');

  if (name === undefined) {
    if (method === 'GET' && info.watch) return watch(ctx, type, namespace, q, req, res);
    if (method === 'GET') return list(ctx, type, namespace, q, res);
    if (method === 'POST') {
      if (type.namespaced && namespace === undefined) throw METHOD_NOT_ALLOWED();
      const body = (await readBody(req)) as KubeObject | undefined;
      if (!body || typeof body !== 'object') throw badRequest('the request body is empty');
      if (body.kind !== undefined && body.kind !== type.kind)
        throw badRequest(
          `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersionOf(type)})`,
        );
      if (q.get('dryRun')) throw badRequest('simulator: dryRun is not supported');
      if (body.metadata?.managedFields && body.metadata.managedFields.length > 0) delete body.metadata.managedFields;
      return send(res, 201, ctx.store.create(type, namespace, body, { manager: managerOf(req, q) }));
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
    throw METHOD_NOT_ALLOWED();
  }

  if (subresource === 'log') {
    if (type !== podType || method !== 'GET') throw METHOD_NOT_ALLOWED();
    return podLog(ctx, namespace, name, q, req, res);
  }
  if (subresource === 'proxy') return proxy(ctx, type, namespace ?? 'default', name, r.proxyPath ?? '', url.search, req, res);
  if (subresource === 'scale' && type.scale) return scale(ctx, type, namespace, name, method, q, req, res, info);
  if (subresource !== undefined && (subresource !== 'status' || !type.statusSubresource)) throw notFound(type, name);
  const sub = subresource === 'status' ? 'status' : undefined;
  if (method === 'PUT' || method === 'PATCH') {
    if (q.get('dryRun')) throw badRequest('simulator: dryRun is not supported');
    const injected = ctx.faults.conflictFor(info, type, name);
    if (injected) throw injected;
  }

  switch (method) {
    case 'GET':
      return send(res, 200, ctx.store.get(type, namespace, name));
    case 'PUT': {
      const body = (await readBody(req)) as KubeObject | undefined;
      if (!body) throw badRequest('the request body is empty');
      return send(
        res,
        200,
        ctx.store.update(type, namespace, name, body, sub, { manager: managerOf(req, q), ...(sub ? { subresource: sub } : {}) }),
      );
    }
    case 'PATCH': {
      const contentType = contentTypeOf(req);
      if (contentType === 'application/apply-patch+yaml') return serverSideApply(ctx, type, namespace, name, sub, q, req, res);
      const patchers: Record<string, (target: unknown, patch: unknown) => unknown> = {
        'application/merge-patch+json': mergePatch,
        'application/strategic-merge-patch+json': strategicMergePatch,
        'application/json-patch+json': jsonPatch,
      };
      const patcher = patchers[contentType];
      if (!patcher)
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got ${contentType || 'none'})`,
        );
      const body = await readBody(req);
      const current = ctx.store.get(type, namespace, name);
      const patched = patcher(current, body);
      const next = patched as KubeObject;
      // A patch carries a precondition only when it names a resourceVersion itself.
      const bodyRv = JSON.stringify(body).includes('"resourceVersion"') ? next.metadata?.resourceVersion : undefined;
      if (!bodyRv && next.metadata) delete next.metadata.resourceVersion;
      return send(
        res,
        200,
        ctx.store.update(type, namespace, name, next, sub, { manager: managerOf(req, q), ...(sub ? { subresource: sub } : {}) }),
      );
    }
    case 'DELETE': {
      if (sub) throw METHOD_NOT_ALLOWED();
      const body = (await readBody(req)) as
        | {
            propagationPolicy?: string;
            orphanDependents?: boolean;
            gracePeriodSeconds?: number;
            preconditions?: { uid?: string; resourceVersion?: string };
          }
        | undefined;
      let policy = (q.get('propagationPolicy') ?? body?.propagationPolicy) as PropagationPolicy | undefined;
      const orphan = q.get('orphanDependents') ?? (body?.orphanDependents === undefined ? undefined : String(body.orphanDependents));
      if (policy === undefined && orphan !== undefined) policy = orphan === 'true' ? 'Orphan' : 'Background';
      if (policy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(policy))
        throw new ApiError(
          422,
          'Invalid',
          `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"`,
        );
      const graceText = q.get('gracePeriodSeconds');
      const grace = graceText !== null ? Number(graceText) : body?.gracePeriodSeconds;
      const existing = ctx.store.get(type, namespace, name);
      const pre = body?.preconditions;
      if (pre?.uid && pre.uid !== existing.metadata.uid)
        throw new ApiError(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${type.group ? `${type.plural}.${type.group}` : type.plural} "${name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid}`,
        );
      if (pre?.resourceVersion && pre.resourceVersion !== existing.metadata.resourceVersion) throw conflict(type, name);
      const deleted = deleteWithPropagation(ctx.store, ctx.resources(), type, namespace, name, policy, grace);
      if (type.returnDeletedObject) return send(res, 200, deleted);
      return send(res, deleted.metadata.deletionTimestamp ? 202 : 200, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, group: type.group, kind: type.plural, uid: deleted.metadata.uid },
      });
    }
    default:
      throw METHOD_NOT_ALLOWED();
  }
}

/** PATCH with `application/apply-patch+yaml`: server-side apply, creating the object when it does not exist. */
async function serverSideApply(
  ctx: ServerContext,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
  sub: 'status' | undefined,
  q: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const manager = q.get('fieldManager') ?? '';
  if (!manager) throw invalidOptions('fieldManager', 'Required value: is required for apply patch');
  if (manager.length > 128) throw invalidOptions('fieldManager', 'Too long: may not be more than 128 bytes');
  const force = q.get('force') === 'true';
  const text = await readText(req);
  let config: KubeObject;
  try {
    config = parseYaml(text) as KubeObject;
  } catch (err) {
    throw badRequest(`error decoding YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw badRequest('error decoding YAML: the patch is not an object');
  if (config.apiVersion !== apiVersionOf(type))
    throw badRequest(
      `Incorrect version specified in apply patch. Specified patch version: ${String(config.apiVersion ?? '')}, expected: ${apiVersionOf(type)}`,
    );
  if (config.kind !== type.kind)
    throw badRequest(`Incorrect kind specified in apply patch. Specified patch kind: ${String(config.kind ?? '')}, expected: ${type.kind}`);
  config.metadata ??= {};
  if (config.metadata.name !== undefined && config.metadata.name !== name)
    throw badRequest(`the name of the object (${config.metadata.name}) does not match the name on the URL (${name})`);
  if (type.namespaced && config.metadata.namespace !== undefined && config.metadata.namespace !== namespace)
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  if (config.metadata.managedFields !== undefined) throw badRequest('metadata.managedFields must be nil');
  const live = ctx.store.find(type, namespace, name);
  const who = { manager, apiVersion: apiVersionOf(type), time: rfc3339(ctx.store.now()), ...(sub ? { subresource: sub } : {}) };
  if (!live) {
    if (sub) throw notFound(type, name);
    const result = apply(undefined, config, who, force);
    const obj = result.object;
    obj.metadata = { ...obj.metadata, name, ...(type.namespaced ? { namespace } : {}) };
    return send(res, 201, ctx.store.create(type, namespace, obj, { managedFields: result.managedFields }));
  }
  const rv = config.metadata.resourceVersion;
  if (rv !== undefined && rv !== live.metadata.resourceVersion) throw conflict(type, name);
  const result = apply(live, config, who, force);
  const next = result.object;
  delete next.metadata.resourceVersion;
  return send(res, 200, ctx.store.update(type, namespace, name, next, sub, { managedFields: result.managedFields }));
}

/** The autoscaling/v1 Scale of a Deployment or ReplicaSet. */
function scaleView(type: ResourceType, o: KubeObject): unknown {
  const s = type.scale!;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      uid: o.metadata.uid,
      resourceVersion: o.metadata.resourceVersion,
      creationTimestamp: o.metadata.creationTimestamp,
    },
    spec: { replicas: s.specReplicas(o) },
    status: { replicas: s.statusReplicas(o), selector: s.selector(o) },
  };
}

async function scale(
  ctx: ServerContext,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
  method: string,
  q: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
  info: { method: string; path: string; watch: boolean },
): Promise<void> {
  const current = ctx.store.get(type, namespace, name);
  if (method === 'GET') return send(res, 200, scaleView(type, current));
  if (method !== 'PUT' && method !== 'PATCH') throw METHOD_NOT_ALLOWED();
  const injected = ctx.faults.conflictFor(info, type, name);
  if (injected) throw injected;
  const view = scaleView(type, current) as { metadata: { resourceVersion?: string }; spec: { replicas?: number } };
  const body = await readBody(req);
  let next: typeof view;
  if (method === 'PUT') next = body as typeof view;
  else {
    const ct = contentTypeOf(req);
    if (ct === 'application/merge-patch+json') next = mergePatch(view, body) as typeof view;
    else if (ct === 'application/strategic-merge-patch+json') next = strategicMergePatch(view, body) as typeof view;
    else if (ct === 'application/json-patch+json') next = jsonPatch(view, body) as typeof view;
    else throw new ApiError(415, 'UnsupportedMediaType', `the simulator does not implement ${ct || 'this patch type'} on /scale`);
  }
  const rv = next?.metadata?.resourceVersion;
  if (method === 'PUT' && rv && rv !== current.metadata.resourceVersion) throw conflict(type, name);
  const replicas = next?.spec?.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)
    throw new ApiError(
      422,
      'Invalid',
      `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
      {
        name,
        group: 'autoscaling',
        kind: 'Scale',
        causes: [
          {
            reason: 'FieldValueInvalid',
            message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
            field: 'spec.replicas',
          },
        ],
      },
    );
  const updated = ctx.store.mutate(type, namespace, name, (o) => type.scale!.setReplicas(o, replicas), undefined, {
    manager: managerOf(req, q),
    subresource: 'scale',
  })!;
  return send(res, 200, scaleView(type, updated));
}

/** `[scheme:]name[:port]`, as the proxy subresource names its target. */
function proxyTarget(spec: string): { name: string; port: string | undefined } {
  const parts = spec.split(':');
  if (parts.length === 3) return { name: parts[1], port: parts[2] };
  if (parts.length === 2 && (parts[0] === 'http' || parts[0] === 'https')) return { name: parts[1], port: undefined };
  return { name: parts[0], port: parts[1] };
}

/**
 * The API server's proxy to a pod or service port: requests reach the local port that stands in
 * for the container port (a `serve` behaviour, or a process from `exec`); a Service proxies to one
 * of its ready endpoints, in turn.
 */
async function proxy(
  ctx: ServerContext,
  type: ResourceType,
  ns: string,
  spec: string,
  proxyPath: string,
  search: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { name, port } = proxyTarget(spec);
  let pod: Pod;
  let containerPort: number | string;
  if (type === serviceType) {
    const svc = ctx.store.get(serviceType, ns, name) as Service;
    const sp = (svc.spec.ports ?? []).find((p) => port === undefined || p.name === port || String(p.port) === port);
    if (!sp) throw new ApiError(503, 'ServiceUnavailable', `no endpoints available for service "${name}"`);
    const slices = ctx.store.list(
      endpointSliceType,
      ns,
      (o) => o.metadata.labels?.['kubernetes.io/service-name'] === name,
    ) as EndpointSlice[];
    const candidates: { pod: string; port: number }[] = [];
    for (const s of slices) {
      const p = (s.ports ?? []).find((x) => (x.name ?? '') === (sp.name ?? ''));
      if (!p?.port) continue;
      for (const e of s.endpoints ?? [])
        if (e.conditions.ready !== false && e.targetRef) candidates.push({ pod: e.targetRef.name, port: p.port });
    }
    if (candidates.length === 0) throw new ApiError(503, 'ServiceUnavailable', `no endpoints available for service "${name}"`);
    const pick = candidates[rotate++ % candidates.length];
    pod = ctx.store.get(podType, ns, pick.pod) as Pod;
    containerPort = pick.port;
  } else {
    pod = ctx.store.get(podType, ns, name) as Pod;
    containerPort =
      port === undefined ? (pod.spec.containers[0]?.ports?.[0]?.containerPort ?? 80) : /^\d+$/.test(port) ? Number(port) : port;
  }
  const local = ctx.kubelet.hostPort(ns, pod.metadata.name!, containerPort);
  const ip = pod.status?.podIP ?? '';
  if (local === undefined)
    throw new ApiError(
      503,
      'ServiceUnavailable',
      `error trying to reach service: dial tcp ${ip}:${String(containerPort)}: connect: connection refused`,
    );
  const headers = { ...req.headers };
  delete headers.host;
  delete headers.authorization;
  await new Promise<void>((resolve) => {
    const upstream = httpRequest({ host: '127.0.0.1', port: local, method: req.method, path: `/${proxyPath}${search}`, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
      up.on('end', resolve);
      up.on('error', () => resolve());
    });
    upstream.on('error', (err) => {
      if (!res.headersSent)
        sendError(
          res,
          new ApiError(503, 'ServiceUnavailable', `error trying to reach service: dial tcp ${ip}:${String(containerPort)}: ${err.message}`),
        );
      else res.destroy();
      resolve();
    });
    req.pipe(upstream);
  });
}

let rotate = 0;

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
  const injected = ctx.faults.goneFor({ method: 'GET', path: new URL(req.url ?? '/', 'http://sim').pathname, watch: true });
  const expired = gone(`too old resource version: ${rvParam || '0'} (${ctx.store.resourceVersion()})`);
  if (injected === 'http') return sendError(res, expired);
  const inScope = (o: KubeObject): boolean => !type.namespaced || ns === undefined || o.metadata.namespace === ns;
  const matches = (o: KubeObject | undefined): boolean => o !== undefined && inScope(o) && filter(o);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  const write = (t: string, object: unknown): void => {
    res.write(`${JSON.stringify({ type: t, object })}\n`);
  };
  if (injected === 'event') {
    write('ERROR', expired.toStatus());
    res.end();
    return;
  }
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
    destroy: () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      ctx.streams.delete(stream);
      if (timer) clearTimeout(timer);
      res.destroy();
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

/**
 * Which run of a container a log request reads, as the kubelet's validateContainerLogStatus
 * decides: `previous` is the run in lastState (while CrashLoopBackOff waits, the one that just
 * crashed); otherwise the running one, else the last terminated one; a waiting container with no
 * run before answers 400 with the kubelet's words.
 */
function logContainerId(s: ContainerStatus, pod: string, previous: boolean): string {
  const c = `container "${s.name}" in pod "${pod}"`;
  const last = s.lastState.terminated as { containerID?: string } | undefined;
  const terminated = s.state.terminated as { containerID?: string } | undefined;
  if (previous) {
    if (!last?.containerID) throw badRequest(`previous terminated container "${s.name}" in pod "${pod}" not found`);
    return last.containerID;
  }
  if (s.state.running && s.containerID) return s.containerID;
  if (terminated) {
    const id = terminated.containerID || last?.containerID;
    if (!id) throw badRequest(`${c} is terminated`);
    return id;
  }
  if (last) {
    if (!last.containerID) throw badRequest(`${c} is terminated`);
    return last.containerID;
  }
  const reason = s.state.waiting?.reason;
  if (reason === 'ErrImagePull') throw badRequest(`${c} is waiting to start: image can't be pulled`);
  if (reason === 'ImagePullBackOff') throw badRequest(`${c} is waiting to start: trying and failing to pull image`);
  if (reason) throw badRequest(`${c} is waiting to start: ${reason}`);
  throw badRequest(`${c} is waiting to start - no logs yet`);
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
  const initNames = (pod.spec.initContainers ?? []).map((c) => c.name);
  let container = q.get('container') ?? '';
  if (!container) {
    if (names.length !== 1)
      throw badRequest(
        `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]${initNames.length ? ` or one of the init containers: [${initNames.join(' ')}]` : ''}`,
      );
    container = names[0]!;
  }
  if (!names.includes(container) && !initNames.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  const status = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].find((s) => s.name === container);
  const previous = q.get('previous') === 'true';
  if (!status) throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
  const log = ctx.logs.byId(pod.metadata.uid!, container, logContainerId(status, name, previous));
  if (!log) throw badRequest(`container "${container}" in pod "${name}" is waiting to start - no logs yet`);
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
    destroy: () => {
      stream.end();
      res.destroy();
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
