/**
 * Registry push and pull timings for a model the size of the default CNN, to the local folder
 * (OCI image layout) and to a real registry (docker-registry 2.8) on loopback.
 *
 *   node bench/registry.bench.ts
 *
 * Each figure is the median of several runs; every push goes to a new model name, so all blobs
 * are uploaded (the idempotent re-push is timed separately). A remote push includes the version
 * allocation's settle delay (≥ 0.5 s: the re-read that detects a lost race), shown apart.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import { buildCnn } from '../shared/model/architectures.ts';
import { saveModel } from '../shared/model/io.ts';
import { buildArtifact } from '../shared/registry/artifact.ts';
import { DistributionStore } from '../shared/registry/distribution.ts';
import { openRegistry } from '../shared/registry/index.ts';
import { formatBytes } from '../shared/util/format.ts';
import type { Registry } from '../shared/registry/types.ts';
import { silentLogger } from '../shared/util/log.ts';
import { isEntry } from '../shared/cli/main.ts';
import { metadataFor, startRegistry, tempDir } from '../test/registry/helpers.ts';

const RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function measure(
  label: string,
  slug: string,
  open: (i: number) => Promise<Registry>,
  model: string,
  bytes: number,
  work: string,
): Promise<void> {
  const push: number[] = [];
  const repush: number[] = [];
  const pull: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const reg = await open(i);
    const name = `bench-${slug}-${i}`;
    push.push(await timeIt(() => reg.push(model, { name })));
    repush.push(await timeIt(() => reg.push(model, { name })));
    const dest = path.join(work, `pull-${slug}-${i}`);
    pull.push(await timeIt(() => reg.pull(`${name}:1`, dest)));
    await rm(dest, { recursive: true, force: true });
  }
  const mb = bytes / 1e6;
  const line = (what: string, s: number, rate = true): string =>
    `${label.padEnd(28)} ${what.padEnd(22)} ${(s * 1000).toFixed(0).padStart(6)} ms${rate ? `  ${(mb / s).toFixed(1).padStart(7)} MB/s` : ''}`;
  console.log(line('push (all blobs)', median(push)));
  console.log(line('re-push (idempotent)', median(repush), false));
  console.log(line('pull (verified)', median(pull)));
}

export async function main(): Promise<void> {
  const work = await tempDir('modelship-bench-');
  const model = path.join(work, 'cnn');
  const cnn = buildCnn({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  await saveModel(cnn, model, metadataFor(1, { inputShape: [28, 28, 1], classes: Array.from({ length: 10 }, (_, i) => `c${i}`) }));
  const params = cnn.countParams();
  cnn.dispose();
  const { stat, readdir } = await import('node:fs/promises');
  let bytes = 0;
  for (const f of await readdir(model)) bytes += (await stat(path.join(model, f))).size;
  console.log(`model: default CNN (${params.toLocaleString('en-US')} parameters), folder ${formatBytes(bytes)}; median of ${RUNS} runs`);

  // A new folder per run: blobs are shared across names in one layout, so this uploads them all.
  const local = (i: number): Promise<Registry> => openRegistry(path.join(work, `registry-${i}`), { log: silentLogger });
  await measure('local folder (OCI layout)', 'local', local, model, bytes, work);

  const srv = await startRegistry();
  try {
    // A new repository per run (blobs are linked per repository, so all are uploaded).
    const remote = (i: number): Promise<Registry> => openRegistry(`oci://${srv.host}/bench${i}`, { log: silentLogger });
    await measure('docker-registry on loopback', 'remote', remote, model, bytes, work);
    // The transfer alone: the same blobs uploaded without allocating a version.
    const built = await buildArtifact(model, { name: 'bench', now: new Date() });
    const upload: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const store = new DistributionStore(
        { kind: 'oci', host: srv.host, namespace: `blobs${i}`, scheme: 'http', display: srv.host },
        { log: silentLogger },
      );
      upload.push(await timeIt(() => Promise.all(built.blobs.map((b) => store.putBlob('bench', b)))));
    }
    const s = median(upload);
    console.log(
      `${'docker-registry on loopback'.padEnd(28)} ${'blob upload only'.padEnd(22)} ${(s * 1000).toFixed(0).padStart(6)} ms  ${(bytes / 1e6 / s).toFixed(1).padStart(7)} MB/s`,
    );
    console.log('(a remote push = blob upload + version allocation, whose re-read after ≥ 500 ms detects a lost race)');
  } finally {
    await srv.stop();
    await rm(work, { recursive: true, force: true });
  }
}

if (isEntry(import.meta.url)) await main();
