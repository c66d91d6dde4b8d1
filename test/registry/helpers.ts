/**
 * Test support for the registry: a small real tfjs model folder, variants of it, and a real OCI
 * registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1 with a generated config.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { saveModel } from '../../shared/model/io.ts';
import type { ModelMetadata } from '../../shared/model/metadata.ts';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export async function tempDir(prefix = 'modelship-registry-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export function metadataFor(seed: number, extra: Partial<ModelMetadata> = {}): ModelMetadata {
  return {
    schemaVersion: 1,
    kind: 'modelship.model',
    name: 'fashion',
    task: 'classification',
    inputShape: [4, 4, 1],
    classes: ['a', 'b', 'c'],
    preprocessing: { scale: 1 / 255, offset: 0 },
    dataset: { digest: `sha256:${'d'.repeat(64)}`, splits: { test: `sha256:${'e'.repeat(64)}` } },
    params: { architecture: 'mlp', epochs: 1, batchSize: 8, learningRate: 0.001, seed, earlyStoppingPatience: 0 },
    backend: 'cpu',
    versions: { '@tensorflow/tfjs-core': tf.version_core },
    git: { commit: 'a1b2c3d4e5f6' },
    metrics: { valAccuracy: 0.5 + seed / 1000, valLoss: 1 - seed / 1000, epochsRun: 1 },
    training: { startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:00.000Z', durationSeconds: 60, samplesPerSecond: 100 },
    ...extra,
  };
}

/** A small real tfjs layers model folder (dense 16 → 3), weights `units`-dependent in size. */
export async function makeModelDir(dir: string, seed = 1, units = 16): Promise<string> {
  const model = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [4, 4, 1] }),
      tfl.layers.dense({ units, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }),
      tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
  await saveModel(model, dir, metadataFor(seed), {
    history: [{ epoch: 1, loss: 1, acc: 0.5, valLoss: 1, valAcc: 0.5, samplesPerSecond: 100, seconds: 1 }],
    modelCard: `# fashion\n\nseed ${seed}\n`,
  });
  model.dispose();
  return dir;
}

/** A copy of a model folder whose metadata differs (so its digest differs; weights are shared). */
export async function variantOf(src: string, dest: string, seed: number): Promise<string> {
  await cp(src, dest, { recursive: true });
  const md = JSON.parse(await readFile(path.join(dest, 'modelship.json'), 'utf8')) as ModelMetadata;
  await writeFile(
    path.join(dest, 'modelship.json'),
    JSON.stringify({ ...md, params: { ...md.params, seed }, metrics: { ...md.metrics, valAccuracy: 0.5 + seed / 1000 } }),
  );
  return dest;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningRegistry {
  readonly port: number;
  readonly host: string;
  readonly root: string;
  stop(): Promise<void>;
}

/**
 * Starts docker-registry on 127.0.0.1 with filesystem storage in a temporary folder; with
 * `htpasswd` (file content) it requires basic auth.
 */
export async function startRegistry(opts: { htpasswd?: string } = {}): Promise<RunningRegistry> {
  const dir = await tempDir('modelship-oci-');
  const root = path.join(dir, 'storage');
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${root}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: modelship-test-${port}`,
  ];
  if (opts.htpasswd !== undefined) {
    await writeFile(path.join(dir, 'htpasswd'), opts.htpasswd);
    lines.push('auth:', '  htpasswd:', '    realm: modelship-test', `    path: ${path.join(dir, 'htpasswd')}`);
  }
  await writeFile(path.join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    host: `127.0.0.1:${port}`,
    root,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The on-disk path of a blob in docker-registry's filesystem storage. */
export function registryBlobPath(root: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return path.join(root, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}
