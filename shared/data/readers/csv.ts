/**
 * CSV with a header row and a label column; every other column is a numeric feature.
 *
 * The label column is `label-column`, else a column named `label` (any case), else the last one.
 * The task follows from the labels (REGRESSION_RULE): numeric labels that are not all whole numbers,
 * or that take more than REGRESSION_MIN_DISTINCT distinct values, are a regression target
 * (float32); anything else is classification, with the class names sorted (numerically when all
 * are numbers, else by code point).
 *
 * A folder may hold one .csv file, or train.csv and test.csv (and validation.csv / val.csv) as a
 * given split with the same header.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigurationError } from '../../util/index.ts';
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

export const REGRESSION_MIN_DISTINCT = 20;
export const REGRESSION_RULE =
  'numeric labels with a fractional value or more than 20 distinct values are a regression target; other labels are classes';

const SPLIT_FILES: Readonly<Record<string, number>> = {
  train: GIVEN_TRAIN,
  validation: GIVEN_VALIDATION,
  val: GIVEN_VALIDATION,
  test: GIVEN_TEST,
};

/** RFC 4180 CSV: quoted fields ("" for a quote), CRLF or LF line ends, comma separated. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      row.push(field);
      field = '';
      if (!(row.length === 1 && row[0] === '')) rows.push(row);
      row = [];
      if (c === '\r' && text[i + 1] === '\n') i++;
    } else {
      field += c;
    }
    i++;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
  }
  return rows;
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

export async function readCsv(tree: SourceTree, opts: ReaderOptions): Promise<ReadResult> {
  const parts = csvFiles(tree);
  let header: string[] | undefined;
  let labelCol = -1;
  const labels: string[] = [];
  const values: number[] = [];
  const given: number[] = [];
  for (const { file, given: g } of parts) {
    const rows = parseCsv(await readFile(file.abs, 'utf8'));
    if (rows.length === 0)
      throw new ConfigurationError(`CSV file '${file.rel}' is empty.`, 'Give it a header row and at least one row of data.');
    const head = rows[0].map((h) => h.trim());
    if (!header) {
      header = head;
      labelCol = findLabelColumn(file, head, opts.labelColumn);
    } else if (head.join('\u0000') !== header.join('\u0000')) {
      throw new ConfigurationError(
        `CSV file '${file.rel}' has other columns than '${parts[0].file.rel}'.`,
        'Give all split files the same header.',
      );
    }
    for (let r = 1; r < rows.length; r++) {
      const row = rows[r];
      if (row.length !== head.length) {
        throw new ConfigurationError(
          `CSV file '${file.rel}' row ${r + 1} has ${row.length} fields; the header has ${head.length}.`,
          'Fix the row (quote fields that contain commas).',
        );
      }
      for (let c = 0; c < row.length; c++) {
        if (c === labelCol) continue;
        const v = parseNumber(row[c]);
        if (v === undefined) {
          const shown = row[c].length > 40 ? `${row[c].slice(0, 40)}…` : row[c];
          throw new ConfigurationError(
            `CSV file '${file.rel}' row ${r + 1}, column '${head[c]}': '${shown}' is not a number.`,
            'Features must be numeric: encode categories as numbers, fill or drop missing values, or set label-column to this column.',
          );
        }
        values.push(v);
      }
      const label = row[labelCol].trim();
      if (label === '') {
        throw new ConfigurationError(
          `CSV file '${file.rel}' row ${r + 1} has an empty label in column '${head[labelCol]}'.`,
          'Give every row a label, or drop the row.',
        );
      }
      labels.push(label);
      given.push(g ?? 0);
    }
  }
  const count = labels.length;
  if (count === 0) throw new ConfigurationError(`source '${tree.label}' has a header but no rows.`, 'Add rows of data.');
  const features = header!.filter((_, c) => c !== labelCol);
  const { task, classes } = decideTask(labels);
  opts.log.info(
    `Label column '${header![labelCol]}': ${task}${task === 'classification' ? ` with ${classes.length} classes` : ''} (${REGRESSION_RULE}).`,
  );
  let y: Int32Array | Float32Array;
  if (task === 'classification') {
    const index = new Map(classes.map((c, i) => [c, i]));
    y = Int32Array.from(labels, (l) => index.get(l)!);
  } else {
    y = Float32Array.from(labels, (l) => parseNumber(l)!);
  }
  const files: FileRecord[] = parts.map(({ file }) => ({ path: file.rel, sha256: file.sha256, size: file.size }));
  const hasGiven = parts.some((p) => p.given !== undefined);
  return {
    format: 'csv',
    task,
    classes,
    inputShape: [features.length],
    features,
    count,
    x: Float32Array.from(values),
    y,
    ...(hasGiven ? { given: Uint8Array.from(given) } : {}),
    files,
  };
}

function findLabelColumn(file: SourceFile, head: readonly string[], wanted: string | undefined): number {
  if (head.length < 2) {
    throw new ConfigurationError(
      `CSV file '${file.rel}' has ${head.length} column; it needs features and a label.`,
      'Check the separator: columns must be separated by commas.',
    );
  }
  if (wanted !== undefined) {
    const i = head.indexOf(wanted);
    if (i < 0) {
      throw new ConfigurationError(
        `input 'label-column': column '${wanted}' is not in '${file.rel}'; its columns are: ${head.join(', ')}.`,
        'Set label-column to one of those columns.',
      );
    }
    return i;
  }
  const named = head.findIndex((h) => h.toLowerCase() === 'label');
  return named >= 0 ? named : head.length - 1;
}

export const csvReader: Reader = {
  format: 'csv',
  detect: (tree) => tree.files.some((f) => f.rel.toLowerCase().endsWith('.csv')),
  read: readCsv,
};
