/**
 * Where model calls run. Two strategies behind one interface:
 * - `worker` (default): an inference worker thread owns the tfjs backend and the models; the main
 *   thread parses requests and forms batches while the worker computes the previous batch.
 * - `inline`: model calls on the main thread (one thread in all; used where the worker file is not
 *   available, e.g. inside a single-file bundle).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BackendInfo, BackendPreference, ModelMetadata } from '../model/index.ts';
import { ConfigurationError, type Logger, ModelshipError } from '../util/index.ts';
import type { EngineLoaded } from './engine.ts';
import type { InputArray } from './tensors.ts';

export type InferenceMode = 'worker' | 'inline';

export interface Runner {
  readonly mode: InferenceMode;
  start(): Promise<BackendInfo>;
  /** Loads and warms up a model folder; errors name the folder and the file at fault. */
  load(dir: string): Promise<{ readonly handle: number; readonly metadata: ModelMetadata; readonly warmupMs: number }>;
  predict(handle: number, x: InputArray, count: number): Promise<Float32Array>;
  unload(handle: number): Promise<void>;
  close(): Promise<void>;
}

export type WorkerRequest =
  | { readonly type: 'init'; readonly id: number }
  | { readonly type: 'load'; readonly id: number; readonly dir: string }
  | { readonly type: 'predict'; readonly id: number; readonly handle: number; readonly x: InputArray; readonly count: number }
  | { readonly type: 'unload'; readonly id: number; readonly handle: number };

export type WorkerReply =
  | { readonly type: 'done'; readonly id: number; readonly value: unknown }
  | { readonly type: 'failed'; readonly id: number; readonly error: { name: string; message: string; hint?: string } }
  | { readonly type: 'log'; readonly level: 'info' | 'warning' | 'debug'; readonly message: string };

/** The worker entry next to this module (.ts from the sources, .js when compiled); undefined when absent. */
export function workerEntry(moduleUrl: string = import.meta.url): URL | undefined {
  const url = new URL(moduleUrl.endsWith('.ts') ? './worker.ts' : './worker.js', moduleUrl);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : undefined;
}

function rebuild(e: { name: string; message: string; hint?: string }): Error {
  return e.name === 'ConfigurationError' ? new ConfigurationError(e.message, e.hint) : new ModelshipError(e.message, e.hint);
}

class InlineRunner implements Runner {
  readonly mode = 'inline';
  private engine: import('./engine.ts').Engine | undefined;
  private readonly backend: BackendPreference;
  private readonly log: Logger;
  constructor(backend: BackendPreference, log: Logger) {
    this.backend = backend;
    this.log = log;
  }
  async start(): Promise<BackendInfo> {
    const { Engine } = await import('./engine.ts');
    this.engine = new Engine();
    return this.engine.init(this.backend, this.log);
  }
  private get e(): import('./engine.ts').Engine {
    if (!this.engine) throw new ModelshipError('the inline runner was not started.');
    return this.engine;
  }
  load(dir: string): Promise<EngineLoaded> {
    return this.e.load(dir);
  }
  predict(handle: number, x: InputArray, count: number): Promise<Float32Array> {
    return this.e.predict(handle, x, count);
  }
  unload(handle: number): Promise<void> {
    this.e.unload(handle);
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.engine?.unloadAll();
    return Promise.resolve();
  }
}

class WorkerRunner implements Runner {
  readonly mode = 'worker';
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failure: Error | undefined;
  private closing = false;

  constructor(entry: URL, backend: BackendPreference, log: Logger, onFailure: (err: Error) => void) {
    this.worker = new Worker(entry, { workerData: { backend }, stdout: true, stderr: true });
    // tfjs and its backends may print; keep stdout for the server's ready line.
    this.worker.stdout.pipe(process.stderr, { end: false });
    this.worker.stderr.pipe(process.stderr, { end: false });
    this.worker.on('message', (msg: WorkerReply) => {
      if (msg.type === 'log') {
        log[msg.level](msg.message);
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.type === 'done') p.resolve(msg.value);
      else p.reject(rebuild(msg.error));
    });
    const fail = (err: Error): void => {
      if (this.failure) return;
      this.failure = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      if (!this.closing) onFailure(err);
    };
    this.worker.on('error', (err: Error) => fail(new ModelshipError(`the inference worker failed: ${err.message}`)));
    this.worker.on('exit', (code) => fail(new ModelshipError(`the inference worker exited (code ${code}).`)));
  }

  private call<T>(req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(req.id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage(req, transfer);
    });
  }

  start(): Promise<BackendInfo> {
    return this.call({ type: 'init', id: this.nextId++ });
  }
  load(dir: string): Promise<EngineLoaded> {
    return this.call({ type: 'load', id: this.nextId++, dir });
  }
  predict(handle: number, x: InputArray, count: number): Promise<Float32Array> {
    return this.call({ type: 'predict', id: this.nextId++, handle, x, count }, [x.buffer as ArrayBuffer]);
  }
  unload(handle: number): Promise<void> {
    return this.call({ type: 'unload', id: this.nextId++, handle });
  }
  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }
}

/** Makes the runner for a mode; `worker` falls back to `inline` (logged) when the worker file is missing. */
export function createRunner(mode: InferenceMode, backend: BackendPreference, log: Logger, onFailure: (err: Error) => void): Runner {
  if (mode === 'worker') {
    const entry = workerEntry();
    if (entry) return new WorkerRunner(entry, backend, log, onFailure);
    log.warning('the inference worker file is not next to the server code (a bundle?): model calls run on the main thread.');
  }
  return new InlineRunner(backend, log);
}
