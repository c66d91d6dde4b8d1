/**
 * Test support for the model server: small real tfjs model folders (an 8×8 greyscale image
 * classifier with reference statistics, TF Serving's half_plus_three as a tfjs regression model),
 * servers on free loopback ports that stop when the test ends, and HTTP helpers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { saveModel } from '../../shared/model/io.ts';
import type { ModelMetadata, ModelReference } from '../../shared/model/metadata.ts';
import { startServer, type ModelServer, type ReadyInfo, type ServerOptions } from '../../shared/serve/index.ts';
import { memoryLogger } from '../../shared/util/log.ts';

export const CLASSES = ['boot', 'sandal', 'shirt'];
export const IMAGE_SHAPE = [8, 8, 1];
export const FIXTURE_IMAGES = path.join(import.meta.dirname, '..', 'fixtures', 'data', 'images');

export async function tempDir(t: TestContext, prefix = 'modelship-serve-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function metadata(extra: Partial<ModelMetadata> & Pick<ModelMetadata, 'inputShape' | 'classes' | 'task' | 'preprocessing'>): ModelMetadata {
  return {
    schemaVersion: 1,
    kind: 'modelship.model',
    dataset: { digest: `sha256:${'d'.repeat(64)}`, splits: { train: `sha256:${'e'.repeat(64)}` } },
    params: { architecture: 'test', epochs: 1, batchSize: 8, learningRate: 0.001, seed: 1, earlyStoppingPatience: 0 },
    backend: 'cpu',
    versions: { 'tfjs-core': tf.version_core },
    git: {},
    metrics: { epochsRun: 1 },
    training: { startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:00.000Z', durationSeconds: 60, samplesPerSecond: 100 },
    ...extra,
  };
}

/** Pixels 0..255 in 32 bins, as setup-data records them. */
export const PIXEL_REFERENCE: ModelReference = {
  classDistribution: [1 / 3, 1 / 3, 1 / 3],
  histogram: { edges: Array.from({ length: 33 }, (_, i) => i * 8), counts: Array.from({ length: 32 }, () => 10) },
  channels: [{ mean: 100, std: 60 }],
  dtype: 'uint8',
};

/**
 * An 8×8×1 image classifier over boot/sandal/shirt (conv 3×3×2 → flatten → softmax), seeded so
 * two seeds give two different models. `bias` shifts the output towards one class, so versions differ visibly.
 */
export async function makeImageModel(
  dir: string,
  opts: { seed?: number; name?: string; reference?: ModelReference | null; bias?: number[] } = {},
): Promise<string> {
  const seed = opts.seed ?? 1;
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: IMAGE_SHAPE,
        filters: 2,
        kernelSize: 3,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
  if (opts.bias) {
    const w = model.layers[2].getWeights();
    model.layers[2].setWeights([w[0], tf.tensor1d(opts.bias)]);
  }
  const reference = opts.reference === undefined ? PIXEL_REFERENCE : opts.reference;
  await saveModel(
    model,
    dir,
    metadata({
      name: opts.name ?? 'fashion',
      task: 'classification',
      inputShape: IMAGE_SHAPE,
      classes: CLASSES,
      preprocessing: { scale: 1 / 255, offset: 0 },
      ...(reference ? { reference } : {}),
    }),
  );
  model.dispose();
  return dir;
}

/** TF Serving's half_plus_three test model (y = 0.5·x + 3) as a tfjs regression model. */
export async function makeHalfPlusThree(dir: string): Promise<string> {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1] })] });
  model.setWeights([tf.tensor2d([0.5], [1, 1]), tf.tensor1d([3])]);
  await saveModel(
    model,
    dir,
    metadata({
      name: 'saved_model_half_plus_three',
      task: 'regression',
      inputShape: [1],
      classes: [],
      preprocessing: { scale: 1, offset: 0 },
      reference: {
        classDistribution: [],
        histogram: { edges: [0, 2.5, 5, 7.5, 10], counts: [1, 1, 1, 1] },
        channels: [{ mean: 5, std: 3 }],
        dtype: 'float32',
      },
    }),
  );
  model.dispose();
  return dir;
}

export interface TestServer {
  readonly server: ModelServer;
  readonly info: ReadyInfo;
  readonly url: string;
  readonly log: string[];
}

/** Starts a server on a free port (loopback), waits until it is ready, closes it when the test ends. */
export async function serve(t: TestContext, options: ServerOptions): Promise<TestServer> {
  const log = memoryLogger();
  const server = await startServer({ port: 0, ...options }, { log });
  t.after(() => server.close());
  const info = await server.ready;
  return { server, info, url: server.url, log: log.lines };
}

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

export async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  return { status: res.status, body, headers: res.headers };
}

export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return call(url, {
    method: 'POST',
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** One 8×8×1 instance, nested, with pixel values from `f(row, col)`. */
export function image(f: (r: number, c: number) => number = (r, c) => (r * 8 + c) * 3): number[][][] {
  return Array.from({ length: 8 }, (_, r) => Array.from({ length: 8 }, (_, c) => [f(r, c)]));
}

/** The value of one sample in a Prometheus text exposition (undefined when absent). */
export function sample(exposition: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^([^{ ]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}
