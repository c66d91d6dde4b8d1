/**
 * The gate report as Markdown, by pure functions over report.json: the PR comment body and the
 * job summary are this text. Every piece of text that did not come from modelship itself (model,
 * class and metric names, branch names, labels, rule reasons) is escaped.
 */
import { code, count, details, escapeMarkdown, lineChart, table } from './markdown.ts';
import { shortDigest } from '../util/index.ts';
import type { GateReport, ReportRule } from './gate-report.ts';

/**
 * Escaped text for a table cell. `table()` escapes every `|` again, and a cell holding `\\|` ends
 * at that pipe on GitHub (the backslash escapes the backslash), so pipes become `&#124;` here.
 */
export function cell(text: string): string {
  return escapeMarkdown(text).replace(/\\\|/g, '&#124;');
}

/** Metrics in [0, 1] whose changes read best in percentage points. */
export function isRate(metric: string): boolean {
  return /^(accuracy|balanced_accuracy|ece|error_rate)$|^(precision|recall|f1|roc_auc)(_|$)/.test(metric);
}

const MINUS = '−';

function signed(n: number, digits: number): string {
  const s = Math.abs(n).toFixed(digits);
  if (Number(s) === 0) return `±${s}`;
  return `${n < 0 ? MINUS : '+'}${s}`;
}

/** A metric value for a table: 4 decimals, or a plain word for a missing value. */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 1000) return count(Number(v.toFixed(1)));
  return v.toFixed(4);
}

/** The change from baseline to candidate: `+0.66 pp` for rates, `−0.0152` otherwise. */
export function formatChange(metric: string, candidate: number | null | undefined, baseline: number | null | undefined): string {
  if (typeof candidate !== 'number' || typeof baseline !== 'number' || !Number.isFinite(candidate) || !Number.isFinite(baseline))
    return '—';
  const d = candidate - baseline;
  return isRate(metric) ? `${signed(d * 100, 2)} pp` : signed(d, 4);
}

/** A Markdown link to an http(s) URL; anything else is rendered as plain text. */
export function link(text: string, url: string | undefined): string {
  const label = escapeMarkdown(text);
  if (!url || !/^https?:\/\/[^\s]+$/i.test(url)) return label;
  const safe = url.replace(/[()<>\s"'`[\]]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return `[${label}](${safe})`;
}

function statusIcon(rules: readonly ReportRule[]): string {
  if (rules.length === 0) return '';
  if (rules.some((r) => r.verdict === 'fail')) return '❌';
  if (rules.some((r) => r.note === 'within-noise')) return '⚠️';
  if (rules.every((r) => r.verdict === 'skip')) return '➖';
  return '✅';
}

function baselineTitle(report: GateReport): string {
  const b = report.baseline;
  if (!b) return escapeMarkdown(report.baselineNote ?? 'first model: no baseline — gated on thresholds only');
  if (b.alias) return `vs ${code(b.alias)}${b.version !== undefined ? ` v${b.version}` : ''}`;
  return `vs ${code(b.label)}`;
}

function header(report: GateReport): string {
  const name = escapeMarkdown(report.name);
  const failed = report.rules.filter((r) => r.verdict === 'fail').length;
  const icon = report.passed ? '✅' : '❌';
  const verdict = report.passed
    ? report.baseline
      ? 'candidate passes the gate'
      : 'candidate passes the thresholds'
    : `candidate fails the gate (${failed} of ${report.rules.length} rule${report.rules.length === 1 ? '' : 's'})`;
  return `### ${icon} ${name} · ${verdict} (${baselineTitle(report)})`;
}

function metricTable(report: GateReport): string {
  const cand = report.candidate.metrics.scalars;
  const base = report.baseline?.metrics.scalars;
  const names = Object.keys(cand);
  for (const r of report.rules) if (!names.includes(r.metric)) names.push(r.metric);
  const rows = names.map((m) => {
    const rules = report.rules.filter((r) => r.metric === m);
    const row = [cell(m)];
    if (base) row.push(formatValue(base[m]));
    row.push(formatValue(cand[m]));
    if (base) row.push(formatChange(m, cand[m], base[m]));
    row.push(rules.map((r) => cell(r.text)).join(', '), statusIcon(rules));
    return row;
  });
  const head = base
    ? ['metric', cell(report.baseline!.label), 'this PR', 'change', 'rule', '']
    : ['metric', cell(report.candidate.label), 'rule', ''];
  const align = base ? (['left', 'right', 'right', 'right', 'left', 'left'] as const) : (['left', 'right', 'left', 'left'] as const);
  return table(head, rows, align);
}

function significanceText(report: GateReport): string {
  const s = report.significance;
  if (!report.baseline) return 'Significance: no baseline to compare with.';
  const lines: string[] = [];
  const baseLabel = escapeMarkdown(report.baseline.label);
  if (s.mcnemar) {
    const m = s.mcnemar;
    const p = formatP(m.pValue);
    const verdict = m.significant ? 'the accuracy change is unlikely to be noise' : `the accuracy change is within noise (p ≥ ${s.alpha})`;
    lines.push(
      `Significance: McNemar exact test on ${count(m.n)} paired test examples (${count(m.candidateOnly)} right only for this PR, ${count(m.baselineOnly)} only for ${baseLabel}), p = ${p} — ${verdict}.`,
    );
  }
  for (const b of s.bootstrap) {
    const rate = isRate(b.metric);
    const f = (v: number | null): string => (v === null ? '—' : rate ? `${signed(v * 100, 2)} pp` : signed(v, 4));
    lines.push(
      `${escapeMarkdown(b.metric)}: ${Math.round(b.confidence * 100)}% paired bootstrap interval of the change [${f(b.low)}, ${f(b.high)}] (${count(b.resamples)} resamples) — ${b.significant ? 'a real change' : 'within noise'}.`,
    );
  }
  if (lines.length === 0) lines.push('Significance: not tested (the two models were not scored on the same examples).');
  return lines.join('\n\n');
}

export function formatP(p: number): string {
  if (!Number.isFinite(p)) return '—';
  if (p < 0.001) return p.toExponential(1).replace('e-', 'e−');
  return String(Number(p.toPrecision(2)));
}

function ruleNotes(report: GateReport): string {
  const out: string[] = [];
  for (const r of report.rules) {
    if (r.verdict === 'fail') out.push(`- ❌ ${code(r.rule)}: ${escapeMarkdown(r.reason)}`);
    else if (r.note === 'within-noise') out.push(`- ⚠️ ${code(r.rule)}: ${escapeMarkdown(r.reason)}`);
  }
  return out.join('\n');
}

/** Per-class F1 (and its change when there is a baseline); drops of 1 pp or more are flagged. */
function perClassDetails(report: GateReport): string | undefined {
  const cand = report.candidate.metrics.perClass;
  if (!cand || cand.length === 0) return undefined;
  const base = report.baseline?.metrics.perClass;
  const classes = report.dataset.classes;
  const rows = cand.map((c, i) => {
    const name = cell(classes[i] ?? String(i));
    const b = base?.[i];
    if (!b) return [name, formatValue(c.precision), formatValue(c.recall), formatValue(c.f1), count(c.support)];
    const drop = typeof c.f1 === 'number' && typeof b.f1 === 'number' && b.f1 - c.f1 >= 0.01;
    return [name, formatValue(b.f1), formatValue(c.f1), `${formatChange('f1', c.f1, b.f1)}${drop ? ' ⚠️' : ''}`, count(c.support)];
  });
  const head = base ? ['class', 'baseline F1', 'this PR F1', 'change', 'support'] : ['class', 'precision', 'recall', 'F1', 'support'];
  return details(base ? 'Per class (F1 change)' : 'Per class', table(head, rows, ['left', 'right', 'right', 'right', 'right']));
}

function confusionDetails(report: GateReport): string | undefined {
  const m = report.candidate.metrics.confusion;
  if (!m || m.length === 0) return undefined;
  const classes = report.dataset.classes.map((c) => cell(c));
  const head = ['true ╲ predicted', ...m.map((_, j) => classes[j] ?? String(j))];
  const rows = m.map((row, i) => [`**${classes[i] ?? String(i)}**`, ...row.map((v) => count(v))]);
  return details('Confusion matrix (this PR, test split)', table(head, rows, ['left', ...m.map(() => 'right' as const)]));
}

function curveDetails(report: GateReport): string | undefined {
  const h = report.history;
  if (!h || h.length === 0) return undefined;
  const val = h.map((e) => e.valAcc);
  const useVal = val.some((v) => typeof v === 'number');
  const values = h.map((e) => (useVal ? e.valAcc : e.acc));
  if (!values.some((v) => typeof v === 'number')) return undefined;
  const chart = lineChart({
    title: useVal ? 'validation accuracy per epoch' : 'training accuracy per epoch',
    xLabels: h.map((e) => e.epoch),
    series: [{ name: useVal ? 'validation accuracy' : 'training accuracy', values: values.map((v) => (typeof v === 'number' ? v : NaN)) }],
  });
  return details('Training curve', chart);
}

function footer(report: GateReport): string {
  const d = report.dataset;
  const parts: string[] = [];
  const split = d.counts
    ? `, split ${count(d.counts.train)}/${count(d.counts.validation)}/${count(d.counts.test)}`
    : d.ratios && d.ratios.length === 3
      ? `, split ${d.ratios.join('/')}`
      : '';
  parts.push(`Data ${code(shortDigest(d.digest))} (${count(d.total)} examples${split}; scored on the test split, ${count(d.count)})`);
  const params = report.candidate.params;
  if (params && Object.keys(params).length > 0) {
    parts.push(
      `params ${code(
        Object.entries(params)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(' '),
      )}`,
    );
  }
  if (report.candidate.backend) parts.push(`backend ${code(report.candidate.backend)}`);
  const run = report.run;
  if (run?.url) parts.push(link(run.number ? `run #${run.number}` : 'run', run.url));
  const commit = report.candidate.commit ?? run?.sha;
  if (commit) parts.push(`commit ${code(commit.slice(0, 7))}`);
  if (report.baseline?.digest) parts.push(`baseline ${code(shortDigest(report.baseline.digest))}`);
  return parts.join(' · ');
}

export interface RenderOptions {
  /** Longest text to return (a PR comment takes at most 65,536 characters). */
  readonly maxLength?: number;
}

/** The report as Markdown (without the comment marker). */
export function renderGateMarkdown(report: GateReport, opts: RenderOptions = {}): string {
  const max = opts.maxLength ?? 60000;
  const head = [header(report), '', metricTable(report), ''];
  const notes = ruleNotes(report);
  if (notes) head.push(notes, '');
  head.push(significanceText(report), '');
  const extras = [perClassDetails(report), confusionDetails(report), curveDetails(report)].filter((x): x is string => x !== undefined);
  const foot = footer(report);
  const assemble = (blocks: readonly string[], note?: string): string =>
    [...head, ...blocks.flatMap((b) => [b, '']), ...(note ? [note, ''] : []), foot, ''].join('\n');
  let text = assemble(extras);
  // Too long for a comment (e.g. hundreds of classes): drop the largest details first.
  const kept = [...extras];
  while (text.length > max && kept.length > 0) {
    let largest = 0;
    kept.forEach((b, i) => {
      if (b.length > kept[largest].length) largest = i;
    });
    kept.splice(largest, 1);
    text = assemble(kept, '_Some details were left out to fit a comment; they are in report.json._');
  }
  return text.length > max ? `${text.slice(0, max - 40)}\n\n_(truncated)_\n` : text;
}
