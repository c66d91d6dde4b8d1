/**
 * `modelship serve`: the model server from the command line (and the container image's serving
 * command). Prints one ready line on stdout when every model has loaded and answered a warm-up
 * prediction; logs go to stderr. SIGTERM/SIGINT: readiness turns false, requests in flight finish,
 * then the command returns 0.
 */
import { ConfigurationError, type Logger } from '../util/index.ts';
import { parseOptions } from './args.ts';

export interface ServeIo {
  readonly log: Logger;
  readonly stdout: NodeJS.WritableStream;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where SIGTERM/SIGINT come from (tests pass an emitter); default the process. */
  readonly signals?: Pick<NodeJS.Process, 'on' | 'off'>;
}

const VALUED = [
  'model',
  'name',
  'version',
  'label',
  'host',
  'port',
  'admin-port',
  'admin-token',
  'max-batch-size',
  'batch-timeout-micros',
  'max-enqueued-batches',
  'max-body-bytes',
  'backend',
  'inference',
  'registry',
  'username',
  'password',
  'cache-dir',
  'config',
  'inject-latency-ms',
  'inject-error-rate',
  'request-timeout-ms',
  'shutdown-timeout-ms',
  'shutdown-delay-ms',
  'feedback-dir',
  'feedback-cache-size',
  'feedback-cache-max-age',
  'feedback-max-bytes',
  'feedback-segment-bytes',
] as const;

export function serveHelp(): string {
  return [
    "modelship serve: serve models over TF Serving's REST API and the Open Inference Protocol (KServe V2), with /metrics.",
    '',
    'Usage: modelship serve --model <model-dir | reference> [--model …] [options]',
    '',
    'Models:',
    "  --model M              a model folder (train's model-dir) or a registry reference: fashion@production,",
    '                         fashion:3, oci://ghcr.io/acme/models/fashion@production. Repeat for several',
    '                         versions or models. Default: serve.models in modelship.yml, else $MODELSHIP_SERVE_MODEL.',
    '  --name N               serve every --model under this name (default: from the folder or the reference)',
    '  --version N            the version number of a single model folder (default 1)',
    '  --label L=V            point label L (stable, canary, …) at version V; L=model:V with several models',
    '  --registry R           registry for references (default: registry.url in modelship.yml, else .modelship/registry)',
    '  --username U           registry user (password from --password or $MODELSHIP_REGISTRY_PASSWORD)',
    '  --cache-dir D          where registry versions are pulled (default: a temporary folder)',
    '',
    'Network:',
    '  --host H               address to bind (default 127.0.0.1, or $MODELSHIP_SERVE_HOST; the image binds 0.0.0.0)',
    '  --port P               public port (default 8501; 0 picks a free one, the ready line tells it)',
    '  --admin-port P         admin API on 127.0.0.1:P (load, unload, move labels, faults); off by default',
    '  --admin-token T        require "Authorization: Bearer T" on the admin API (or $MODELSHIP_ADMIN_TOKEN)',
    '',
    "Batching (TF Serving's knobs):",
    '  --max-batch-size N         examples per model call (default 64)',
    '  --batch-timeout-micros N   how long a batch that is not full may wait (default 0: run when the model is free)',
    '  --max-enqueued-batches N   batches waiting per version before 503 (default 100)',
    '',
    'Limits and runtime:',
    '  --max-body-bytes N     request body limit, on the wire and after gzip (default 16777216)',
    '  --backend B            auto | node | wasm | cpu (default auto)',
    '  --inference I          worker (model calls on an inference thread, default) | inline',
    '  --request-timeout-ms N, --shutdown-timeout-ms N, --shutdown-delay-ms N',
    '  --config F             modelship.yml to read (serve:, name, registry.url)',
    '',
    'Feedback (POST …:feedback {"id": <X-Request-Id of a prediction>, "label": <true class>}):',
    '  --feedback-dir D           the feedback store, an append-only folder of .jsonl segments (default',
    '                             .modelship/feedback, created on the first feedback; none: only the counters)',
    '  --feedback-cache-size N    bytes of recent inputs kept for feedback by id, e.g. 64MiB (default; 0 keeps none)',
    '  --feedback-cache-max-age D how long they are kept, e.g. 1h (default); older ids are answered 410 expired',
    '  --feedback-max-bytes N     the store cap, e.g. 1GiB (default); past it the oldest segments are deleted',
    '  --feedback-segment-bytes N segment size before rotation (default 16MiB)',
    '  --no-feedback-fsync        skip fdatasync after each feedback request (a killed server still loses nothing)',
    '',
    'Test servers only:',
    '  --allow-fault-injection    enable PUT /admin/faults and the two flags below',
    '  --inject-latency-ms N      add N ms to every inference request',
    '  --inject-error-rate F      answer this fraction of inference requests with 500',
    '',
    'Example:',
    '  modelship serve --model fashion@production --port 8501',
    '  curl -d \'{"instances": [{"b64": "iVBORw0…"}]}\' http://127.0.0.1:8501/v1/models/fashion:predict',
  ].join('\n');
}

function num(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new ConfigurationError(`serve option --${flag}: '${value}' is not a number.`, `Write --${flag} <number>.`);
  }
  return n;
}

function single(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.includes('\n')) {
    throw new ConfigurationError(`serve option --${flag} is given more than once.`, `Give --${flag} once.`);
  }
  return value;
}

/** `canary=4` or `canary=fashion:4`. */
export function parseLabelFlag(text: string): { model?: string; label: string; version: number } {
  const m = /^([^=]+)=(?:([^:=]+):)?([0-9]+)$/.exec(text.trim());
  if (!m) {
    throw new ConfigurationError(
      `serve option --label: '${text}' is not label=version.`,
      'Write --label canary=4, or --label canary=fashion:4 when several models are served.',
    );
  }
  return { ...(m[2] ? { model: m[2] } : {}), label: m[1].trim(), version: Number(m[3]) };
}

/** Builds the server options from the flags, modelship.yml's serve section and the environment. */
export async function serveOptionsFromArgs(
  values: Readonly<Record<string, string>>,
  io: Pick<ServeIo, 'cwd' | 'env'>,
): Promise<import('../serve/index.ts').ServerOptions> {
  const [{ optionsFromServeSection }, { loadConfig }, { allSteps, configSchema }] = await Promise.all([
    import('../serve/index.ts'),
    import('../config/index.ts'),
    import('../steps/index.ts'),
  ]);
  const { config } = await loadConfig(single('config', values['config']), io.cwd, configSchema(allSteps));
  const section = config.sections['serve'] as import('../serve/index.ts').ServeSection | undefined;
  const base = section ? optionsFromServeSection(section) : {};
  const registrySection = config.sections['registry'] ?? {};
  const list = (v: string | undefined): string[] => (v ?? '').split('\n').filter((s) => s.trim() !== '');
  let models = base.models ?? [];
  let labels = base.labels ?? [];
  const flagModels = list(values['model']);
  const envModels = (io.env['MODELSHIP_SERVE_MODEL'] ?? '').split(/[\n,]/).filter((s) => s.trim() !== '');
  const name = single('name', values['name']);
  const version = num('version', single('version', values['version']));
  const given = flagModels.length > 0 ? flagModels : models.length === 0 ? envModels : [];
  if (given.length > 0) {
    if (version !== undefined && given.length > 1) {
      throw new ConfigurationError(
        'serve option --version goes with a single --model folder.',
        'Serve several versions with a serve: section, or one --model per run.',
      );
    }
    models = given.map((source) => ({ source: source.trim(), ...(name ? { name } : {}), ...(version !== undefined ? { version } : {}) }));
    labels = [];
  } else if (name !== undefined || version !== undefined) {
    throw new ConfigurationError(
      'serve options --name and --version apply to --model, which is not given.',
      'Add --model <model-dir | reference>.',
    );
  }
  labels = [...labels, ...list(values['label']).map(parseLabelFlag)];
  const password = single('password', values['password']) ?? io.env['MODELSHIP_REGISTRY_PASSWORD'];
  const adminToken = single('admin-token', values['admin-token']) ?? io.env['MODELSHIP_ADMIN_TOKEN'];
  const registry = single('registry', values['registry']) ?? (registrySection['url'] as string | undefined);
  const username = single('username', values['username']) ?? (registrySection['username'] as string | undefined);
  const host = single('host', values['host']) ?? base.host ?? io.env['MODELSHIP_SERVE_HOST'];
  const numbers = {
    port: num('port', single('port', values['port'])),
    adminPort: num('admin-port', single('admin-port', values['admin-port'])),
    maxBatchSize: num('max-batch-size', single('max-batch-size', values['max-batch-size'])),
    batchTimeoutMicros: num('batch-timeout-micros', single('batch-timeout-micros', values['batch-timeout-micros'])),
    maxEnqueuedBatches: num('max-enqueued-batches', single('max-enqueued-batches', values['max-enqueued-batches'])),
    maxBodyBytes: num('max-body-bytes', single('max-body-bytes', values['max-body-bytes'])),
    injectLatencyMs: num('inject-latency-ms', single('inject-latency-ms', values['inject-latency-ms'])),
    injectErrorRate: num('inject-error-rate', single('inject-error-rate', values['inject-error-rate'])),
    requestTimeoutMs: num('request-timeout-ms', single('request-timeout-ms', values['request-timeout-ms'])),
    shutdownTimeoutMs: num('shutdown-timeout-ms', single('shutdown-timeout-ms', values['shutdown-timeout-ms'])),
    shutdownDelayMs: num('shutdown-delay-ms', single('shutdown-delay-ms', values['shutdown-delay-ms'])),
  };
  const defined = Object.fromEntries(Object.entries(numbers).filter(([, v]) => v !== undefined));
  const backend = single('backend', values['backend']);
  const inference = single('inference', values['inference']);
  const allow = values['allow-fault-injection'];
  const { feedbackDirOf, sizeOption, durationOption } = await import('../serve/index.ts');
  const feedbackDir = single('feedback-dir', values['feedback-dir']);
  const sizes = {
    feedbackCacheSize: single('feedback-cache-size', values['feedback-cache-size']),
    feedbackMaxBytes: single('feedback-max-bytes', values['feedback-max-bytes']),
    feedbackSegmentBytes: single('feedback-segment-bytes', values['feedback-segment-bytes']),
  };
  const feedback: Record<string, number | string | null | boolean> = {};
  for (const [key, v] of Object.entries(sizes)) {
    if (v !== undefined) feedback[key] = sizeOption(v, `serve option --${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  }
  const maxAge = single('feedback-cache-max-age', values['feedback-cache-max-age']);
  if (maxAge !== undefined) feedback['feedbackCacheMaxAgeMs'] = durationOption(maxAge, 'serve option --feedback-cache-max-age');
  if (feedbackDir !== undefined) feedback['feedbackDir'] = feedbackDirOf(feedbackDir);
  if (values['feedback-fsync'] !== undefined) feedback['feedbackFsync'] = values['feedback-fsync'] === 'true';
  return {
    ...base,
    models,
    labels,
    ...defined,
    ...(host !== undefined ? { host } : {}),
    ...(backend !== undefined ? { backend: backend as 'auto' } : {}),
    ...(inference !== undefined ? { inference: inference as 'worker' } : {}),
    ...(allow !== undefined ? { allowFaultInjection: allow === 'true' } : {}),
    ...feedback,
    ...(registry ? { registry } : {}),
    ...(username ? { registryUsername: username } : {}),
    ...(password ? { registryPassword: password } : {}),
    ...(adminToken ? { adminToken } : {}),
    ...(values['cache-dir'] ? { cacheDir: values['cache-dir'] } : {}),
    ...(config.name ? { defaultName: config.name } : {}),
    cwd: io.cwd,
  };
}

export async function serveCommand(argv: string[], io: ServeIo): Promise<number> {
  const { values, help } = parseOptions(argv, { valued: VALUED, booleans: ['allow-fault-injection', 'feedback-fsync'] }, 'serve');
  if (help) {
    io.stdout.write(`${serveHelp()}\n`);
    return 0;
  }
  const options = await serveOptionsFromArgs(values, io);
  if (options.registryPassword) io.log.secret(options.registryPassword);
  if (options.adminToken) io.log.secret(options.adminToken);
  const { startServer } = await import('../serve/index.ts');
  const server = await startServer(options, { log: io.log });
  const signals = io.signals ?? process;
  let stopping: string | undefined;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) {
      io.log.info(`${sig}: already stopping.`);
      return;
    }
    stopping = sig;
    io.log.info(`${sig}: readiness is false; finishing the requests in flight, then stopping.`);
    void server.close().then(stopped);
  };
  signals.on('SIGTERM', onSignal);
  signals.on('SIGINT', onSignal);
  try {
    try {
      const info = await server.ready;
      io.log.info(
        `backend ${info.backend} (${info.backendReason}); model calls on ${info.inference === 'worker' ? 'an inference worker thread' : 'the main thread'}`,
      );
      io.stdout.write(`${info.line}\n`);
    } catch (err) {
      await server.close();
      if (stopping) return 0;
      throw err;
    }
    await done;
    io.log.info('stopped.');
    return 0;
  } finally {
    signals.off('SIGTERM', onSignal);
    signals.off('SIGINT', onSignal);
  }
}
