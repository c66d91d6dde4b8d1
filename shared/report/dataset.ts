/**
 * The job summary of a prepared data set: classes with counts per split, the split rule, the
 * digest, the format and the source. Pure: manifest in, Markdown out.
 */
import type { DatasetManifest } from '../data/index.ts';
import { code, count, details, escapeMarkdown, table } from './markdown.ts';
import { shortDigest } from '../util/index.ts';

export interface DatasetSummaryOptions {
  /** True when the output was reused (unchanged since the last run, or from the cache). */
  readonly cacheHit?: boolean;
  readonly origin?: 'unchanged' | 'cache' | 'built';
  /** Classes shown in the open table; the rest go into a collapsed one. */
  readonly maxClasses?: number;
}

const ORIGIN_TEXT = {
  unchanged: 'reused: source unchanged since the last run',
  cache: 'restored from the Actions cache',
  built: 'prepared now',
} as const;

export function renderDatasetSummary(m: DatasetManifest, opts: DatasetSummaryOptions = {}): string {
  const { train, validation, test } = m.splits;
  const total = train.count + validation.count + test.count;
  const shape = m.inputShape.join('×');
  const lines: string[] = [];
  const classesText = m.task === 'classification' ? `${count(m.classes.length)} classes` : 'regression';
  lines.push(`### 📦 Data set ${code(shortDigest(m.digest))} · ${count(total)} examples · ${classesText}`);
  lines.push('');
  const splitRow = (name: string, cells: readonly number[]): string[] => [
    name,
    ...cells.map(count),
    count(cells.reduce((a, b) => a + b, 0)),
  ];
  const header = ['class', 'train', 'validation', 'test', 'total'];
  const align = ['left', 'right', 'right', 'right', 'right'] as const;
  const totals = splitRow('**all**', [train.count, validation.count, test.count]);
  if (m.task === 'classification') {
    const rows = m.classes.map((c, i) =>
      splitRow(escapeMarkdown(c), [train.classCounts[i] ?? 0, validation.classCounts[i] ?? 0, test.classCounts[i] ?? 0]),
    );
    const max = opts.maxClasses ?? 20;
    if (rows.length <= max) {
      lines.push(table(header, [...rows, totals], align));
    } else {
      lines.push(table(header, [...rows.slice(0, max), totals], align));
      lines.push('');
      lines.push(details(`${count(rows.length - max)} more classes`, table(header, rows.slice(max), align)));
    }
  } else {
    lines.push(
      table(['', 'train', 'validation', 'test', 'total'], [splitRow('examples', [train.count, validation.count, test.count])], align),
    );
  }
  lines.push('');
  const ratio = m.split.ratios.join('/');
  const carved = m.split.carved ?? ['validation'];
  const givenSplits = (['train', 'validation', 'test'] as const).filter((s) => !carved.includes(s));
  const carvedText = carved.map((s) => `${s} ${m.split.ratios[s === 'validation' ? 1 : 2]}%`).join(' and ');
  const splitText = m.split.given
    ? `${givenSplits.join('/')} given by the source${carved.length ? `; ${carvedText} of train by content hash` : ''}`
    : `${ratio} train/validation/test by content hash`;
  const facts = [
    `Split: ${splitText} (seed ${m.split.seed})`,
    `format ${code(m.format)}`,
    `input ${code(shape)}${m.features ? ` (${count(m.features.length)} features)` : ''}`,
    `source ${code(m.source.uri)}`,
  ];
  if (opts.origin) facts.push(ORIGIN_TEXT[opts.origin]);
  else if (opts.cacheHit !== undefined) facts.push(opts.cacheHit ? 'reused' : 'prepared now');
  lines.push(facts.join(' · '));
  lines.push('');
  lines.push(`Digest ${code(m.digest)}`);
  return `${lines.join('\n')}\n`;
}
