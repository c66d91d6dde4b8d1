/**
 * The admin API: on 127.0.0.1 only, on its own port (off unless --admin-port), optionally behind
 * `Authorization: Bearer <token>`. It changes what is served without dropping requests in flight:
 *
 *   GET    /admin/models                                   every loaded version, its labels and faults
 *   POST   /admin/models {"source", "name"?, "version"?, "labels"?}    load (201 once warmed up)
 *   DELETE /admin/models/{name}/versions/{v}               unload (after the requests holding it finish)
 *   PUT    /admin/models/{name}/labels/{label} {"version": 4}          point a label at a loaded version
 *   DELETE /admin/models/{name}/labels/{label}
 *   GET    /admin/faults                                   (with --allow-fault-injection only)
 *   PUT    /admin/faults {"model", "version"?, "latencyMs"?, "errorRate"?}
 *   DELETE /admin/faults                                   clear every fault
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { ConfigurationError, errorMessage, type Logger, ModelshipError } from '../util/index.ts';
import { discardBody, parseJsonObject, readBody } from './body.ts';
import { HttpError, badRequest } from './http-error.ts';
import type { Faults } from './models.ts';
import { modelSpecSchema } from './options.ts';
import type { ModelServer, VersionInfo } from './server.ts';

const ADMIN_MAX_BODY = 64 * 1024;

export interface AdminControl {
  load: ModelServer['load'];
  unload: ModelServer['unload'];
  setLabel: ModelServer['setLabel'];
  deleteLabel: ModelServer['deleteLabel'];
  setFaults: ModelServer['setFaults'];
  models: ModelServer['models'];
  clearFaults(): void;
  allowsFaults(): boolean;
}

export interface AdminOptions {
  readonly token: string | undefined;
  readonly maxJsonDepth: number;
  readonly log: Logger;
}

const versionValue = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^[1-9][0-9]{0,8}$/)
    .transform(Number),
]);
const labelBody = z.strictObject({ version: versionValue });
const faultsBody = z.strictObject({
  model: z.string().min(1),
  version: versionValue.optional(),
  latencyMs: z.number().min(0).max(600_000).optional(),
  errorRate: z.number().min(0).max(1).optional(),
});

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function bodyError(err: z.ZodError): HttpError {
  const i = err.issues[0];
  return badRequest(`${i.path.map(String).join('.') || 'body'}: ${i.message.replace(/^Invalid input: /, '')}`);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function json(req: IncomingMessage, maxDepth: number): Promise<Record<string, unknown>> {
  return parseJsonObject(await readBody(req, ADMIN_MAX_BODY), maxDepth);
}

function faultsView(models: readonly VersionInfo[]): object {
  return { faults: models.map((m) => ({ model: m.name, version: String(m.version), ...m.faults })) };
}

export async function handleAdmin(ctl: AdminControl, req: IncomingMessage, res: ServerResponse, opts: AdminOptions): Promise<void> {
  try {
    if (!authorized(req, opts.token))
      throw new HttpError(401, 'admin API: missing or wrong bearer token.', { 'WWW-Authenticate': 'Bearer' });
    const method = req.method ?? 'GET';
    const url = (req.url ?? '/').split('?')[0];
    const parts = url.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'admin') throw new HttpError(404, `Not found: ${url.slice(0, 200)}`);
    const [, resource, name, sub, key] = parts;
    if (resource === 'models' && name === undefined) {
      if (method === 'GET') return send(res, 200, { models: ctl.models() });
      if (method === 'POST') {
        const parsed = modelSpecSchema.safeParse(await json(req, opts.maxJsonDepth));
        if (!parsed.success) throw bodyError(parsed.error);
        const info = await ctl.load(parsed.data);
        return send(res, 201, info);
      }
      throw new HttpError(405, `Method ${method} is not allowed on /admin/models; use GET or POST.`, { Allow: 'GET, POST' });
    }
    if (resource === 'models' && name !== undefined && sub === 'versions' && key !== undefined && parts.length === 5) {
      if (method !== 'DELETE') throw new HttpError(405, 'use DELETE to unload a version.', { Allow: 'DELETE' });
      if (!/^[1-9][0-9]{0,8}$/.test(key)) throw badRequest(`version '${key.slice(0, 20)}' is not a version number.`);
      await ctl.unload(name, Number(key));
      return send(res, 200, { unloaded: { name, version: key } });
    }
    if (resource === 'models' && name !== undefined && sub === 'labels' && key !== undefined && parts.length === 5) {
      if (method === 'PUT') {
        const parsed = labelBody.safeParse(await json(req, opts.maxJsonDepth));
        if (!parsed.success) throw bodyError(parsed.error);
        const moved = ctl.setLabel(name, key, parsed.data.version);
        return send(res, 200, { model: name, label: key, ...moved });
      }
      if (method === 'DELETE') {
        ctl.deleteLabel(name, key);
        return send(res, 200, { model: name, label: key, deleted: true });
      }
      throw new HttpError(405, 'use PUT or DELETE on a label.', { Allow: 'PUT, DELETE' });
    }
    if (resource === 'faults' && name === undefined) {
      if (!ctl.allowsFaults())
        throw new HttpError(403, 'fault injection is off; start the server with --allow-fault-injection (test servers only).');
      if (method === 'GET') return send(res, 200, faultsView(ctl.models()));
      if (method === 'PUT') {
        const parsed = faultsBody.safeParse(await json(req, opts.maxJsonDepth));
        if (!parsed.success) throw bodyError(parsed.error);
        const { model, version, ...rest } = parsed.data;
        const faults: Partial<Faults> = {
          ...(rest.latencyMs !== undefined ? { latencyMs: rest.latencyMs } : {}),
          ...(rest.errorRate !== undefined ? { errorRate: rest.errorRate } : {}),
        };
        return send(res, 200, faultsView(ctl.setFaults(model, version, faults)));
      }
      if (method === 'DELETE') {
        ctl.clearFaults();
        return send(res, 200, faultsView(ctl.models()));
      }
      throw new HttpError(405, 'use GET, PUT or DELETE on /admin/faults.', { Allow: 'GET, PUT, DELETE' });
    }
    throw new HttpError(404, `Not found: ${method} ${url.slice(0, 200)}`);
  } catch (err) {
    let status = 500;
    let body: { error: string; hint?: string };
    if (err instanceof HttpError) {
      status = err.status;
      body = { error: err.message };
    } else if (err instanceof ConfigurationError || err instanceof ModelshipError) {
      status = err instanceof ConfigurationError ? 400 : 502;
      body = { error: err.message, ...(err.hint ? { hint: err.hint } : {}) };
    } else if (err instanceof URIError) {
      status = 400;
      body = { error: 'admin API: bad percent-encoding in the path.' };
    } else {
      body = { error: `Internal error: ${errorMessage(err)}` };
    }
    if (status >= 500) opts.log.warning(`admin ${req.method ?? ''} ${req.url ?? ''}: ${body.error}`);
    const headers: Record<string, string> = err instanceof HttpError ? { ...err.headers } : {};
    // The rest of an unread body is drained (bounded) so the client can read this answer; closing
    // the connection now would hand it a broken pipe instead.
    if (!req.complete) discardBody(req);
    if (!res.headersSent) send(res, status, body, headers);
  }
}
