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
 * Chart series colours, in order: blue, orange, green, purple. Mermaid's default theme (GitHub's
 * light mode) draws the first xychart series in a pale lavender, about 1.2:1 against white; each of
 * these is at least 3:1 against GitHub's light (#ffffff) and dark (#0d1117) backgrounds
 * (WCAG 2 contrast: 4.6/4.1, 3.7/5.2, 5.1/3.7, 5.1/3.8; test/report/charts.test.ts computes them).
 */
export const CHART_PALETTE = ['#1f6feb', '#cf6a1a', '#1a7f37', '#8250df'] as const;
/** How the legend under a chart names each colour. */
export const CHART_COLOUR_NAMES = ['blue', 'orange', 'green', 'purple'] as const;
/** Titles, axes and ticks: grey, 4.6:1 on white and 4.2:1 on dark. */
export const CHART_TEXT = '#6e7781';

export interface ChartSeries {
  readonly name: string;
  readonly values: readonly number[];
}

/**
 * A Mermaid `xychart-beta` line chart (GitHub renders it natively) with the palette above in an
 * `%%{init: …}%%` directive, and a line under it naming each series by its colour (xychart draws
 * no legend). The y range is the series' range padded by 5%, or from 0 (`yFrom: 'zero'`) to 10%
 * above the highest value; `yMin`/`yMax` fix either end. Non-finite points are left out of the range
 * and drawn as 0. At most four series (the palette's colours).
 */
export function lineChart(opts: {
  readonly title: string;
  readonly xLabels: readonly (string | number)[];
  readonly series: readonly ChartSeries[];
  readonly yTitle?: string;
  readonly yFrom?: 'data' | 'zero';
  readonly yMin?: number;
  readonly yMax?: number;
}): string {
  if (opts.series.length > CHART_PALETTE.length)
    throw new Error(`lineChart: at most ${CHART_PALETTE.length} series, got ${opts.series.length}`);
  const all = opts.series.flatMap((s) => s.values).filter(Number.isFinite);
  let lo: number;
  let hi: number;
  if (opts.yFrom === 'zero') {
    lo = opts.yMin ?? Math.min(0, ...all);
    const top = all.length ? Math.max(...all) : 1;
    hi = opts.yMax ?? (top > lo ? top * 1.1 : lo + 1);
  } else {
    const dLo = opts.yMin ?? (all.length ? Math.min(...all) : 0);
    const dHi = opts.yMax ?? (all.length ? Math.max(...all) : 1);
    const pad = dHi > dLo ? (dHi - dLo) * 0.05 : 0.05;
    lo = opts.yMin ?? dLo - pad;
    hi = opts.yMax ?? dHi + pad;
  }
  const fmt = (v: number): string => (Number.isFinite(v) ? String(Number(v.toPrecision(4))) : '0');
  const quote = (s: string): string => `"${s.replace(/["\n\r]/g, ' ')}"`;
  const theme = {
    themeVariables: {
      xyChart: {
        plotColorPalette: CHART_PALETTE.slice(0, Math.max(1, opts.series.length)).join(', '),
        titleColor: CHART_TEXT,
        xAxisLabelColor: CHART_TEXT,
        xAxisTitleColor: CHART_TEXT,
        xAxisTickColor: CHART_TEXT,
        xAxisLineColor: CHART_TEXT,
        yAxisLabelColor: CHART_TEXT,
        yAxisTitleColor: CHART_TEXT,
        yAxisTickColor: CHART_TEXT,
        yAxisLineColor: CHART_TEXT,
      },
    },
  };
  const chart = [
    '```mermaid',
    `%%{init: ${JSON.stringify(theme)}}%%`,
    'xychart-beta',
    `  title ${quote(opts.title)}`,
    `  x-axis [${opts.xLabels.map((x) => (typeof x === 'number' ? String(x) : quote(x))).join(', ')}]`,
    `  y-axis ${opts.yTitle !== undefined ? `${quote(opts.yTitle)} ` : ''}${fmt(lo)} --> ${fmt(hi)}`,
    ...opts.series.map((s) => `  line [${s.values.map(fmt).join(', ')}]`),
    '```',
  ].join('\n');
  const legend = opts.series.map((s, i) => `${CHART_COLOUR_NAMES[i]}: ${s.name.replace(/[<>&|]/g, ' ')}`).join(' · ');
  return `${chart}\n\n<sub>${legend}</sub>`;
}
