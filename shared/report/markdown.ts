/**
 * Pure Markdown building blocks for job summaries and PR comments. Every piece of untrusted text
 * (class names, metric names, file names, branch names) goes through `escapeMarkdown` or `code`.
 */

/** Escapes text so GitHub renders it literally: no markup, no HTML, no mentions, no table breaks. */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*_{}[\]()#+!|<>~&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : `\\${c}`))
    .replace(/@/g, '@\u200b')
    .replace(/^-/, '\\-')
    .replace(/^(\d+)\./, '$1\\.');
}

/** Inline code that cannot be broken out of (backticks inside are replaced). */
export function code(text: string): string {
  const clean = text
    .replace(/[\r\n]+/g, ' ')
    .replace(/`/g, 'ˋ')
    .replace(/\|/g, '¦');
  return `\`${clean}\``;
}

export type Align = 'left' | 'right' | 'center';

/** A GitHub table. Cells are taken as already-rendered Markdown; escape untrusted text first. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const sep = header.map((_, i) => (align[i] === 'right' ? '---:' : align[i] === 'center' ? ':---:' : '---'));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c) => c.replace(/(?<!\\)\|/g, '\\|').replace(/\n/g, ' ')).join(' | ')} |`;
  return [line(header), line(sep), ...rows.map(line)].join('\n');
}

export function details(summary: string, body: string, open = false): string {
  return `<details${open ? ' open' : ''}><summary>${summary}</summary>\n\n${body}\n\n</details>`;
}

/** A number with thousands separators (en-US), for counts. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * A Mermaid `xychart-beta` line chart (GitHub renders it natively). Series values must be finite;
 * non-finite points are dropped from the y-range computation and drawn as 0.
 */
export function lineChart(opts: {
  title: string;
  xLabels: readonly (string | number)[];
  series: readonly { name: string; values: readonly number[] }[];
  yMin?: number;
  yMax?: number;
}): string {
  const all = opts.series.flatMap((s) => s.values).filter(Number.isFinite);
  const lo = opts.yMin ?? (all.length ? Math.min(...all) : 0);
  const hi = opts.yMax ?? (all.length ? Math.max(...all) : 1);
  const pad = hi > lo ? (hi - lo) * 0.05 : 0.05;
  const fmt = (v: number): string => (Number.isFinite(v) ? String(Number(v.toPrecision(4))) : '0');
  const quote = (s: string): string => `"${s.replace(/["\n\r]/g, ' ')}"`;
  return [
    '```mermaid',
    'xychart-beta',
    `  title ${quote(opts.title)}`,
    `  x-axis [${opts.xLabels.map((x) => (typeof x === 'number' ? String(x) : quote(x))).join(', ')}]`,
    `  y-axis ${fmt(lo - pad)} --> ${fmt(hi + pad)}`,
    ...opts.series.map((s) => `  line [${s.values.map(fmt).join(', ')}]`),
    '```',
  ].join('\n');
}
