/**
 * How a data set is named by its content, in one place for the writer (setup-data) and the
 * verifier (every reader of a data set folder), so that a digest is always recomputable from the
 * tensors it names:
 *
 *   record(example) = sha256(its x bytes) ‖ its label's 4 bytes (int32 or float32, little-endian)
 *   split digest    = sha256(the records of the split, in file order)
 *   data set digest = sha256(header JSON ‖ every record, sorted by bytes)
 *   manifest digest = sha256(the manifest's canonical JSON without manifestDigest)
 *
 * The header binds the task, classes, input shape, features and x dtype. Sorting makes the data
 * set digest independent of the source's file order and of the split.
 */
import { createHash, hash } from 'node:crypto';
import type { DatasetManifest, TensorDtype } from './manifest.ts';

/** Bytes per example record: a sha256 and a 4-byte label. */
export const RECORD_BYTES = 36;

export const dtypeBytes = (dtype: TensorDtype): number => (dtype === 'uint8' ? 1 : 4);

/**
 * Writes the records of `count` examples into `out` at record `at`: x holds count × exampleBytes
 * bytes, y count × 4 bytes.
 */
export function writeRecords(x: Uint8Array, y: Uint8Array, count: number, exampleBytes: number, out: Buffer, at = 0): void {
  for (let i = 0; i < count; i++) {
    const o = (at + i) * RECORD_BYTES;
    out.set(hash('sha256', x.subarray(i * exampleBytes, (i + 1) * exampleBytes), 'buffer'), o);
    out.set(y.subarray(i * 4, i * 4 + 4), o + 32);
  }
}

/** The header the data set digest starts with. */
export function digestHeader(m: Pick<DatasetManifest, 'task' | 'classes' | 'inputShape' | 'features'>, xDtype: TensorDtype): string {
  return JSON.stringify({
    kind: 'modelship.dataset',
    task: m.task,
    classes: m.classes,
    inputShape: m.inputShape,
    features: m.features ?? null,
    dtype: xDtype,
  });
}

/** sha256:<hex> over records in the order given (a split's file order). */
export function splitDigest(records: Buffer, order?: ArrayLike<number>): string {
  const h = createHash('sha256');
  if (order) for (let k = 0; k < order.length; k++) h.update(records.subarray(order[k] * RECORD_BYTES, (order[k] + 1) * RECORD_BYTES));
  else h.update(records);
  return `sha256:${h.digest('hex')}`;
}

/**
 * Indices of the records in byte order. The top bits of each record and its index are packed into
 * one 64-bit integer and sorted natively; runs whose top bits tie are then ordered by full compare.
 */
export function contentOrder(records: Buffer, n: number): Int32Array {
  const idxBits = BigInt(Math.max(1, 32 - Math.clz32(Math.max(1, n - 1))));
  const mask = (1n << idxBits) - 1n;
  const packed = new BigUint64Array(n);
  for (let i = 0; i < n; i++) packed[i] = ((records.readBigUInt64BE(i * RECORD_BYTES) >> idxBits) << idxBits) | BigInt(i);
  packed.sort();
  const order = new Int32Array(n);
  for (let k = 0; k < n; k++) order[k] = Number(packed[k] & mask);
  const view = (i: number): Buffer => records.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES);
  for (let k = 0; k < n;) {
    let end = k + 1;
    while (end < n && packed[end] >> idxBits === packed[k] >> idxBits) end++;
    if (end - k > 1) order.subarray(k, end).sort((a, b) => Buffer.compare(view(a), view(b)));
    k = end;
  }
  return order;
}

/** sha256:<hex> of the header and every record in byte order. `order` is contentOrder(records) when known. */
export function datasetDigest(header: string, records: Buffer, n: number, order: Int32Array = contentOrder(records, n)): string {
  const h = createHash('sha256').update(header);
  for (let k = 0; k < n; k++) h.update(records.subarray(order[k] * RECORD_BYTES, (order[k] + 1) * RECORD_BYTES));
  return `sha256:${h.digest('hex')}`;
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** The manifest's digest of itself: sha256 of its canonical JSON without `manifestDigest`. */
export function manifestDigestOf(m: Omit<DatasetManifest, 'manifestDigest'> & { readonly manifestDigest?: string }): string {
  const { manifestDigest: _omit, ...rest } = m;
  return `sha256:${createHash('sha256').update(canonicalJson(rest)).digest('hex')}`;
}

/** The manifest with its own digest set (the last step of writing one). */
export function sealManifest(m: Omit<DatasetManifest, 'manifestDigest'>): DatasetManifest {
  return { ...m, manifestDigest: manifestDigestOf(m) };
}
