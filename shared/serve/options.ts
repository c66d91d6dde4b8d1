/**
 * The server's options, typed and validated once (zod), with defaults and cross-field rules; every
 * refusal is a ConfigurationError that names the option as the CLI spells it and says the fix.
 * Also the `serve:` section of modelship.yml (`serveSection`), which maps onto the same options.
 */
import { z } from 'zod';
import { parseDuration, parseSize } from '../config/index.ts';
import { aliasProblem } from '../registry/index.ts';
import { ConfigurationError } from '../util/index.ts';

const MiB = 1024 * 1024;

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 8501,
  maxBatchSize: 64,
  batchTimeoutMicros: 0,
  maxEnqueuedBatches: 100,
  maxBodyBytes: 16 * MiB,
  maxJsonDepth: 32,
  requestTimeoutMs: 60_000,
  shutdownTimeoutMs: 30_000,
  feedbackDir: '.modelship/feedback',
  feedbackCacheSize: 64 * MiB,
  feedbackCacheMaxAgeMs: 3_600_000,
  feedbackSegmentBytes: 16 * MiB,
  feedbackMaxBytes: 1024 * MiB,
} as const;

const label = z.string().refine((s) => aliasProblem(s) === undefined, {
  error: (issue) => `'${String(issue.input)}' is not a valid label (${aliasProblem(String(issue.input)) ?? ''})`,
});
const version = z.number().int().min(1).max(999_999_999);
const port = z.number().int().min(0).max(65535);

export const modelSpecSchema = z.strictObject({
  /** A model folder or a registry reference (fashion@production, fashion:3, oci://…). */
  source: z.string().trim().min(1),
  /** The name to serve it under (default: from the folder's metadata or the reference). */
  name: z.string().min(1).optional(),
  /** Folders only: the version number to serve it as (default 1). */
  version: version.optional(),
  /** Labels to point at this version once it is loaded. */
  labels: z.array(label).optional(),
});

export const labelSpecSchema = z.strictObject({
  /** The model name (may be left out when one model is served). */
  model: z.string().min(1).optional(),
  label,
  version,
});

export const serverOptionsSchema = z
  .strictObject({
    models: z.array(modelSpecSchema).default([]),
    labels: z.array(labelSpecSchema).default([]),
    host: z.string().min(1).default(DEFAULTS.host),
    port: port.default(DEFAULTS.port),
    /** The admin API's port on 127.0.0.1; undefined: no admin API. 0 picks a free port. */
    adminPort: port.optional(),
    /** When set, admin requests need `Authorization: Bearer <token>`. */
    adminToken: z.string().min(16).optional(),
    maxBatchSize: z.number().int().min(1).max(4096).default(DEFAULTS.maxBatchSize),
    batchTimeoutMicros: z.number().int().min(0).max(60_000_000).default(DEFAULTS.batchTimeoutMicros),
    maxEnqueuedBatches: z.number().int().min(1).max(1_000_000).default(DEFAULTS.maxEnqueuedBatches),
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * MiB)
      .default(DEFAULTS.maxBodyBytes),
    maxJsonDepth: z.number().int().min(4).max(1000).default(DEFAULTS.maxJsonDepth),
    backend: z.enum(['auto', 'node', 'wasm', 'cpu']).default('auto'),
    inference: z.enum(['worker', 'inline']).default('worker'),
    /** Registry for references without an inline oci:// location (default .modelship/registry). */
    registry: z.string().min(1).optional(),
    registryUsername: z.string().min(1).optional(),
    registryPassword: z.string().min(1).optional(),
    /** The model name a bare alias refers to (modelship.yml's name). */
    defaultName: z.string().min(1).optional(),
    /** Where registry versions are pulled to (default: a temporary folder removed on close). */
    cacheDir: z.string().min(1).optional(),
    allowFaultInjection: z.boolean().default(false),
    injectLatencyMs: z.number().min(0).max(600_000).default(0),
    injectErrorRate: z.number().min(0).max(1).default(0),
    requestTimeoutMs: z.number().int().min(1000).max(3_600_000).default(DEFAULTS.requestTimeoutMs),
    /** After close(): how long requests in flight may take before connections are cut. */
    shutdownTimeoutMs: z.number().int().min(0).max(3_600_000).default(DEFAULTS.shutdownTimeoutMs),
    /** After close(): how long to keep accepting requests once readiness is false (load balancers catching up). */
    shutdownDelayMs: z.number().int().min(0).max(600_000).default(0),
    /** Base folder for relative model folders and a local registry (default process.cwd()). */
    cwd: z.string().min(1).optional(),
    /** The feedback store's folder (relative to cwd); null: feedback is counted, not stored. Created on the first feedback. */
    feedbackDir: z.string().min(1).nullable().default(DEFAULTS.feedbackDir),
    /** Bytes of recent requests' inputs kept for feedback by id (0: none kept). */
    feedbackCacheSize: z
      .number()
      .int()
      .min(0)
      .max(64 * 1024 * MiB)
      .default(DEFAULTS.feedbackCacheSize),
    /** How long a request's input is kept for feedback, in milliseconds. */
    feedbackCacheMaxAgeMs: z
      .number()
      .int()
      .min(1000)
      .max(30 * 24 * 3_600_000)
      .default(DEFAULTS.feedbackCacheMaxAgeMs),
    /** A store segment is closed past this many bytes. */
    feedbackSegmentBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * MiB)
      .default(DEFAULTS.feedbackSegmentBytes),
    /** Past this many bytes in the store, its oldest segments are deleted. */
    feedbackMaxBytes: z
      .number()
      .int()
      .min(2048)
      .max(1024 * 1024 * MiB)
      .default(DEFAULTS.feedbackMaxBytes),
    /** fdatasync the store after every feedback request (off: the page cache still survives a killed process, not a power loss). */
    feedbackFsync: z.boolean().default(true),
  })
  .superRefine((o, ctx) => {
    if (o.models.length === 0 && o.adminPort === undefined) {
      ctx.addIssue({ code: 'custom', path: ['models'], message: 'no model to serve' });
    }
    if ((o.injectLatencyMs > 0 || o.injectErrorRate > 0) && !o.allowFaultInjection) {
      ctx.addIssue({
        code: 'custom',
        path: [o.injectErrorRate > 0 ? 'injectErrorRate' : 'injectLatencyMs'],
        message: 'injects faults, which needs --allow-fault-injection',
      });
    }
    if (o.adminToken !== undefined && o.adminPort === undefined) {
      ctx.addIssue({ code: 'custom', path: ['adminToken'], message: 'is set but the admin API is off' });
    }
    if (o.feedbackMaxBytes < 2 * o.feedbackSegmentBytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['feedbackMaxBytes'],
        message: `must hold at least two segments of --feedback-segment-bytes (${o.feedbackSegmentBytes})`,
      });
    }
    if (o.adminPort !== undefined && o.adminPort !== 0 && o.adminPort === o.port) {
      ctx.addIssue({ code: 'custom', path: ['adminPort'], message: `is the public port ${o.port}; the admin API needs its own port` });
    }
  });

/** What callers pass (defaults optional). */
export type ServerOptions = z.input<typeof serverOptionsSchema>;
/** After validation, every default applied. */
export type ResolvedServerOptions = z.output<typeof serverOptionsSchema>;
export type ModelSpec = z.output<typeof modelSpecSchema>;
export type LabelSpec = z.output<typeof labelSpecSchema>;

/** camelCase option → the CLI's --kebab-case flag. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

const HINTS: Readonly<Record<string, string>> = {
  models:
    'Give a model folder or a registry reference: --model ./model or --model fashion@production (or an --admin-port to load models later).',
  maxBatchSize: 'TF Serving calls it max_batch_size: examples per model call, 1 to 4096 (default 64).',
  batchTimeoutMicros: "TF Serving's batch_timeout_micros: how long a batch that is not full may wait, in microseconds (default 0).",
  maxEnqueuedBatches: "TF Serving's max_enqueued_batches: batches waiting per version before requests get 503 (default 100).",
  port: 'Use a TCP port from 1 to 65535, or 0 for a free one (the ready line tells which).',
  adminPort: 'Use a port for the admin API other than the public one (0 for a free one).',
  adminToken: 'Use a token of at least 16 characters, together with --admin-port.',
  injectLatencyMs: 'Start the server with --allow-fault-injection (test servers only), or drop the fault flags.',
  injectErrorRate: 'Start the server with --allow-fault-injection (test servers only); the rate is a fraction from 0 to 1.',
  maxBodyBytes: 'Use a number of bytes from 1024 to 1073741824 (default 16777216).',
  backend: 'Use auto (node → wasm → cpu), node, wasm or cpu.',
  inference: 'Use worker (model calls on an inference thread) or inline (on the main thread).',
  feedbackDir: 'Give a folder for the feedback store (default .modelship/feedback), or none to keep only the counters.',
  feedbackCacheSize: 'Give the bytes of recent inputs to keep for feedback by id, e.g. 64MiB (0 keeps none).',
  feedbackCacheMaxAgeMs: 'Give how long recent inputs are kept for feedback, from 1s to 30d (default 1h).',
  feedbackSegmentBytes: 'Give a segment size from 1KiB to 1GiB (default 16MiB).',
  feedbackMaxBytes: 'Give a cap of at least two segments (default 1GiB); past it the oldest segments are deleted.',
};

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  const msg = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'unrecognized_keys') return `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  const got = value === undefined ? '' : ` (got ${(JSON.stringify(value) as string | undefined)?.slice(0, 60) ?? typeof value})`;
  return `${msg}${got}`;
}

function valueAt(input: unknown, p: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of p) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/** Validates options once; a ConfigurationError naming the option and the fix otherwise. */
export function parseServerOptions(input: ServerOptions): ResolvedServerOptions {
  const result = serverOptionsSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const top = String(issue.path[0] ?? '');
  const where =
    issue.path.length === 0
      ? 'serve options'
      : top === 'models' || top === 'labels'
        ? `serve option ${issue.path.map(String).join('.')}`
        : `serve option ${flagOf(top)}`;
  throw new ConfigurationError(
    `${where}: ${describeIssue(issue, valueAt(input, issue.path))}.`,
    HINTS[top] ?? 'See modelship serve --help.',
  );
}

/** The `serve:` section of modelship.yml (kebab-case keys, like every section). */
export const serveSection = z.strictObject({
  host: z.string().min(1).optional(),
  port: port.optional(),
  'admin-port': port.optional(),
  'max-batch-size': z.number().int().positive().optional(),
  'batch-timeout-micros': z.number().int().nonnegative().optional(),
  'max-enqueued-batches': z.number().int().positive().optional(),
  'max-body-bytes': z.number().int().positive().optional(),
  backend: z.enum(['auto', 'node', 'wasm', 'cpu']).optional(),
  inference: z.enum(['worker', 'inline']).optional(),
  'allow-fault-injection': z.boolean().optional(),
  /** The feedback store's folder, or none. */
  'feedback-dir': z.string().min(1).optional(),
  /** Bytes of recent inputs kept for feedback by id, e.g. 64MiB (or a number of bytes). */
  'feedback-cache-size': z.union([z.string().min(1), z.number().int().nonnegative()]).optional(),
  /** How long recent inputs are kept, e.g. 1h. */
  'feedback-cache-max-age': z.string().min(1).optional(),
  /** The store's cap, e.g. 1GiB; past it the oldest segments are deleted. */
  'feedback-max-bytes': z.union([z.string().min(1), z.number().int().positive()]).optional(),
  'feedback-segment-bytes': z.union([z.string().min(1), z.number().int().positive()]).optional(),
  'feedback-fsync': z.boolean().optional(),
  models: z
    .array(
      z.strictObject({
        /** The name to serve under (needed when labels are given). */
        name: z.string().min(1).optional(),
        /** Model folders or registry references, each a version. */
        versions: z.array(z.union([z.string().min(1), z.strictObject({ source: z.string().min(1), version: version.optional() })])).min(1),
        /** label → version number, e.g. { stable: 3, canary: 4 }. */
        labels: z.record(z.string(), version).optional(),
      }),
    )
    .optional(),
});

export type ServeSection = z.infer<typeof serveSection>;

/** The server options a `serve:` section gives (explicit options override them). */
export function optionsFromServeSection(section: ServeSection): Partial<ServerOptions> {
  const out: Partial<ServerOptions> = {};
  if (section.host !== undefined) out.host = section.host;
  if (section.port !== undefined) out.port = section.port;
  if (section['admin-port'] !== undefined) out.adminPort = section['admin-port'];
  if (section['max-batch-size'] !== undefined) out.maxBatchSize = section['max-batch-size'];
  if (section['batch-timeout-micros'] !== undefined) out.batchTimeoutMicros = section['batch-timeout-micros'];
  if (section['max-enqueued-batches'] !== undefined) out.maxEnqueuedBatches = section['max-enqueued-batches'];
  if (section['max-body-bytes'] !== undefined) out.maxBodyBytes = section['max-body-bytes'];
  if (section.backend !== undefined) out.backend = section.backend;
  if (section.inference !== undefined) out.inference = section.inference;
  if (section['allow-fault-injection'] !== undefined) out.allowFaultInjection = section['allow-fault-injection'];
  if (section['feedback-dir'] !== undefined) out.feedbackDir = feedbackDirOf(section['feedback-dir']);
  const size = (key: 'feedback-cache-size' | 'feedback-max-bytes' | 'feedback-segment-bytes'): number | undefined => {
    const v = section[key];
    return v === undefined ? undefined : sizeOption(v, `serve.${key} in modelship.yml`);
  };
  const cacheSize = size('feedback-cache-size');
  if (cacheSize !== undefined) out.feedbackCacheSize = cacheSize;
  const maxBytes = size('feedback-max-bytes');
  if (maxBytes !== undefined) out.feedbackMaxBytes = maxBytes;
  const segmentBytes = size('feedback-segment-bytes');
  if (segmentBytes !== undefined) out.feedbackSegmentBytes = segmentBytes;
  if (section['feedback-cache-max-age'] !== undefined)
    out.feedbackCacheMaxAgeMs = durationOption(section['feedback-cache-max-age'], 'serve.feedback-cache-max-age in modelship.yml');
  if (section['feedback-fsync'] !== undefined) out.feedbackFsync = section['feedback-fsync'];
  if (section.models) {
    const models: z.input<typeof modelSpecSchema>[] = [];
    const labels: z.input<typeof labelSpecSchema>[] = [];
    section.models.forEach((m, i) => {
      for (const v of m.versions) {
        const spec = typeof v === 'string' ? { source: v } : v;
        models.push({ ...spec, ...(m.name ? { name: m.name } : {}) });
      }
      for (const [l, ver] of Object.entries(m.labels ?? {})) {
        if (!m.name) {
          throw new ConfigurationError(
            `modelship.yml: serve.models.${i} has labels but no name.`,
            'Add name: <model> to the entry, so the labels know which model they belong to.',
          );
        }
        labels.push({ model: m.name, label: l, version: ver });
      }
    });
    out.models = models;
    out.labels = labels;
  }
  return out;
}

/** `none` (or off) turns the feedback store off; anything else is its folder. */
export function feedbackDirOf(value: string): string | null {
  return /^(none|off)$/i.test(value.trim()) ? null : value.trim();
}

/** A size option: a number of bytes, or 64MiB, 1GiB, 512KiB; a ConfigurationError naming `where` otherwise. */
export function sizeOption(value: string | number, where: string): number {
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : parseSize(value);
  if (n === undefined || !Number.isSafeInteger(n) || n < 0) {
    throw new ConfigurationError(`${where}: '${String(value)}' is not a size.`, 'Write a number of bytes or a size such as 64MiB or 1GiB.');
  }
  return n;
}

/** A duration option in milliseconds (1h, 30m, 90s); a ConfigurationError naming `where` otherwise. */
export function durationOption(value: string, where: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new ConfigurationError(`${where}: '${value}' is not a duration.`, 'Write a duration such as 30m, 1h or 1d.');
  return ms;
}
