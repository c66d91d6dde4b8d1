/**
 * The public URL space, parsed into data (pure):
 *
 *   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]                 TF Serving model status
 *   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]/metadata        TF Serving model metadata
 *   POST /v1/models/{m}[/versions/{v}|/labels/{l}]:predict|:classify|:regress|:feedback
 *   GET  /v2                                                      V2 server metadata
 *   GET  /v2/health/live, /v2/health/ready
 *   GET  /v2/models/{m}[/versions/{v}], …/ready                    V2 model metadata, readiness
 *   POST /v2/models/{m}[/versions/{v}]/infer
 *   GET  /metrics                                                 Prometheus
 */
import { HttpError, badRequest } from './http-error.ts';
import type { Selector } from './models.ts';

export type Verb = 'predict' | 'classify' | 'regress' | 'feedback';

export type Route =
  | { readonly kind: 'tf-status'; readonly model: string; readonly sel: Selector }
  | { readonly kind: 'tf-metadata'; readonly model: string; readonly sel: Selector }
  | { readonly kind: 'tf-verb'; readonly model: string; readonly sel: Selector; readonly verb: Verb }
  | { readonly kind: 'v2-server' }
  | { readonly kind: 'v2-live' }
  | { readonly kind: 'v2-ready' }
  | { readonly kind: 'v2-model'; readonly model: string; readonly sel: Selector }
  | { readonly kind: 'v2-model-ready'; readonly model: string; readonly sel: Selector }
  | { readonly kind: 'v2-infer'; readonly model: string; readonly sel: Selector }
  | { readonly kind: 'metrics' };

const TF_RE =
  /^\/v1\/models\/([^/:]+)(?:\/versions\/([^/:]+)|\/labels\/([^/:]+))?(?::(predict|classify|regress|feedback)|\/(metadata))?\/?$/;
const V2_MODEL_RE = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(?:\/(ready|infer))?\/?$/;

function methodCheck(method: string, allowed: 'GET' | 'POST', path: string): void {
  const ok = method === allowed || (allowed === 'GET' && method === 'HEAD');
  if (!ok)
    throw new HttpError(405, `Method ${method.slice(0, 10)} is not allowed on ${path.slice(0, 200)}; use ${allowed}.`, { Allow: allowed });
}

/** Parses a request line into a route; 404/405/400 as an HttpError otherwise. */
export function parseRoute(method: string, rawUrl: string): Route {
  const q = rawUrl.indexOf('?');
  let path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  try {
    path = decodeURIComponent(path);
  } catch {
    throw badRequest(`Malformed request: ${method} ${rawUrl.slice(0, 200)} (bad percent-encoding)`);
  }
  if (path === '/metrics') {
    methodCheck(method, 'GET', path);
    return { kind: 'metrics' };
  }
  if (path.startsWith('/v1/')) {
    const m = TF_RE.exec(path);
    if (!m) throw badRequest(`Malformed request: ${method} ${path.slice(0, 200)}`);
    const [, model, version, label, verb, metadata] = m;
    const sel: Selector =
      version !== undefined ? { kind: 'version', version } : label !== undefined ? { kind: 'label', label } : { kind: 'latest' };
    if (verb !== undefined) {
      methodCheck(method, 'POST', path);
      return { kind: 'tf-verb', model, sel, verb: verb as Verb };
    }
    methodCheck(method, 'GET', path);
    return metadata !== undefined ? { kind: 'tf-metadata', model, sel } : { kind: 'tf-status', model, sel };
  }
  if (path === '/v2' || path === '/v2/') {
    methodCheck(method, 'GET', path);
    return { kind: 'v2-server' };
  }
  if (path === '/v2/health/live' || path === '/v2/health/ready') {
    methodCheck(method, 'GET', path);
    return { kind: path.endsWith('live') ? 'v2-live' : 'v2-ready' };
  }
  const v2 = V2_MODEL_RE.exec(path);
  if (v2) {
    const [, model, version, action] = v2;
    const sel: Selector = version !== undefined ? { kind: 'version', version } : { kind: 'latest' };
    if (action === 'infer') {
      methodCheck(method, 'POST', path);
      return { kind: 'v2-infer', model, sel };
    }
    methodCheck(method, 'GET', path);
    return action === 'ready' ? { kind: 'v2-model-ready', model, sel } : { kind: 'v2-model', model, sel };
  }
  throw new HttpError(
    404,
    `Not found: ${path.slice(0, 200)}. The server answers /v1/models/… (TF Serving REST), /v2/… (Open Inference Protocol) and /metrics.`,
  );
}
