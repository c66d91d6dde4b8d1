/**
 * The serve domain: the model server (TF Serving's REST API, the Open Inference Protocol, dynamic
 * batching, per-version Prometheus metrics, an admin API), its options and modelship.yml section.
 *
 *   const server = await startServer({ models: [{ source: 'fashion@production' }], port: 0 });
 *   const { line } = await server.ready;
 *   await server.close();
 */
import type * as Server from './server.ts';

export type { ModelServer, ReadyInfo, VersionInfo } from './server.ts';
export { REQUEST_ID_RE, MAX_FEEDBACK_BATCH } from './feedback.ts';
export {
  DEFAULTS,
  durationOption,
  feedbackDirOf,
  flagOf,
  labelSpecSchema,
  modelSpecSchema,
  optionsFromServeSection,
  parseServerOptions,
  serveSection,
  serverOptionsSchema,
  sizeOption,
  type LabelSpec,
  type ModelSpec,
  type ResolvedServerOptions,
  type ServeSection,
  type ServerOptions,
} from './options.ts';
export type { Api, Bins } from './metrics.ts';
export { INPUT_NAME, PROBABILITIES_NAME, VALUE_NAME, signatureOf, type Signature } from './signature.ts';
export type { Faults } from './models.ts';
export type { InferenceMode } from './runner.ts';

/** Starts the model server (loads prom-client, sharp and TensorFlow.js on first use; see server.ts). */
export async function startServer(...a: Parameters<typeof Server.startServer>): ReturnType<typeof Server.startServer> {
  return (await import('./server.ts')).startServer(...a);
}
export { predictBody, replayTraffic, type Replay, type ReplayOptions, type ReplayStats } from './replay.ts';
