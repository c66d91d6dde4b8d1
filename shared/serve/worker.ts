/**
 * The inference worker thread: an {@link Engine} behind a message protocol (see runner.ts). The
 * main thread keeps HTTP, parsing and batching; this thread keeps the model calls, so the two
 * overlap on a machine with more than one core.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BackendPreference } from '../model/index.ts';
import type { Logger } from '../util/index.ts';
import { Engine } from './engine.ts';
import type { WorkerReply, WorkerRequest } from './runner.ts';

if (!parentPort) throw new Error('shared/serve/worker.ts runs as a worker thread only.');
const port = parentPort;

const log: Logger = {
  info: (message) => port.postMessage({ type: 'log', level: 'info', message } satisfies WorkerReply),
  warning: (message) => port.postMessage({ type: 'log', level: 'warning', message } satisfies WorkerReply),
  debug: (message) => port.postMessage({ type: 'log', level: 'debug', message } satisfies WorkerReply),
  group: async (_title, fn) => fn(),
  secret: () => undefined,
};

function errorOf(err: unknown): { name: string; message: string; hint?: string } {
  const e = err instanceof Error ? err : new Error(String(err));
  const hint = (e as { hint?: unknown }).hint;
  return { name: e.name, message: e.message, ...(typeof hint === 'string' ? { hint } : {}) };
}

const engine = new Engine();
const { backend } = workerData as { backend: BackendPreference };

port.on('message', (msg: WorkerRequest) => {
  void handle(msg);
});

async function handle(msg: WorkerRequest): Promise<void> {
  try {
    switch (msg.type) {
      case 'init': {
        const info = await engine.init(backend, log);
        port.postMessage({ type: 'done', id: msg.id, value: info } satisfies WorkerReply);
        return;
      }
      case 'load': {
        const loaded = await engine.load(msg.dir);
        port.postMessage({ type: 'done', id: msg.id, value: loaded } satisfies WorkerReply);
        return;
      }
      case 'predict': {
        const out = await engine.predict(msg.handle, msg.x, msg.count);
        port.postMessage({ type: 'done', id: msg.id, value: out } satisfies WorkerReply, [out.buffer as ArrayBuffer]);
        return;
      }
      case 'unload': {
        engine.unload(msg.handle);
        port.postMessage({ type: 'done', id: msg.id, value: null } satisfies WorkerReply);
        return;
      }
    }
  } catch (err) {
    port.postMessage({ type: 'failed', id: msg.id, error: errorOf(err) } satisfies WorkerReply);
  }
}
