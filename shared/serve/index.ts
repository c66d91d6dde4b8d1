/**
 * The serve domain: the model server (TF Serving's REST API, the Open Inference Protocol, dynamic
 * batching, per-version Prometheus metrics, an admin API), its options and modelship.yml section.
 *
 *   const server = await startServer({ models: [{ source: 'fashion@production' }], port: 0 });
 *   const { line } = await server.ready;
 *   await server.close();
 */
export { startServer, MAX_SERVE_IMAGE_PIXELS, type ModelServer, type ReadyInfo, type VersionInfo } from './server.ts';
export {
  DEFAULTS,
  flagOf,
  labelSpecSchema,
  modelSpecSchema,
  optionsFromServeSection,
  parseServerOptions,
  serveSection,
  serverOptionsSchema,
  type LabelSpec,
  type ModelSpec,
  type ResolvedServerOptions,
  type ServeSection,
  type ServerOptions,
} from './options.ts';
export { readServeConfig, type ServeConfig } from './config.ts';
export { APIS, BATCH_SIZE_BUCKETS, LATENCY_BUCKETS, binIndex, binsFromEdges, type Api, type Bins } from './metrics.ts';
export { INPUT_NAME, PROBABILITIES_NAME, VALUE_NAME, signatureOf, type Signature } from './signature.ts';
export type { Faults } from './models.ts';
export type { InferenceMode } from './runner.ts';
