/**
 * CSV with a header row and a label column; every other column is a numeric feature.
 *
 * The label column is `label-column`, else the first of the conventional names `label`, `target`,
 * `class`, `y` (any case) that is a column, and the reader says which it took; a CSV with neither
 * is refused (guessing the last column made silent regression targets of ids). The task follows
 * from the labels (REGRESSION_RULE): numeric labels that are not all whole numbers, or that take
 * more than REGRESSION_MIN_DISTINCT distinct values, are a regression target (float32); anything
 * else is classification, with the class names sorted (numerically when all are numbers, else by
 * code point).
 *
 * A folder may hold one .csv file, or train.csv and test.csv (and validation.csv / val.csv) as a
 * given split with the same header.
 *
 * Files are streamed twice: once to count rows and check their shape, so the prepared size is known
 * and budgeted before anything is parsed into numbers; then into arrays of exactly that size.
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { ConfigurationError, openRegularFile } from '../../util/index.ts';
import { checkMemoryBudget, DEFAULT_DATA_LIMITS } from '../limits.ts';
import type { FileRecord, Task } from '../manifest.ts';
import {
  GIVEN_TEST,
  GIVEN_TRAIN,
  GIVEN_VALIDATION,
  type Reader,
  type ReaderOptions,
  type ReadResult,
  type SourceFile,
  type SourceTree,
} from '../types.ts';

/** Column names taken as the label when label-column is not set, in this order. */
export const CONVENTIONAL_LABELS: readonly string[] = ['label', 'target', 'class', 'y'];

export const REGRESSION_MIN_DISTINCT = 20;
export const REGRESSION_RULE =
  'numeric labels with a fractional value or more than 20 distinct values are a regression target; other labels are classes';

const SPLIT_FILES: Readonly<Record<string, number>> = {
  train: GIVEN_TRAIN,
  validation: GIVEN_VALIDATION,
  val: GIVEN_VALIDATION,
  test: GIVEN_TEST,
};

/**
 * RFC 4180 CSV: quoted fields ("" for a quote), CRLF or LF line ends, comma separated, fed in
 * chunks of any size; empty lines are skipped. Each row goes to `onRow` as soon as it is complete.
 */
export class CsvParser {
  readonly #onRow: (row: string[]) => void;
  #row: string[] = [];
  #field = '';
  #quoted = false;
  /** The last character was a quote inside a quoted field (an escaped quote or the field's end). */
  #quotePending = false;
  #cr = false;
  #started = false;

  constructor(onRow: (row: string[]) => void) {
    this.#onRow = onRow;
  }

  #endRow(): void {
    this.#row.push(this.#field);
    this.#field = '';
    if (!(this.#row.length === 1 && this.#row[0] === '')) this.#onRow(this.#row);
    this.#row = [];
  }

  push(text: string): void {
    let i = 0;
    const n = text.length;
    if (!this.#started) {
      this.#started = n > 0;
      if (text.charCodeAt(0) === 0xfeff) i = 1;
    }
    for (; i < n; i++) {
      const c = text[i];
      if (this.#cr) {
        this.#cr = false;
        if (c === '\n') continue;
      }
      if (this.#quotePending) {
        this.#quotePending = false;
        if (c === '"') {
          this.#field += '"';
          continue;
        }
        this.#quoted = false;
      }
      if (this.#quoted) {
        if (c === '"') this.#quotePending = true;
        else this.#field += c;
        continue;
      }
      if (c === '"' && this.#field === '') {
        this.#quoted = true;
      } else if (c === ',') {
        this.#row.push(this.#field);
        this.#field = '';
      } else if (c === '\n' || c === '\r') {
        this.#endRow();
        this.#cr = c === '\r';
      } else {
        this.#field += c;
      }
    }
  }

  end(): void {
    if (this.#field !== '' || this.#row.length > 0) this.#endRow();
  }
}

/** Parses CSV text whole (see CsvParser). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  const p = new CsvParser((r) => rows.push(r));
  p.push(text);
  p.end();
  return rows;
}

/** Streams a file (opened without following a link) through the parser. */
async function streamRows(file: SourceFile, onRow: (row: string[]) => void): Promise<void> {
  const fh = await openRegularFile(file.abs);
  const parser = new CsvParser(onRow);
  for await (const chunk of createReadStream('', { fd: fh, encoding: 'utf8', highWaterMark: 1 << 20 }) as AsyncIterable<string>) {
    parser.push(chunk);
  }
  parser.end();
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

export function parseNumber(s: string): number | undefined {
  const t = s.trim();
  if (!NUMBER.test(t)) return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
}

/** The pure rule that decides classification or regression from the raw label strings. */
export function decideTask(labels: readonly string[]): { task: Task; classes: string[] } {
  const distinct = [...new Set(labels.map((l) => l.trim()))];
  const numeric = distinct.map(parseNumber);
  const allNumeric = numeric.every((v) => v !== undefined);
  if (allNumeric && (numeric.some((v) => !Number.isInteger(v)) || distinct.length > REGRESSION_MIN_DISTINCT)) {
    return { task: 'regression', classes: [] };
  }
  const classes = allNumeric
    ? distinct.sort((a, b) => parseNumber(a)! - parseNumber(b)!)
    : distinct.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { task: 'classification', classes };
}

function csvFiles(tree: SourceTree): { file: SourceFile; given: number | undefined }[] {
  const all = tree.files.filter((f) => f.rel.toLowerCase().endsWith('.csv'));
  if (all.length === 0) {
    throw new ConfigurationError(`source '${tree.label}' has no .csv file.`, 'Point source at a .csv file or a folder that holds one.');
  }
  if (all.length === 1) return [{ file: all[0], given: undefined }];
  const named = all.map((file) => ({
    file,
    given: SPLIT_FILES[path.posix.basename(file.rel, path.posix.extname(file.rel)).toLowerCase()],
  }));
  if (named.every((n) => n.given !== undefined) && named.some((n) => n.given === GIVEN_TRAIN)) return named;
  throw new ConfigurationError(
    `source '${tree.label}' has ${all.length} .csv files (${all
      .slice(0, 4)
      .map((f) => f.rel)
      .join(', ')}${all.length > 4 ? ', …' : ''}).`,
    'Point source at one .csv file, or name them train.csv and test.csv (and validation.csv) for a given split.',
  );
}

/** Stops a stream walk from inside a row callback, carrying the error out. */
class Stop extends Error {
  readonly error: ConfigurationError;
  constructor(error: ConfigurationError) {
    super(error.message);
    this.error = error;
  }
}

async function walkRows(file: SourceFile, onRow: (row: string[], n: number) => void): Promise<void> {
  let n = 0;
  try {
    await streamRows(file, (row) => onRow(row, ++n));
  } catch (err) {
    throw err instanceof Stop ? err.error : err;
  }
}

export async function readCsv(tree: SourceTree, opts: ReaderOptions): Promise<ReadResult> {
  const parts = csvFiles(tree);
  // Pass 1: the header, the label column, the row count, every row's width.
  let header: string[] | undefined;
  let labelCol = -1;
  let count = 0;
  for (const { file } of parts) {
    let rows = 0;
    await walkRows(file, (row, r) => {
      if (r === 1) {
        const head = row.map((h) => h.trim());
        if (!header) {
          header = head;
          labelCol = findLabelColumn(file, head, opts);
        } else if (head.join('\u0000') !== header.join('\u0000')) {
          throw new Stop(
            new ConfigurationError(
              `CSV file '${file.rel}' has other columns than '${parts[0].file.rel}'.`,
              'Give all split files the same header.',
            ),
          );
        }
        return;
      }
      if (row.length !== header!.length) {
        throw new Stop(
          new ConfigurationError(
            `CSV file '${file.rel}' row ${r} has ${row.length} fields; the header has ${header!.length}.`,
            'Fix the row (quote fields that contain commas).',
          ),
        );
      }
      rows++;
    });
    if (header === undefined)
      throw new ConfigurationError(`CSV file '${file.rel}' is empty.`, 'Give it a header row and at least one row of data.');
    count += rows;
  }
  if (count === 0) throw new ConfigurationError(`source '${tree.label}' has a header but no rows.`, 'Add rows of data.');
  const head = header!;
  const features = head.filter((_, c) => c !== labelCol);
  const f = features.length;
  checkMemoryBudget(
    count * (f * 4 + 4),
    opts.memoryBudget ?? DEFAULT_DATA_LIMITS.memoryBudget,
    `${count.toLocaleString('en-US')} rows × ${f} features × 4 bytes, and their labels`,
    'Use fewer rows or columns',
  );

  // Pass 2: numbers into arrays of exactly the counted size; labels as indices into their distinct values.
  const x = new Float32Array(count * f);
  const labelIds = new Int32Array(count);
  const distinct: string[] = [];
  const idOf = new Map<string, number>();
  const given = new Uint8Array(count);
  let at = 0;
  for (const { file, given: g } of parts) {
    await walkRows(file, (row, r) => {
      if (r === 1) return;
      let k = at * f;
      for (let c = 0; c < row.length; c++) {
        if (c === labelCol) continue;
        const v = parseNumber(row[c]);
        if (v === undefined) {
          const shown = row[c].length > 40 ? `${row[c].slice(0, 40)}…` : row[c];
          throw new Stop(
            new ConfigurationError(
              `CSV file '${file.rel}' row ${r}, column '${head[c]}': '${shown}' is not a number.`,
              'Features must be numeric: encode categories as numbers, fill or drop missing values, or set label-column to this column.',
            ),
          );
        }
        x[k++] = v;
      }
      const label = row[labelCol].trim();
      if (label === '') {
        throw new Stop(
          new ConfigurationError(
            `CSV file '${file.rel}' row ${r} has an empty label in column '${head[labelCol]}'.`,
            'Give every row a label, or drop the row.',
          ),
        );
      }
      let id = idOf.get(label);
      if (id === undefined) {
        id = distinct.push(label) - 1;
        idOf.set(label, id);
      }
      labelIds[at] = id;
      given[at] = g ?? 0;
      at++;
    });
  }
  if (at !== count) throw new ConfigurationError(`source '${tree.label}' changed while it was read.`, 'Run setup-data again.');
  const { task, classes } = decideTask(distinct);
  opts.log.info(
    `Label column '${head[labelCol]}': ${task}${task === 'classification' ? ` with ${classes.length} classes` : ''} (${REGRESSION_RULE}).`,
  );
  let y: Int32Array | Float32Array;
  if (task === 'classification') {
    const index = new Map(classes.map((c, i) => [c, i]));
    const classOf = Int32Array.from(distinct, (l) => index.get(l)!);
    y = Int32Array.from(labelIds, (id) => classOf[id]);
  } else {
    const valueOf = Float32Array.from(distinct, (l) => parseNumber(l)!);
    y = Float32Array.from(labelIds, (id) => valueOf[id]);
  }
  const files: FileRecord[] = parts.map(({ file }) => ({ path: file.rel, sha256: file.sha256, size: file.size }));
  const hasGiven = parts.some((p) => p.given !== undefined);
  return {
    format: 'csv',
    task,
    classes,
    inputShape: [f],
    features,
    count,
    x,
    y,
    ...(hasGiven ? { given } : {}),
    files,
  };
}

/** The label column: label-column, else the first conventional name present (said in the log), else an error. */
function findLabelColumn(file: SourceFile, head: readonly string[], opts: ReaderOptions): number {
  if (head.length < 2) {
    throw new Stop(
      new ConfigurationError(
        `CSV file '${file.rel}' has ${head.length} column; it needs features and a label.`,
        'Check the separator: columns must be separated by commas.',
      ),
    );
  }
  const wanted = opts.labelColumn;
  if (wanted !== undefined) {
    const i = head.indexOf(wanted);
    if (i < 0) {
      throw new Stop(
        new ConfigurationError(
          `input 'label-column': column '${wanted}' is not in '${file.rel}'; its columns are: ${head.join(', ')}.`,
          'Set label-column to one of those columns.',
        ),
      );
    }
    return i;
  }
  for (const name of CONVENTIONAL_LABELS) {
    const i = head.findIndex((h) => h.toLowerCase() === name);
    if (i >= 0) {
      opts.log.info(
        `Label column '${head[i]}' taken by its name (the first of ${CONVENTIONAL_LABELS.join(', ')} among the columns); set label-column to use another.`,
      );
      return i;
    }
  }
  const shown = head.length > 12 ? `${head.slice(0, 12).join(', ')}, …` : head.join(', ');
  throw new Stop(
    new ConfigurationError(
      `input 'label-column' is not set, and CSV file '${file.rel}' has no column named ${CONVENTIONAL_LABELS.join(', ')}; its columns are: ${shown}.`,
      `Set label-column to the column that holds the label (e.g. label-column: ${head[head.length - 1]}), or name that column label.`,
    ),
  );
}

export const csvReader: Reader = {
  format: 'csv',
  detect: (tree) => tree.files.some((f) => f.rel.toLowerCase().endsWith('.csv')),
  read: readCsv,
};
