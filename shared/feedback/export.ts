/**
 * `modelship feedback export`: the feedback store turned into a data set folder setup-data reads.
 *
 *   image models (uint8, [h, w, 1 | 3])   <out>/<label>/<id>-<index>-<hash>.png   (lossless: the exact pixels served;
 *                                         a / in a class name is written %2F, as setup-data reads it)
 *   tabular models (float32 features)      <out>/feedback.csv                     (the features, then `label`)
 *   both                                   <out>/provenance.jsonl                 (one line per example: where it came from)
 *
 * Every example records where it came from: its file name carries the request id, and its line in
 * provenance.jsonl the request id and example index, the model, version and digest that predicted
 * it, the prediction, the label, both times, and the store segment and line it was read from.
 * setup-data records provenance.jsonl (path and sha256) among the source files, and ignores it
 * otherwise.
 *
 * Feedback given twice for one prediction (the same model, version, request id, example index and
 * prediction time) is exported once: the later label wins. The folder is written atomically.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { classFolderName, PROVENANCE_FILE } from '../data/index.ts';
import { buildDirAtomic, ConfigurationError } from '../util/index.ts';
import { decodeInput } from './record.ts';
import { latestPerPrediction, predictionKey, readStore, type ReadProblem } from './store.ts';

export type ExportFormat = 'auto' | 'image-folder' | 'csv';

export interface ExportOptions {
  /** The store folder. */
  readonly store: string;
  /** The data set folder to write (replaced whole). */
  readonly out: string;
  readonly format?: ExportFormat;
  /** The model to export; needed when the store holds feedback for several. */
  readonly model?: string;
  /** Only feedback on these versions (default every version). */
  readonly versions?: readonly string[];
  /** Only feedback that arrived at or after / before this time. */
  readonly since?: Date;
  readonly until?: Date;
  /** Only the predictions that were wrong (default every labelled example). */
  readonly onlyWrong?: boolean;
  /** The label column of a CSV export (default `label`). */
  readonly labelColumn?: string;
}

export interface ExportResult {
  readonly dir: string;
  readonly format: 'image-folder' | 'csv';
  readonly model: string;
  readonly examples: number;
  /** Examples per label. */
  readonly labels: Readonly<Record<string, number>>;
  /** Of them, predicted wrongly. */
  readonly wrong: number;
  readonly versions: readonly string[];
  /** Records read, and left out (another model or version, outside the times, a duplicate, only-wrong). */
  readonly read: number;
  readonly skipped: number;
  readonly duplicates: number;
  readonly torn: readonly ReadProblem[];
  readonly corrupt: readonly ReadProblem[];
  readonly provenancePath: string;
}

/** A file-name-safe form of a request id. */
function safeId(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
}

/** The shortest decimal that reads back as the same float32. */
function f32Text(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  for (let p = 1; p < 10; p++) {
    const r = Number(v.toPrecision(p));
    if (Math.fround(r) === v) return String(r);
  }
  return String(v);
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Writes the export (see the module comment). */
export async function exportFeedback(opts: ExportOptions): Promise<ExportResult> {
  const contents = await readStore(opts.store);
  const all = contents.records;
  const models = [...new Set(all.map((r) => r.record.model))].sort();
  if (all.length === 0) {
    throw new ConfigurationError(
      `the feedback store '${opts.store}' holds no feedback records${contents.segments ? ` (${contents.segments} segment file(s), ${contents.torn.length + contents.corrupt.length} unreadable line(s))` : ''}.`,
      "Point --store at the server's feedback folder (modelship serve --feedback-dir), and send feedback to :feedback first.",
    );
  }
  const model = opts.model ?? (models.length === 1 ? models[0] : undefined);
  if (!model) {
    throw new ConfigurationError(
      `the feedback store '${opts.store}' holds feedback for ${models.length} models (${models.join(', ')}).`,
      'Say which one with --model.',
    );
  }
  if (!models.includes(model)) {
    throw new ConfigurationError(
      `the feedback store '${opts.store}' holds no feedback for model '${model}' (only ${models.join(', ')}).`,
      'Check --model, or the store folder.',
    );
  }
  let skipped = 0;
  const inScope = all.filter((s) => {
    const r = s.record;
    const t = Date.parse(r.time);
    const keep =
      r.model === model &&
      !(opts.versions && opts.versions.length > 0 && !opts.versions.includes(r.version)) &&
      !(opts.since && !(t >= opts.since.getTime())) &&
      !(opts.until && !(t < opts.until.getTime()));
    if (!keep) skipped++;
    return keep;
  });
  // The later of two records for one prediction wins (a corrected label).
  const { kept, duplicates } = latestPerPrediction(inScope);
  let chosen = kept;
  if (opts.onlyWrong) {
    const before = chosen.length;
    chosen = chosen.filter((s) => s.record.predicted !== s.record.label);
    skipped += before - chosen.length;
  }
  if (chosen.length === 0) {
    throw new ConfigurationError(
      `no feedback for ${model} matches the export's filters (${all.length} record(s) read).`,
      'Widen --version, --since, --until, or drop --only-wrong.',
    );
  }
  chosen.sort((a, b) =>
    a.record.time < b.record.time ? -1 : a.record.time > b.record.time ? 1 : a.segment < b.segment ? -1 : a.line - b.line,
  );
  const first = chosen[0].record.input;
  const odd = chosen.find((s) => s.record.input.dtype !== first.dtype || s.record.input.shape.join('x') !== first.shape.join('x'));
  if (odd) {
    throw new ConfigurationError(
      `feedback for ${model} mixes inputs of ${first.dtype} [${first.shape.join(',')}] (version ${chosen[0].record.version}) and ${odd.record.input.dtype} [${odd.record.input.shape.join(',')}] (version ${odd.record.version}).`,
      'Export one input shape at a time: give --version for the versions that share it.',
    );
  }
  const isImage = first.dtype === 'uint8' && first.shape.length === 3 && (first.shape[2] === 1 || first.shape[2] === 3);
  const format = (opts.format ?? 'auto') === 'auto' ? (isImage ? 'image-folder' : 'csv') : (opts.format as 'image-folder' | 'csv');
  if (format === 'image-folder' && !isImage) {
    throw new ConfigurationError(
      `feedback for ${model} has ${first.dtype} inputs of shape [${first.shape.join(',')}], which are not images.`,
      'Export it as --format csv.',
    );
  }
  const labelColumn = opts.labelColumn ?? 'label';
  const features = chosen[0].record.features ?? Array.from({ length: first.shape.reduce((a, b) => a * b, 1) }, (_, i) => `f${i}`);
  if (format === 'csv' && features.includes(labelColumn)) {
    throw new ConfigurationError(
      `the model has a feature named '${labelColumn}'.`,
      'Give the label column another name with --label-column.',
    );
  }
  const out = path.resolve(opts.out);
  const labels: Record<string, number> = {};
  let wrong = 0;
  await buildDirAtomic(out, async (tmp) => {
    const provenance: string[] = [];
    const rows: string[] = [];
    const sharp = format === 'image-folder' ? (await import('sharp')).default : undefined;
    const made = new Set<string>();
    for (const [i, s] of chosen.entries()) {
      const r = s.record;
      labels[r.label] = (labels[r.label] ?? 0) + 1;
      if (r.predicted !== r.label) wrong++;
      let file: string;
      const values = decodeInput(r.input);
      if (sharp) {
        const hash = createHash('sha256').update(predictionKey(r)).digest('hex').slice(0, 10);
        const dir = classFolderName(r.label);
        file = `${dir}/${safeId(r.id)}-${r.index}-${hash}.png`;
        if (!made.has(dir)) {
          await mkdir(path.join(tmp, dir), { recursive: true });
          made.add(dir);
        }
        const [height, width, channels] = r.input.shape as [number, number, 1 | 3];
        const raw = sharp(Buffer.from(values.buffer, values.byteOffset, values.byteLength), { raw: { width, height, channels } });
        // Greyscale stays one channel (sharp writes sRGB unless told), as setup-data reads it back.
        const png = await (channels === 1 ? raw.toColourspace('b-w') : raw).png({ compressionLevel: 9 }).toBuffer();
        await writeFile(path.join(tmp, file), png);
      } else {
        file = `feedback.csv#${i + 2}`;
        rows.push([...Array.from(values, (v) => f32Text(v)), csvField(r.label)].join(','));
      }
      provenance.push(
        JSON.stringify({
          file,
          id: r.id,
          index: r.index,
          model: r.model,
          version: r.version,
          digest: r.digest,
          predicted: r.predicted,
          label: r.label,
          predictedAt: r.predictedAt,
          time: r.time,
          store: { segment: s.segment, line: s.line },
        }),
      );
    }
    if (format === 'csv') {
      await writeFile(
        path.join(tmp, 'feedback.csv'),
        `${[...features.map(csvField), csvField(labelColumn)].join(',')}\n${rows.join('\n')}\n`,
      );
    }
    await writeFile(path.join(tmp, PROVENANCE_FILE), `${provenance.join('\n')}\n`);
  });
  return {
    dir: out,
    format,
    model,
    examples: chosen.length,
    labels,
    wrong,
    versions: [...new Set(chosen.map((s) => s.record.version))].sort((a, b) => Number(a) - Number(b)),
    read: all.length,
    skipped,
    duplicates,
    torn: contents.torn,
    corrupt: contents.corrupt,
    provenancePath: path.join(out, PROVENANCE_FILE),
  };
}
