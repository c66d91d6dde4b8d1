/**
 * A data set folder from tensors a test chose (each split in its own order), written as
 * setup-data writes one: tensor files, and a manifest whose every digest is computed by the same
 * functions setup-data and the verifier use (shared/data/digest.ts), sealed with its own digest.
 * The splits are recorded as given by the source (nothing carved), so they stay as the test made them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  contentOrder,
  datasetDigest,
  digestHeader,
  RECORD_BYTES,
  sealManifest,
  splitDigest,
  writeRecords,
} from '../../shared/data/digest.ts';
import {
  DATASET_SCHEMA_VERSION,
  SPLITS,
  type DatasetManifest,
  type DatasetStatistics,
  type SplitName,
  type SplitRecord,
  type TensorDtype,
} from '../../shared/data/manifest.ts';
import { sha256 } from '../../shared/util/fs.ts';

export interface SplitData {
  readonly x: Uint8Array | Float32Array;
  /** Class indices (classification) or targets (regression). */
  readonly y: Int32Array | Float32Array;
}

export interface SealedOptions {
  readonly task?: 'classification' | 'regression';
  readonly classes: readonly string[];
  readonly inputShape: readonly number[];
  readonly features?: readonly string[];
  readonly format?: DatasetManifest['format'];
  readonly source?: string;
  readonly splits: Readonly<Record<SplitName, SplitData>>;
  readonly statistics?: DatasetStatistics;
  /** The split seed recorded (default 1). */
  readonly seed?: number;
}

const bytesOf = (a: Uint8Array | Int32Array | Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export async function writeSealedDataset(dir: string, o: SealedOptions): Promise<DatasetManifest> {
  await mkdir(dir, { recursive: true });
  const task = o.task ?? 'classification';
  const xDtype: TensorDtype = o.splits.train.x instanceof Uint8Array ? 'uint8' : 'float32';
  const per = o.inputShape.reduce((a, b) => a * b, 1) * (xDtype === 'uint8' ? 1 : 4);
  const splits = {} as Record<SplitName, SplitRecord>;
  const all: Buffer[] = [];
  for (const name of SPLITS) {
    const { x, y } = o.splits[name];
    const n = y.length;
    const xb = bytesOf(x);
    const yb = bytesOf(y);
    await writeFile(path.join(dir, `${name}.x.bin`), xb);
    await writeFile(path.join(dir, `${name}.y.bin`), yb);
    const records = Buffer.alloc(n * RECORD_BYTES);
    writeRecords(xb, yb, n, per, records);
    all.push(records);
    const classCounts = new Array<number>(o.classes.length).fill(0);
    if (task === 'classification') for (const l of y) classCounts[l]++;
    splits[name] = {
      count: n,
      digest: splitDigest(records),
      classCounts,
      x: { file: `${name}.x.bin`, dtype: xDtype, shape: [n, ...o.inputShape], sha256: sha256(xb) },
      y: { file: `${name}.y.bin`, dtype: task === 'classification' ? 'int32' : 'float32', shape: [n], sha256: sha256(yb) },
    };
  }
  const records = Buffer.concat(all);
  const n = records.length / RECORD_BYTES;
  const header = { task, classes: o.classes, inputShape: o.inputShape, ...(o.features ? { features: o.features } : {}) };
  const manifest = sealManifest({
    schemaVersion: DATASET_SCHEMA_VERSION,
    kind: 'modelship.dataset',
    format: o.format ?? (xDtype === 'uint8' ? 'idx' : 'csv'),
    task,
    source: { uri: o.source ?? 'test' },
    digest: datasetDigest(digestHeader(header, xDtype), records, n, contentOrder(records, n)),
    classes: o.classes,
    inputShape: o.inputShape,
    ...(o.features ? { features: o.features } : {}),
    split: { ratios: [80, 10, 10], seed: o.seed ?? 1, given: true, carved: [] },
    splits,
    files: [],
    statistics: o.statistics ?? {
      classDistribution: o.classes.map(() => 1 / Math.max(1, o.classes.length)),
      channels: [{ mean: 100, std: 50 }],
      histogram: { edges: [0, 256], counts: [1] },
    },
    createdAt: '2026-01-01T00:00:00Z',
    tool: { name: 'modelship', version: '0.1.0' },
  });
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  return manifest;
}
