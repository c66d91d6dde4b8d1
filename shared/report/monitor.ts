/**
 * monitor-check's job summary (Markdown) and terminal summary (plain text), both rendered from its
 * report by the same functions, so they say the same things. Pure functions, tested on their text.
 * Charts are markdown.ts's lineChart: the palette that reads in light and dark mode, and a line
 * under each chart naming its series.
 */
import type { DispatchOutcome, HistoryPoint, MonitorReport, Observation, RuleVerdict } from '../monitor/index.ts';
import { code, count, escapeMarkdown, lineChart, table } from './markdown.ts';

/** How untrusted text (model names, reasons, URLs) is written: escaped for Markdown, or as is for a terminal. */
interface Style {
  readonly esc: (text: string) => string;
  readonly code: (text: string) => string;
}
const MARKDOWN: Style = { esc: escapeMarkdown, code };
/** Terminal text: control characters (escape sequences included) become spaces. */
// eslint-disable-next-line no-control-regex
const plain = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
const TEXT: Style = { esc: plain, code: plain };

function num(v: number, digits = 4): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  if (Math.abs(v) < 1e-12) return '0';
  if (Math.abs(v) < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(digits)));
}

/** A value with its metric's unit. */
export function formatMetric(metric: string, v: number): string {
  if (!Number.isFinite(v)) return num(v);
  if (metric.endsWith('_ms')) return `${num(v)} ms`;
  if (metric === 'error_rate' || metric === 'availability') return `${num(v * 100)} %`;
  if (metric === 'requests_per_second') return `${num(v)}/s`;
  return num(v);
}

function observed(metric: string, o: Observation | undefined): string {
  if (!o) return '—';
  if (o.kind === 'value') return formatMetric(metric, o.value);
  if (o.kind === 'no-data') return 'no data';
  return 'error';
}

/** The limit in the value's unit: `≤ 100 ms`, `≤ 1 %`, `≤ 0.2`. */
function limitText(v: RuleVerdict, st: Style): string {
  return `${st.esc(v.limit.split(' ')[0])} ${formatMetric(v.metric, v.threshold)}`;
}

function verdictCell(v: RuleVerdict | undefined): string {
  if (!v) return '';
  switch (v.status) {
    case 'pass':
      return '✅ pass';
    case 'breach':
      return '❌ breach';
    case 'error':
      return '🛑 error';
    case 'no-data':
      return v.outcome === 'fail' ? '❌ no data' : v.outcome === 'warn' ? '⚠️ no data' : '➖ no data (passes)';
  }
}

function rows(names: readonly string[], report: MonitorReport, st: Style): string[][] {
  const out: string[][] = [];
  const verdicts = report.judgement.verdicts;
  for (const name of names) {
    const ruled = verdicts.filter((v) => v.metric === name);
    const o = report.measurement.observations[name];
    if (ruled.length === 0) out.push([st.code(name), observed(name, o), '—', '']);
    for (const v of ruled) out.push([st.code(name), observed(name, o), limitText(v, st), verdictCell(v)]);
  }
  return out;
}

function headline(r: MonitorReport, st: Style): string {
  const t = r.target;
  const who = `${st.esc(t.model)} ${t.version !== undefined ? `v${st.esc(t.version)}` : '(all versions)'}`;
  const j = r.judgement;
  const n = (k: number, what: string): string => `${k} ${what}${k === 1 ? '' : 's'}`;
  switch (j.status) {
    case 'healthy':
      return `✅ ${who} · healthy over the last ${r.window}`;
    case 'breach':
      return `❌ ${who} · ${n(j.breaches.length, 'rule')} breached over the last ${r.window}`;
    case 'no-data': {
      const k = j.verdicts.filter((v) => v.status === 'no-data').length;
      return `${j.failed ? '❌' : '⚠️'} ${who} · no data for ${n(k, 'rule')} over the last ${r.window}`;
    }
    case 'error':
      return `🛑 ${who} · could not be measured`;
  }
}

function relLabel(seconds: number): string {
  if (seconds === 0) return 'now';
  const s = Math.round(seconds);
  if (s % 3600 === 0) return `-${s / 3600}h`;
  if (s % 60 === 0 || s >= 120) return `-${Math.round(s / 60)}m`;
  return `-${s}s`;
}

/** Carries the last finite value over gaps; undefined when there is no finite value at all. */
function filled(points: readonly HistoryPoint[], scale: number): { values: number[]; gaps: number } | undefined {
  let last: number | undefined;
  let gaps = 0;
  const first = points.find((p) => Number.isFinite(p.value));
  if (!first) return undefined;
  const values = points.map((p) => {
    if (Number.isFinite(p.value)) last = p.value * scale;
    else gaps++;
    return last ?? first.value * scale;
  });
  return { values, gaps };
}

interface Chart {
  readonly title: string;
  readonly y: string;
  readonly labels: readonly string[];
  readonly series: readonly { name: string; values: readonly number[] }[];
  readonly gaps: number;
  readonly points: number;
}

/** p95 latency and error rate over the window (the range query's points), with their limits. */
function historyCharts(r: MonitorReport): Chart[] {
  const out: Chart[] = [];
  const specs = [
    { name: 'p95_latency_ms', title: `p95 latency over the last ${r.window}`, y: 'ms', scale: 1, label: 'p95 latency (ms)' },
    { name: 'error_rate', title: `error rate over the last ${r.window}`, y: '%', scale: 100, label: 'error rate (%)' },
  ];
  for (const s of specs) {
    const points = r.history[s.name];
    if (!points || points.length < 2) continue;
    const f = filled(points, s.scale);
    if (!f) continue;
    const end = points[points.length - 1].time;
    const step = Math.max(1, Math.ceil(points.length / 8));
    const labels = points.map((p, i) => (i % step === 0 || i === points.length - 1 ? relLabel(end - p.time) : ' '));
    const series = [{ name: s.label, values: f.values }];
    const rule = r.judgement.verdicts.find((v) => v.metric === s.name);
    if (rule) {
      const limit = rule.threshold * s.scale;
      series.push({ name: `limit ${rule.limit.split(' ')[0]} ${num(limit)} ${s.y}`, values: points.map(() => limit) });
    }
    out.push({ title: s.title, y: s.y, labels, series, gaps: f.gaps, points: points.length });
  }
  return out;
}

function chartMarkdown(c: Chart): string {
  return (
    lineChart({ title: c.title, yTitle: c.y, yFrom: 'zero', xLabels: c.labels, series: c.series }) +
    (c.gaps ? `\n<sub>${c.gaps} of ${c.points} points had no value and repeat the one before.</sub>` : '')
  );
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** A chart for a terminal: a sparkline of the series over the window (its own min to max), the range and the limit. */
function chartText(c: Chart): string {
  const [main, limit] = c.series;
  const lo = Math.min(...main.values);
  const hi = Math.max(...main.values);
  // A range below what the figures show is flat (4.375 and 4.3750000001 are one value to a reader).
  const varies = num(lo) !== num(hi);
  const spark = main.values
    .map((v) => SPARKS[varies ? Math.min(SPARKS.length - 1, Math.floor(((v - lo) / (hi - lo)) * SPARKS.length)) : 0])
    .join('');
  return `${c.title} (${c.y}): ${spark}  min ${num(lo)} · max ${num(hi)}${limit ? ` · ${limit.name}` : ''}${c.gaps ? ` (${c.gaps} of ${c.points} points had no value)` : ''}`;
}

function dispatchLine(d: DispatchOutcome, st: Style, bold: (s: string) => string): string | undefined {
  const head = bold('Retraining:');
  switch (d.state) {
    case 'not-needed':
      return undefined;
    case 'off':
      return `${head} not dispatched (${st.esc(d.reason)}).`;
    case 'dispatched':
      // `reason` repeats in a sentence what the tables above show: the inputs are listed without it.
      return `${head} dispatched ${st.code(d.workflow)} on ${st.code(d.ref)} with ${Object.entries(d.inputs)
        .filter(([k]) => k !== 'reason')
        .map(([k, v]) => `${st.esc(k)} ${st.code(v)}`)
        .join(', ')}.`;
    case 'skipped':
      return `${head} not dispatched: ${st.esc(d.reason)}.`;
    case 'failed':
      return `${head} 🛑 the dispatch of ${st.code(d.workflow)} failed: ${st.esc(d.error)}${d.hint ? ` ${st.esc(d.hint)}` : ''}`;
  }
}

/** What both renderings say, in order. */
interface Parts {
  readonly headline: string;
  readonly window: string;
  readonly errors: readonly { reason: string; hint?: string }[];
  readonly slo: readonly string[][];
  readonly driftTitle?: string;
  readonly drift?: readonly string[][];
  readonly driftNotes: readonly string[];
  readonly charts: readonly Chart[];
  readonly historyNote?: string;
  readonly dispatch?: string;
}

function parts(r: MonitorReport, st: Style, bold: (s: string) => string): Parts {
  const m = r.measurement;
  const src = m.source.kind === 'prometheus' ? `Prometheus ${st.code(m.source.where)}` : `scrapes of ${st.code(m.source.where)}`;
  const window = `Window ${r.window} (${m.start.replace(/\.\d{3}Z$/, 'Z')} → ${m.end.replace(/\.\d{3}Z$/, 'Z')}) · ${src} · ${m.stats.requests} ${m.source.kind === 'prometheus' ? 'queries' : 'scrapes'}, ${count(m.stats.series)} series read in ${m.stats.seconds.toFixed(2)} s`;
  const seen = new Set<string>();
  const errors = r.judgement.verdicts
    .filter((v) => v.status === 'error')
    .filter((e) => !seen.has(e.reason) && seen.add(e.reason))
    .map((e) => ({ reason: st.esc(e.reason), ...(e.hint ? { hint: st.esc(e.hint) } : {}) }));
  const sloNames = Object.keys(m.observations).filter((n) => !n.startsWith('prediction_') && !n.startsWith('input_'));
  const driftNames = Object.keys(m.observations).filter((n) => n.startsWith('prediction_') || n.startsWith('input_'));
  const driftNotes: string[] = [];
  let driftTitle: string | undefined;
  if (driftNames.length) {
    const ref = r.reference
      ? ` against ${st.code(r.reference.source)}${r.reference.digest ? ` (${st.code(r.reference.digest.slice(0, 19))}…)` : ''}`
      : '';
    driftTitle = `Drift${ref}`;
    const p = m.drift?.prediction;
    if (p)
      driftNotes.push(
        `${count(Math.round(p.count))} predictions in ${p.classes.length} classes` +
          (p.chi2.ok
            ? ` · χ² = ${num(p.chi2.statistic)}, df ${p.chi2.df}, p = ${num(p.chi2.pValue, 3)}`
            : ` · χ²: ${st.esc(p.chi2.reason)}`),
      );
    const i = m.drift?.input;
    if (i)
      driftNotes.push(`${count(Math.round(i.values))} input values (${count(Math.round(i.count))} examples) in ${i.served.length} bins`);
    const reasons = new Set(r.judgement.verdicts.filter((v) => v.status === 'no-data').map((v) => v.reason.replace(/^no data: /, '')));
    for (const reason of reasons) driftNotes.push(`no data: ${st.esc(reason)}`);
  }
  const dispatch = dispatchLine(r.dispatch, st, bold);
  return {
    headline: headline(r, st),
    window,
    errors,
    slo: rows(sloNames, r, st),
    ...(driftTitle ? { driftTitle, drift: rows(driftNames, r, st) } : {}),
    driftNotes,
    charts: historyCharts(r),
    ...(r.historyNote && m.source.kind === 'prometheus' && !errors.length ? { historyNote: st.esc(r.historyNote) } : {}),
    ...(dispatch ? { dispatch } : {}),
  };
}

/** The job summary of one check. */
export function monitorSummary(r: MonitorReport): string {
  const p = parts(r, MARKDOWN, (s) => `**${s}**`);
  const out: string[] = [`### ${p.headline}`, p.window];
  if (p.errors.length) out.push(p.errors.map((e) => `> 🛑 ${e.reason}${e.hint ? `<br>${e.hint}` : ''}`).join('\n>\n'));
  out.push(table(['SLO', 'value', 'limit', 'verdict'], p.slo, ['left', 'right', 'left', 'left']));
  if (p.driftTitle && p.drift) {
    out.push(`#### ${p.driftTitle}`);
    out.push(table(['score', 'value', 'limit', 'verdict'], p.drift, ['left', 'right', 'left', 'left']));
    if (p.driftNotes.length) out.push(p.driftNotes.join(' · '));
  }
  out.push(...p.charts.map(chartMarkdown));
  if (p.historyNote) out.push(`<sub>${p.historyNote}</sub>`);
  if (p.dispatch) out.push(p.dispatch);
  return `${out.join('\n\n')}\n`;
}

/** Columns padded to their widest cell (values right-aligned). */
function textTable(header: readonly string[], body: readonly (readonly string[])[], right: readonly number[]): string {
  const width = (s: string): number => [...s].length;
  const widths = header.map((h, i) => Math.max(width(h), ...body.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(widths[i] - width(c));
        return right.includes(i) ? pad + c : c + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...body.map(line)].join('\n');
}

/** The same summary for a terminal (`modelship monitor` logs it): plain text, a sparkline per chart. */
export function monitorText(r: MonitorReport): string {
  const p = parts(r, TEXT, (s) => s);
  const out: string[] = [p.headline, p.window];
  for (const e of p.errors) out.push(`🛑 ${e.reason}${e.hint ? `\n   ${e.hint}` : ''}`);
  out.push(textTable(['SLO', 'value', 'limit', 'verdict'], p.slo, [1]));
  if (p.driftTitle && p.drift) {
    out.push(`${p.driftTitle}\n${textTable(['score', 'value', 'limit', 'verdict'], p.drift, [1])}`);
    if (p.driftNotes.length) out.push(p.driftNotes.join(' · '));
  }
  if (p.charts.length) out.push(p.charts.map(chartText).join('\n'));
  if (p.historyNote) out.push(p.historyNote);
  if (p.dispatch) out.push(p.dispatch);
  return `${out.join('\n\n')}\n`;
}
