/**
 * Several sources prepared as one data set (the original data plus an exported feedback set):
 * each is read in its own format, then their examples are put together here, before the split.
 *
 * - They must agree on the task, the input shape and dtype, and (tabular) the feature columns; a
 *   mismatch names both sources and the fix.
 * - Classes are matched by name. The first source's order is kept, so its labels keep their
 *   indices; a class only a later source has is added at the end (with a warning).
 * - The split stays hash-stable: every example goes where sha256(seed ‖ its content) puts it, so
 *   examples that were in a split before stay in it. When a source gives a split of its own
 *   (train/ and test/ folders, IDX train and t10k files), examples of sources without one count as
 *   given train examples (carved into validation by hash as the given train ones are), so they
 *   never enter a test split the source fixed; and an example whose content is already in a given
 *   split of an earlier source goes to that split (no leakage of test examples through feedback).
 * - An example of a later source that an earlier one already has, the same content with the same
 *   label (feedback on a prediction of an image the data set holds), is left out, and the log says
 *   how many: it adds nothing, and kept it would weigh twice, in the test split too. With another
 *   label it is kept, in the split of the earlier one.
 * - The manifest records each source with the digest of its content alone (the digest setup-data
 *   gives that source by itself), and every file with the index of its source.
 */
import { hash } from 'node:crypto';
import { ConfigurationError, type Logger } from '../util/index.ts';
import { datasetDigest, digestHeader, RECORD_BYTES, writeRecords } from './digest.ts';
import type { FileRecord, SourceRecord } from './manifest.ts';
import { GIVEN_TRAIN, type ReadResult } from './types.ts';

export interface SourceRead {
  readonly uri: string;
  readonly sha256?: string;
  readonly read: ReadResult;
}

function bytesOf(a: Uint8Array | Int32Array | Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function exampleBytes(r: ReadResult): number {
  return r.inputShape.reduce((a, b) => a * b, 1) * (r.x instanceof Uint8Array ? 1 : 4);
}

/** The data set digest of one read source, as writeDataset computes it (digest.ts). */
export function contentDigest(r: ReadResult): string {
  const records = Buffer.alloc(r.count * RECORD_BYTES);
  writeRecords(bytesOf(r.x), bytesOf(r.y), r.count, exampleBytes(r), records);
  const header = { task: r.task, classes: r.classes, inputShape: r.inputShape, ...(r.features ? { features: r.features } : {}) };
  return datasetDigest(digestHeader(header, r.x instanceof Uint8Array ? 'uint8' : 'float32'), records, r.count);
}

function shape(s: readonly number[]): string {
  return s.length === 3 ? `${s[1]}x${s[0]} with ${s[2]} channel${s[2] === 1 ? '' : 's'}` : `[${s.join(', ')}]`;
}

/** Checks that a later source fits the first; a ConfigurationError naming both otherwise. */
function checkCompatible(first: SourceRead, other: SourceRead): void {
  const a = first.read;
  const b = other.read;
  const both = `'${other.uri}' and '${first.uri}'`;
  if (a.task !== b.task) {
    throw new ConfigurationError(
      `sources ${both} do not hold the same kind of data: '${other.uri}' is ${b.task}, '${first.uri}' ${a.task}.`,
      'Give setup-data sources of one task (one label column, the same classes or targets).',
    );
  }
  const dtype = (r: ReadResult): string => (r.x instanceof Uint8Array ? 'uint8' : 'float32');
  if (a.inputShape.join('x') !== b.inputShape.join('x') || dtype(a) !== dtype(b)) {
    const images = a.inputShape.length === 3 && b.inputShape.length === 3;
    throw new ConfigurationError(
      `sources ${both} have examples of different shapes: '${other.uri}' ${shape(b.inputShape)} (${dtype(b)}), '${first.uri}' ${shape(a.inputShape)} (${dtype(a)}).`,
      images
        ? `Set image-size: ${a.inputShape[1]}x${a.inputShape[0]} to resize the image folders to the first source's size (channels must match too).`
        : 'Give sources with the same columns.',
    );
  }
  if ((a.features ?? []).join('\u0000') !== (b.features ?? []).join('\u0000')) {
    throw new ConfigurationError(
      `sources ${both} have different feature columns: '${other.uri}' has ${(b.features ?? []).join(', ')}; '${first.uri}' has ${(a.features ?? []).join(', ')}.`,
      'Give every CSV the same columns in the same order.',
    );
  }
}

/** One ReadResult from several (see the module comment), and the manifest's record of each source. */
export function mergeSources(reads: readonly SourceRead[], log: Logger): { read: ReadResult; sources: SourceRecord[] } {
  const first = reads[0];
  for (const other of reads.slice(1)) checkCompatible(first, other);
  const classification = first.read.task === 'classification';
  const classes = [...first.read.classes];
  const maps = reads.map((s) =>
    s.read.classes.map((c) => {
      let k = classes.indexOf(c);
      if (k < 0 && classification) {
        k = classes.push(c) - 1;
        log.warning(`source '${s.uri}' has the class '${c}', which '${first.uri}' has not: it is class ${k} of the data set.`);
      }
      return k;
    }),
  );
  const count = reads.reduce((a, s) => a + s.read.count, 0);
  const per = first.read.inputShape.reduce((a, b) => a * b, 1);
  const eb = exampleBytes(first.read);
  const uint8 = first.read.x instanceof Uint8Array;
  const x = uint8 ? new Uint8Array(count * per) : new Float32Array(count * per);
  const y = classification ? new Int32Array(count) : new Float32Array(count);
  const anyGiven = reads.some((s) => s.read.given !== undefined);
  const given = anyGiven ? new Uint8Array(count) : undefined;
  // Content already in a given split of an earlier source keeps that split.
  const givenOf = new Map<string, number>();
  // Content and label of every example of the sources before, to leave out repeats.
  const seen = new Set<string>();
  const files: FileRecord[] = [];
  const exampleFile = new Int32Array(count).fill(-1);
  let anyExampleFile = false;
  let at = 0;
  reads.forEach((s, i) => {
    const r = s.read;
    const xb = bytesOf(r.x);
    const last = i === reads.length - 1;
    const fileBase = files.length;
    for (const f of r.files) files.push({ ...f, source: i });
    if (r.exampleFile) anyExampleFile = true;
    let repeats = 0;
    const keys: string[] = [];
    for (let k = 0; k < r.count; k++) {
      const label = classification ? maps[i][r.y[k]] : r.y[k];
      const h = hash('sha256', xb.subarray(k * eb, (k + 1) * eb), 'hex');
      const key = `${h}:${label}`;
      if (i > 0 && seen.has(key)) {
        repeats++;
        continue;
      }
      if (!last) keys.push(key);
      x.set(r.x.subarray(k * per, (k + 1) * per), at * per);
      y[at] = label;
      if (given) {
        const g = r.given ? r.given[k] : (givenOf.get(h) ?? GIVEN_TRAIN);
        given[at] = g;
        if (r.given && !givenOf.has(h)) givenOf.set(h, g);
      }
      if (r.exampleFile) exampleFile[at] = fileBase + r.exampleFile[k];
      at++;
    }
    for (const key of keys) seen.add(key);
    if (repeats > 0)
      log.info(
        `${repeats} of the ${r.count} examples of '${s.uri}' are already in an earlier source with the same label: left out (they would count twice).`,
      );
  });
  const sources: SourceRecord[] = reads.map((s) => ({
    uri: s.uri,
    ...(s.sha256 ? { sha256: s.sha256 } : {}),
    format: s.read.format,
    digest: contentDigest(s.read),
    examples: s.read.count,
    classes: s.read.classes,
  }));
  return {
    read: {
      format: first.read.format,
      task: first.read.task,
      classes: classification ? classes : [],
      inputShape: first.read.inputShape,
      ...(first.read.features ? { features: first.read.features } : {}),
      count: at,
      x: x.subarray(0, at * per),
      y: y.subarray(0, at),
      ...(given ? { given: given.subarray(0, at) } : {}),
      files,
      ...(anyExampleFile ? { exampleFile: exampleFile.subarray(0, at) } : {}),
    },
    sources,
  };
}
