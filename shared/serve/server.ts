/**
 * The model server: node:http on the public port (TF Serving REST, Open Inference Protocol,
 * /metrics), an optional admin API on 127.0.0.1, dynamic batching per model version, an inference
 * worker for the model calls.
 *
 *   const server = await startServer({ models: [{ source: 'fashion@production' }], port: 0 });
 *   const info = await server.ready;     // loaded and warmed up; info.line is the ready line
 *   …
 *   await server.close();                // readiness false, requests in flight finish, then stop
 *
 * `startServer` resolves once the ports listen (the URL is known); `ready` resolves when every
 * listed model has loaded and answered one warm-up prediction, and rejects when one cannot load.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pkg from '../../package.json' with { type: 'json' };
import type { BackendInfo } from '../model/index.ts';
import { ConfigurationError, errorMessage, type Logger, ModelshipError, silentLogger } from '../util/index.ts';
import type { FeedbackStore } from '../feedback/index.ts';
import { handleAdmin, type AdminControl } from './admin.ts';
import { Scheduler, assemble, type Batch } from './batcher.ts';
import { discardBody, parseJsonObject, readBody } from './body.ts';
import { FeedbackDesk, REQUEST_ID_RE } from './feedback.ts';
import { HttpError, badRequest, notFound } from './http-error.ts';
import { binsFromEdges, ServerMetrics, type Api, type Bins } from './metrics.ts';
import { ModelTable, NO_FAULTS, Slot, type Faults, type Selector } from './models.ts';
import { parseServerOptions, type ModelSpec, type ResolvedServerOptions, type ServerOptions } from './options.ts';
import {
  classifyResponse,
  inferResponse,
  metadataResponse,
  predictResponse,
  regressResponse,
  statusResponse,
  v2MetadataResponse,
} from './responses.ts';
import { RecentRequests } from './recent.ts';
import { parseRoute, type Route } from './routes.ts';
import { createRunner, type Runner } from './runner.ts';
import { resolveSource, type SourceContext } from './sources.ts';
import { fastPredict, parseExamples, parseInfer, parsePredict, type ParsedInput } from './tensors.ts';

/** Largest image a `{"b64": …}` input may decode to (pixels): a guard against decompression bombs. */
export const MAX_SERVE_IMAGE_PIXELS = 4096 * 4096;

export interface VersionInfo {
  readonly name: string;
  readonly version: number;
  readonly digest: string;
  readonly labels: readonly string[];
  readonly source: string;
  readonly state: 'AVAILABLE' | 'UNLOADING';
  readonly loadSeconds: number;
  readonly faults: Faults;
}

export interface ReadyInfo {
  readonly url: string;
  readonly adminUrl?: string;
  readonly models: readonly VersionInfo[];
  readonly backend: string;
  readonly backendReason: string;
  readonly inference: 'worker' | 'inline';
  /** Seconds from start to ready. */
  readonly loadSeconds: number;
  /** The one line printed when ready: `modelship serve ready url=… models=fashion:3(stable) backend=wasm load=1.2s`. */
  readonly line: string;
}

export interface ModelServer {
  readonly url: string;
  readonly adminUrl?: string;
  readonly ready: Promise<ReadyInfo>;
  isReady(): boolean;
  /** Readiness false, stop accepting, let requests in flight finish, stop everything. Idempotent. */
  close(): Promise<void>;
  /** The admin operations, for in-process callers (the admin API calls the same). */
  load(spec: Parameters<typeof resolveSource>[0] & { readonly labels?: readonly string[] }): Promise<VersionInfo>;
  unload(name: string, version: number): Promise<void>;
  setLabel(name: string, label: string, version: number): { readonly from?: number; readonly to: number };
  deleteLabel(name: string, label: string): void;
  setFaults(model: string, version: number | undefined, faults: Partial<Faults>): VersionInfo[];
  models(): VersionInfo[];
}

type Phase = 'starting' | 'ready' | 'draining' | 'closed';

interface RequestContext {
  api?: Api;
  model: string;
  version: string;
  slot?: Slot;
  inference: boolean;
  /** The request id of an inference request (the client's X-Request-Id, the V2 id, or a new one): answered in X-Request-Id. */
  requestId?: string;
}

/** The header that carries a prediction's request id, both ways. */
export const REQUEST_ID_HEADER = 'x-request-id';

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function formatLine(url: string, adminUrl: string | undefined, models: readonly VersionInfo[], backend: string, seconds: number): string {
  const list = models.map((m) => `${m.name}:${m.version}${m.labels.length ? `(${m.labels.join('+')})` : ''}`).join(',') || '-';
  return `modelship serve ready url=${url} models=${list} backend=${backend} load=${seconds.toFixed(1)}s${adminUrl ? ` admin=${adminUrl}` : ''}`;
}

function listen(server: Server, port: number, host: string, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new ConfigurationError(
            `${what} port ${port} on ${host} is in use.`,
            `Pick another ${what === 'admin' ? '--admin-port' : '--port'} (0 picks a free one).`,
          ),
        );
      } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
        reject(
          new ConfigurationError(
            `cannot listen on ${host}: no such local address.`,
            'Use --host 127.0.0.1, 0.0.0.0 (all interfaces) or an address of this machine.',
          ),
        );
      } else reject(err);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

class ServerImpl implements ModelServer, AdminControl {
  url = '';
  adminUrl: string | undefined;
  readonly ready: Promise<ReadyInfo>;
  private readonly opts: ResolvedServerOptions;
  private readonly log: Logger;
  private readonly table = new ModelTable();
  private readonly metrics: ServerMetrics;
  private readonly runner: Runner;
  private readonly scheduler: Scheduler<Slot>;
  private readonly http: Server;
  private admin: Server | undefined;
  private phase: Phase = 'starting';
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly loading = new Set<string>();
  private backend: BackendInfo | undefined;
  private failure: Error | undefined;
  private cacheDir: string | undefined;
  private ownCache = false;
  private closing: Promise<void> | undefined;
  private readonly startedAt = performance.now();
  private readonly recent: RecentRequests;
  private store: FeedbackStore | undefined;
  private desk: FeedbackDesk | undefined;
  private resolveReady!: (info: ReadyInfo) => void;
  private rejectReady!: (err: Error) => void;

  constructor(opts: ResolvedServerOptions, log: Logger) {
    this.opts = opts;
    this.log = log;
    this.ready = new Promise<ReadyInfo>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // A caller that never awaits `ready` must not crash the process with an unhandled rejection.
    this.ready.catch(() => undefined);
    this.metrics = new ServerMetrics(() =>
      this.table.slots().map((s) => ({ model: s.name, version: s.versionText, depth: s.queue.depth() })),
    );
    this.recent = new RecentRequests({ maxBytes: opts.feedbackCacheSize, maxAgeMs: opts.feedbackCacheMaxAgeMs });
    this.runner = createRunner(opts.inference, opts.backend, log, (err) => this.runnerFailed(err));
    // With an inference worker, one batch waits in the worker while another runs, so the worker never
    // idles waiting for the main thread; inline, one at a time.
    this.scheduler = new Scheduler<Slot>((slot, batch) => this.runBatch(slot, batch), this.runner.mode === 'worker' ? 2 : 1);
    this.http = createServer(
      { requestTimeout: opts.requestTimeoutMs, headersTimeout: Math.min(opts.requestTimeoutMs, 20_000) },
      (req, res) => {
        void this.onRequest(req, res);
      },
    );
    // `Expect: 100-continue` (curl sends it for large bodies): invite the body only when it may be read.
    this.http.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (!(Number(req.headers['content-length']) > opts.maxBodyBytes)) res.writeContinue();
      void this.onRequest(req, res);
    });
  }

  async listen(): Promise<void> {
    const port = await listen(this.http, this.opts.port, this.opts.host, 'public');
    this.url = `http://${hostForUrl(this.opts.host)}:${port}`;
    if (this.opts.adminPort !== undefined) {
      this.admin = createServer({ requestTimeout: this.opts.requestTimeoutMs }, (req, res) => {
        void handleAdmin(this, req, res, { token: this.opts.adminToken, maxJsonDepth: this.opts.maxJsonDepth, log: this.log });
      });
      try {
        const adminPort = await listen(this.admin, this.opts.adminPort, '127.0.0.1', 'admin');
        this.adminUrl = `http://127.0.0.1:${adminPort}`;
      } catch (err) {
        this.admin = undefined;
        throw err;
      }
    }
  }

  /** Loads the listed models, then applies the labels; resolves `ready` or rejects it. */
  async startup(): Promise<void> {
    try {
      this.backend = await this.runner.start();
      await this.openFeedback();
      for (const spec of this.opts.models) await this.loadSpec(spec);
      const names = this.table.names();
      for (const l of this.opts.labels) {
        const model = l.model ?? (names.length === 1 ? names[0] : undefined);
        if (!model) {
          throw new ConfigurationError(
            `label ${l.label}=${l.version} does not say which model (${names.join(', ')} are served).`,
            `Write --label ${l.label}=<model>:${l.version}.`,
          );
        }
        try {
          this.setLabel(model, l.label, l.version);
        } catch (err) {
          throw new ConfigurationError(
            `label ${l.label}: ${errorMessage(err)}`,
            `Load ${model} version ${l.version}, or point the label at a loaded version.`,
          );
        }
      }
      if (this.phase !== 'starting') throw new ModelshipError('the server was closed while it was starting.');
      if (this.failure) throw this.failure;
      this.phase = 'ready';
      const seconds = (performance.now() - this.startedAt) / 1000;
      const models = this.models();
      const backend = this.backend;
      this.resolveReady({
        url: this.url,
        ...(this.adminUrl ? { adminUrl: this.adminUrl } : {}),
        models,
        backend: backend.name,
        backendReason: backend.reason,
        inference: this.runner.mode,
        loadSeconds: seconds,
        line: formatLine(this.url, this.adminUrl, models, backend.name, seconds),
      });
    } catch (err) {
      if (err instanceof HttpError) {
        // A conflict among the listed models (two folders as the same version) is a configuration mistake.
        this.rejectReady(
          new ConfigurationError(
            err.message,
            'Give each folder of one model its own version (serve: models: versions: [{source, version}]).',
          ),
        );
      } else this.rejectReady(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The feedback desk: the recent-requests cache, the store (when a folder is set) and the counters. */
  private async openFeedback(): Promise<void> {
    const o = this.opts;
    if (o.feedbackDir !== null) {
      const { FeedbackStore } = await import('../feedback/index.ts');
      this.store = new FeedbackStore({
        dir: path.resolve(o.cwd ?? process.cwd(), o.feedbackDir),
        segmentBytes: o.feedbackSegmentBytes,
        maxBytes: o.feedbackMaxBytes,
        fsync: o.feedbackFsync,
        log: this.log,
      });
    }
    this.desk = new FeedbackDesk({ recent: this.recent, store: this.store, metrics: this.metrics, log: this.log });
  }

  isReady(): boolean {
    return this.phase === 'ready' && !this.failure;
  }

  private runnerFailed(err: Error): void {
    this.failure = err;
    this.log.warning(`${err.message} The server is no longer ready; restart it.`);
    for (const s of this.table.slots()) s.queue.failAll(new HttpError(500, err.message));
  }

  private sourceContext(): SourceContext {
    const o = this.opts;
    return {
      cwd: o.cwd ?? process.cwd(),
      log: this.log,
      ...(o.registry ? { registry: o.registry } : {}),
      ...(o.registryUsername ? { username: o.registryUsername } : {}),
      ...(o.registryPassword ? { password: o.registryPassword } : {}),
      ...(o.defaultName ? { defaultName: o.defaultName } : {}),
      cacheDir: async () => {
        if (!this.cacheDir) {
          if (o.cacheDir) this.cacheDir = path.resolve(o.cwd ?? process.cwd(), o.cacheDir);
          else {
            this.cacheDir = await mkdtemp(path.join(os.tmpdir(), 'modelship-serve-'));
            this.ownCache = true;
          }
        }
        return this.cacheDir;
      },
    };
  }

  private async binsOf(slot: Slot): Promise<Bins | undefined> {
    const edges = slot.metadata.reference?.histogram?.edges;
    if (Array.isArray(edges) && edges.length >= 2 && edges.every((e, i) => Number.isFinite(e) && (i === 0 || e > edges[i - 1]))) {
      return binsFromEdges(edges);
    }
    if (slot.sig.dtype === 'uint8') {
      const { PIXEL_BINS } = await import('../data/index.ts');
      return binsFromEdges(Array.from({ length: PIXEL_BINS + 1 }, (_, i) => (i * 256) / PIXEL_BINS));
    }
    this.log.info(
      `${slot.key}: no reference statistics in modelship.json, so no modelship_input_values series for it (retrain to record them).`,
    );
    return undefined;
  }

  /** Resolves, loads and warms up one version, then routes to it. */
  async loadSpec(spec: ModelSpec | (Parameters<ModelServer['load']>[0] & { labels?: readonly string[] })): Promise<VersionInfo> {
    if (this.phase === 'draining' || this.phase === 'closed') throw new HttpError(503, 'the server is shutting down.');
    const t0 = performance.now();
    const src = await resolveSource(spec, this.sourceContext(), 'model');
    const key = `${src.name}:${src.version}`;
    if (this.table.has(src.name, src.version) || this.loading.has(key)) {
      throw new HttpError(
        409,
        `${src.name} version ${src.version} is already loaded (from ${src.source}); unload it first, or give another version.`,
      );
    }
    this.loading.add(key);
    try {
      const loaded = await this.runner.load(src.dir);
      const slot = new Slot({
        name: src.name,
        version: src.version,
        digest: src.digest,
        source: src.source,
        dir: src.dir,
        metadata: loaded.metadata,
        handle: loaded.handle,
        batching: this.opts,
        loadSeconds: (performance.now() - t0) / 1000,
      });
      if (this.opts.allowFaultInjection) slot.setFaults({ latencyMs: this.opts.injectLatencyMs, errorRate: this.opts.injectErrorRate });
      this.metrics.addVersion(slot.key, slot.series, slot.digest, slot.sig.classes, await this.binsOf(slot));
      this.table.add(slot);
      this.scheduler.add(slot);
      this.log.info(
        `loaded ${slot.key} from ${src.source} (${slot.sig.task}, input ${slot.sig.dtype} [${slot.sig.inputShape.join(',')}]) in ${slot.loadSeconds.toFixed(2)} s`,
      );
      const labels = spec.labels ?? (src.alias ? [src.alias] : []);
      for (const l of labels) this.setLabel(slot.name, l, slot.version);
      return this.info(slot);
    } finally {
      this.loading.delete(key);
    }
  }

  load(spec: Parameters<ModelServer['load']>[0]): Promise<VersionInfo> {
    return this.loadSpec(spec);
  }

  async unload(name: string, version: number): Promise<void> {
    const slot = this.table.remove(name, version);
    slot.state = 'UNLOADING';
    await slot.whenIdle();
    this.scheduler.remove(slot);
    this.metrics.removeVersion(slot.key, slot.digest);
    await this.runner.unload(slot.handle).catch(() => undefined);
    this.log.info(`unloaded ${slot.key}`);
  }

  setLabel(name: string, label: string, version: number): { from?: number; to: number } {
    const from = this.table.setLabel(name, label, version);
    this.metrics.setLabel(name, label, String(version), from !== undefined && from !== version ? String(from) : undefined);
    if (from !== version) this.log.info(`label ${name}@${label}: ${from === undefined ? '(new)' : `v${from}`} → v${version}`);
    return { ...(from !== undefined ? { from } : {}), to: version };
  }

  deleteLabel(name: string, label: string): void {
    const v = this.table.deleteLabel(name, label);
    this.metrics.setLabel(name, label, undefined, String(v));
  }

  setFaults(model: string, version: number | undefined, faults: Partial<Faults>): VersionInfo[] {
    if (!this.opts.allowFaultInjection) {
      throw new HttpError(403, 'fault injection is off; start the server with --allow-fault-injection (test servers only).');
    }
    const slots = this.table.versionsOf(model).filter((s) => version === undefined || s.version === version);
    if (slots.length === 0)
      throw notFound(`Servable not found for request: ${version === undefined ? `Latest(${model})` : `Specific(${model}, ${version})`}`);
    for (const s of slots) s.setFaults({ ...s.faults, ...faults });
    return slots.map((s) => this.info(s));
  }

  clearFaults(): void {
    for (const s of this.table.slots()) s.setFaults(NO_FAULTS);
  }

  allowsFaults(): boolean {
    return this.opts.allowFaultInjection;
  }

  private info(s: Slot): VersionInfo {
    return {
      name: s.name,
      version: s.version,
      digest: s.digest,
      labels: this.table.labelsOf(s),
      source: s.source,
      state: s.state,
      loadSeconds: s.loadSeconds,
      faults: s.faults,
    };
  }

  models(): VersionInfo[] {
    return this.table.slots().map((s) => this.info(s));
  }

  // ── requests ────────────────────────────────────────────────────────────────

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    this.inflight++;
    const ctx: RequestContext = { model: '', version: '', inference: false };
    let status = 200;
    try {
      const route = parseRoute(req.method ?? 'GET', req.url ?? '/');
      status = await this.dispatch(route, req, res, ctx);
    } catch (err) {
      status = this.sendError(req, res, err);
    } finally {
      ctx.slot?.release();
      if (ctx.api) this.metrics.request(ctx.model, ctx.version, ctx.api, status);
      if (ctx.inference && ctx.version !== '') this.metrics.requestDuration(ctx.model, ctx.version, (performance.now() - t0) / 1000);
      if (--this.inflight === 0) for (const f of this.idleWaiters.splice(0)) f();
    }
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): number {
    const text = JSON.stringify(body);
    const id = (res as ServerResponse & { requestId?: string }).requestId;
    const h: Record<string, string | number> = {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
      ...(id !== undefined ? { 'X-Request-Id': id } : {}),
      ...headers,
    };
    if (this.phase === 'draining' || this.phase === 'closed') h['Connection'] = 'close';
    res.writeHead(status, h);
    res.end(res.req.method === 'HEAD' ? undefined : text);
    return status;
  }

  private sendError(req: IncomingMessage, res: ServerResponse, err: unknown): number {
    let status = 500;
    let message: string;
    let headers: Record<string, string> = {};
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
      headers = { ...err.headers };
    } else {
      message = `Internal error: ${errorMessage(err)}`;
      this.log.warning(`request ${req.method ?? ''} ${(req.url ?? '').slice(0, 200)} failed: ${errorMessage(err)}`);
    }
    // The rest of an unread body is drained (bounded) so the client can read this answer; closing
    // the connection now would hand it a broken pipe instead.
    if (!req.complete) discardBody(req);
    if (res.headersSent) {
      res.destroy();
      return status;
    }
    return this.send(res, status, { error: message }, headers);
  }

  /** Resolves a model version, holding it until the response; labels the metrics. */
  private take(ctx: RequestContext, name: string, sel: Selector, v2: boolean): Slot {
    ctx.model = this.table.hasModel(name) ? name : '(unknown)';
    let slot: Slot;
    try {
      slot = this.table.resolve(name, sel);
    } catch (err) {
      if (ctx.model !== '(unknown)') ctx.version = '(unknown)';
      if (v2 && err instanceof HttpError && err.status === 404) {
        throw notFound(
          `Request for unknown model: '${name.slice(0, 100)}'${sel.kind === 'version' ? ` version ${sel.version.slice(0, 20)}` : ''} is not found`,
        );
      }
      throw err;
    }
    slot.acquire();
    ctx.slot = slot;
    ctx.version = slot.versionText;
    return slot;
  }

  private async dispatch(route: Route, req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<number> {
    switch (route.kind) {
      case 'metrics': {
        const text = await this.metrics.exposition();
        res.writeHead(200, { 'Content-Type': this.metrics.contentType(), 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
        return 200;
      }
      case 'v2-live':
        // Not live once the inference worker has died: a restart is the only remedy.
        ctx.api = 'health';
        return this.failure ? this.send(res, 503, { live: false, error: this.failure.message }) : this.send(res, 200, { live: true });
      case 'v2-ready':
        ctx.api = 'health';
        return this.isReady() ? this.send(res, 200, { ready: true }) : this.send(res, 503, { ready: false });
      case 'v2-server':
        ctx.api = 'health';
        return this.send(res, 200, { name: 'modelship', version: pkg.version, extensions: [] });
      case 'tf-status': {
        ctx.api = 'status';
        if (route.sel.kind === 'latest') {
          const versions = this.table.versionsOf(route.model);
          if (versions.length === 0) {
            ctx.model = '(unknown)';
            throw notFound(`Could not find any versions of model ${route.model.slice(0, 100)}`);
          }
          ctx.model = route.model;
          return this.send(res, 200, statusResponse(versions.map((s) => ({ version: s.versionText, state: s.state }))));
        }
        const slot = this.take(ctx, route.model, route.sel, false);
        return this.send(res, 200, statusResponse([{ version: slot.versionText, state: slot.state }]));
      }
      case 'tf-metadata': {
        ctx.api = 'metadata';
        const slot = this.take(ctx, route.model, route.sel, false);
        return this.send(res, 200, metadataResponse(slot.name, slot.versionText, slot.sig));
      }
      case 'v2-model': {
        ctx.api = 'metadata';
        const slot = this.take(ctx, route.model, route.sel, true);
        const versions = route.sel.kind === 'latest' ? this.table.versionsOf(slot.name).map((s) => s.versionText) : [slot.versionText];
        return this.send(res, 200, v2MetadataResponse(slot.name, versions, slot.sig));
      }
      case 'v2-model-ready': {
        ctx.api = 'status';
        const slot = this.take(ctx, route.model, route.sel, true);
        const ready = slot.state === 'AVAILABLE' && this.isReady();
        return this.send(res, ready ? 200 : 503, { name: slot.name, version: slot.versionText, ready });
      }
      case 'tf-verb': {
        ctx.api = route.verb;
        if (route.verb !== 'feedback') this.assignRequestId(req, res, ctx, undefined);
        const slot = this.take(ctx, route.model, route.sel, false);
        ctx.inference = route.verb !== 'feedback';
        const body = await readBody(req, this.opts.maxBodyBytes);
        if (route.verb === 'predict') {
          const parsed =
            fastPredict(body, slot.sig, this.opts.maxJsonDepth) ?? parsePredict(parseJsonObject(body, this.opts.maxJsonDepth), slot.sig);
          const out = await this.infer(slot, parsed);
          this.remember(ctx, slot, parsed, out);
          return this.send(res, 200, predictResponse(out, parsed.count, slot.sig, parsed.format));
        }
        const doc = parseJsonObject(body, this.opts.maxJsonDepth);
        if (route.verb === 'feedback') {
          const answer = await this.feedback(slot, route.sel, doc);
          return this.send(res, answer.status, answer.body);
        }
        const parsed = parseExamples(doc, slot.sig, route.verb);
        const out = await this.infer(slot, parsed);
        this.remember(ctx, slot, parsed, out);
        return this.send(
          res,
          200,
          route.verb === 'classify' ? classifyResponse(out, parsed.count, slot.sig) : regressResponse(out, parsed.count, slot.sig),
        );
      }
      case 'v2-infer': {
        ctx.api = 'infer';
        this.assignRequestId(req, res, ctx, undefined);
        const slot = this.take(ctx, route.model, route.sel, true);
        ctx.inference = true;
        const doc = parseJsonObject(await readBody(req, this.opts.maxBodyBytes), this.opts.maxJsonDepth);
        const parsed = parseInfer(doc, slot.sig, slot.name);
        // The V2 body's id names the request (and wins over the header).
        if (parsed.id !== undefined) this.assignRequestId(req, res, ctx, parsed.id);
        const out = await this.infer(slot, parsed.input);
        this.remember(ctx, slot, parsed.input, out);
        return this.send(
          res,
          200,
          inferResponse(out, parsed.input.count, slot.sig, {
            modelName: slot.name,
            version: slot.versionText,
            ...(ctx.requestId !== undefined ? { id: ctx.requestId } : {}),
            ...(parsed.outputs ? { outputs: parsed.outputs } : {}),
          }),
        );
      }
    }
  }

  private async decodeImages(slot: Slot, input: ParsedInput): Promise<void> {
    const image = slot.sig.image;
    if (!image || input.images.length === 0) return;
    const { decodeImage } = await import('../data/index.ts');
    const per = slot.sig.perExample;
    await Promise.all(
      input.images.map(async (im) => {
        let pixels: Buffer;
        try {
          pixels = await decodeImage(im.bytes, image, { resize: 'if-needed', maxPixels: MAX_SERVE_IMAGE_PIXELS });
        } catch (err) {
          throw badRequest(
            `example ${im.index}: the {"b64": …} image cannot be decoded (${errorMessage(err).split('\n')[0].slice(0, 200)}). The model takes PNG or JPEG images of at most ${MAX_SERVE_IMAGE_PIXELS} pixels, resized to ${image.width}x${image.height} with ${image.channels} channel${image.channels > 1 ? 's' : ''}.`,
          );
        }
        input.x.set(pixels, im.index * per);
      }),
    );
  }

  /** Faults, then the batching queue; resolves with the model's output rows. */
  private async infer(slot: Slot, input: ParsedInput): Promise<Float32Array> {
    const capacity = this.opts.maxBatchSize * this.opts.maxEnqueuedBatches;
    if (input.count > capacity) {
      throw badRequest(
        `Task size ${input.count} is larger than the batching queue holds (${this.opts.maxEnqueuedBatches} batches of ${this.opts.maxBatchSize} examples = ${capacity}); send fewer examples per request.`,
      );
    }
    await this.decodeImages(slot, input);
    if (this.failure) throw new HttpError(500, this.failure.message);
    const { latencyMs } = slot.faults;
    if (slot.injectError()) {
      if (latencyMs > 0) await sleep(latencyMs);
      throw new HttpError(
        500,
        `Injected fault: ${slot.key} answers ${Math.round(slot.faults.errorRate * 100)}% of inference requests with 500 (--allow-fault-injection).`,
      );
    }
    if (this.metrics.hasInputHistogram(slot.key)) this.metrics.inputs(slot.key, input.x);
    const out = await new Promise<Float32Array>((resolve, reject) => {
      const now = performance.now();
      const ok = slot.queue.offer({ x: input.x, count: input.count, enqueuedAt: now, outputs: slot.sig.outputs, resolve, reject }, now);
      if (!ok) {
        reject(
          new HttpError(
            503,
            `The batch scheduling queue to which this task was submitted is full (${slot.key}: ${this.opts.maxEnqueuedBatches} batches of up to ${this.opts.maxBatchSize} examples).`,
            { 'Retry-After': '1' },
          ),
        );
        return;
      }
      this.scheduler.kick();
    });
    if (latencyMs > 0) await sleep(latencyMs);
    return out;
  }

  private async runBatch(slot: Slot, batch: Batch): Promise<void> {
    const now = performance.now();
    for (const p of batch.parts) if (p.start + p.count === p.task.count) this.metrics.waited(slot.series, (now - p.task.enqueuedAt) / 1000);
    this.metrics.batch(slot.series, batch.size);
    const x = assemble(batch, slot.sig.perExample);
    let out: Float32Array;
    try {
      out = await this.runner.predict(slot.handle, x, batch.size);
    } catch (err) {
      slot.queue.fail(batch, new HttpError(500, `Prediction failed: ${errorMessage(err)}`));
      return;
    }
    this.metrics.outputs(slot.key, out, batch.size, slot.sig.outputs);
    slot.queue.complete(batch, out);
  }

  /**
   * The request id of an inference request: `given` (the V2 body's id), else the client's
   * X-Request-Id, else a new UUID. It is answered in the X-Request-Id header (errors included).
   */
  private assignRequestId(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, given: string | undefined): void {
    let id = given;
    if (id === undefined) {
      const h = req.headers[REQUEST_ID_HEADER];
      const header = Array.isArray(h) ? h[0] : h;
      if (header !== undefined && header !== '') {
        if (!REQUEST_ID_RE.test(header)) {
          throw badRequest(
            `The X-Request-Id header must be 1 to 256 printable ASCII characters without spaces; got ${JSON.stringify(header.slice(0, 60))}.`,
          );
        }
        id = header;
      }
    } else if (!REQUEST_ID_RE.test(id)) {
      throw badRequest(
        `'id' must be 1 to 256 printable ASCII characters without spaces (it is answered in the X-Request-Id header); got ${JSON.stringify(id.slice(0, 60))}.`,
      );
    }
    ctx.requestId = id ?? randomUUID();
    (res as ServerResponse & { requestId?: string }).requestId = ctx.requestId;
  }

  /** Keeps a classifier's input and predictions under the request id, for feedback. */
  private remember(ctx: RequestContext, slot: Slot, input: ParsedInput, out: Float32Array): void {
    if (!this.recent.enabled || ctx.requestId === undefined || slot.sig.task !== 'classification') return;
    const k = slot.sig.outputs;
    const predicted = new Int32Array(input.count);
    for (let i = 0; i < input.count; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (out[i * k + j] > out[i * k + best]) best = j;
      predicted[i] = best;
    }
    const features = slot.sig.inputShape.length === 1 ? slot.metadata.reference?.features?.map((f) => f.name) : undefined;
    this.recent.put({
      id: ctx.requestId,
      model: slot.name,
      version: slot.versionText,
      digest: slot.digest,
      classes: slot.sig.classes,
      dtype: slot.sig.dtype,
      shape: slot.sig.inputShape,
      ...(features && features.length === slot.sig.perExample ? { features } : {}),
      count: input.count,
      x: input.x,
      predicted,
      at: Date.now(),
      feedback: new Float64Array(input.count),
    });
  }

  /** `:feedback` (see feedback.ts). */
  private async feedback(slot: Slot, sel: Selector, doc: Record<string, unknown>): Promise<{ status: number; body: object }> {
    if (slot.sig.classes.length === 0) throw badRequest(`${slot.name} is a regression model; feedback counts classes.`);
    const named = sel.kind === 'label' ? `label ${sel.label} (version ${slot.versionText})` : `version ${slot.versionText}`;
    return this.desk!.handle(doc, {
      model: slot.name,
      ...(sel.kind === 'latest' ? {} : { version: slot.versionText, named }),
      slot: { version: slot.versionText, classes: slot.sig.classes, series: slot.series },
    });
  }

  // ── shutdown ────────────────────────────────────────────────────────────────

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const wasStarting = this.phase === 'starting';
    this.phase = 'draining';
    if (wasStarting) this.rejectReady(new ModelshipError('the server was closed before it was ready.'));
    if (this.opts.shutdownDelayMs > 0) await sleep(this.opts.shutdownDelayMs);
    const closed = this.http.listening ? new Promise<void>((resolve) => this.http.close(() => resolve())) : Promise.resolve();
    this.http.closeIdleConnections();
    const idle = this.inflight === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const timer = sleep(this.opts.shutdownTimeoutMs, 'timeout', { ref: false });
    if ((await Promise.race([idle.then(() => 'idle'), timer])) === 'timeout') {
      this.log.warning(
        `shutdown: ${this.inflight} request(s) still running after ${this.opts.shutdownTimeoutMs} ms; closing their connections.`,
      );
    }
    this.http.closeAllConnections();
    await closed;
    if (this.admin?.listening) {
      const admin = this.admin;
      await new Promise<void>((resolve) => {
        admin.close(() => resolve());
        admin.closeAllConnections();
      });
    }
    this.scheduler.stop();
    for (const s of this.table.slots()) s.queue.failAll(new HttpError(503, 'the server is shutting down.'));
    await this.runner.close().catch(() => undefined);
    await this.store?.close().catch(() => undefined);
    if (this.ownCache && this.cacheDir) await rm(this.cacheDir, { recursive: true, force: true }).catch(() => undefined);
    this.phase = 'closed';
  }
}

/**
 * Starts a model server: validates the options (ConfigurationError naming the option), listens,
 * then loads the models in the background; see {@link ModelServer.ready}.
 */
export async function startServer(options: ServerOptions, deps: { readonly log?: Logger } = {}): Promise<ModelServer> {
  const opts = parseServerOptions(options);
  const server = new ServerImpl(opts, deps.log ?? silentLogger);
  try {
    await server.listen();
  } catch (err) {
    await server.close();
    throw err;
  }
  void server.startup();
  return server;
}
