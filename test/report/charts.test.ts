/**
 * Charts people can read: every Mermaid block the steps write (training summary and model card,
 * the gate's PR comment, monitor-check's summary) and every one in the docs parses with Mermaid's
 * own parser, carries the palette, and names its lines under it; the palette's colours reach 3:1
 * against GitHub's light and dark backgrounds; and no code writes Mermaid except lineChart.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { MonitorReport } from '../../shared/monitor/index.ts';
import { judge, parseSloRules } from '../../shared/monitor/index.ts';
import { renderGateMarkdown } from '../../shared/report/gate-markdown.ts';
import { CHART_PALETTE, CHART_TEXT } from '../../shared/report/markdown.ts';
import { monitorSummary } from '../../shared/report/monitor.ts';
import { modelCard, trainingSummary } from '../../shared/report/training.ts';
import type { ModelMetadata } from '../../shared/model/index.ts';
import { chartProblems, mermaidBlocks, mermaidParser, type MermaidBlock, type MermaidParse } from '../helpers/mermaid.ts';
import { sampleReport } from './sample.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** WCAG 2 relative luminance and contrast ratio. */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5]
    .map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}
const LIGHT = '#ffffff';
const DARK = '#0d1117';

const history = [
  { epoch: 1, loss: 0.512, acc: 0.815, valLoss: 0.391, valAcc: 0.861, samplesPerSecond: 1712, seconds: 31.5 },
  { epoch: 2, loss: 0.341, acc: 0.877, valLoss: 0.322, valAcc: 0.884, samplesPerSecond: 1730, seconds: 31.2 },
  { epoch: 3, loss: 0.3, acc: 0.89, valLoss: 0.31, valAcc: 0.889, samplesPerSecond: 1730, seconds: 31.2 },
];
const metadata = {
  schemaVersion: 1,
  kind: 'modelship.model',
  name: 'fashion',
  task: 'classification',
  inputShape: [28, 28, 1],
  classes: ['T-shirt/top', 'Trouser'],
  preprocessing: { scale: 1 / 255, offset: 0 },
  dataset: { digest: `sha256:${'3'.repeat(64)}`, splits: { train: `sha256:${'1'.repeat(64)}`, validation: `sha256:${'2'.repeat(64)}` } },
  params: { architecture: 'cnn', epochs: 3, batchSize: 64, learningRate: 0.001, seed: 42, earlyStoppingPatience: 3 },
  backend: 'wasm',
  versions: { 'tfjs-core': '4.22.0' },
  git: {},
  metrics: { valAccuracy: 0.889, valLoss: 0.31, finalLoss: 0.3, bestEpoch: 3, epochsRun: 3 },
  training: { startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:34.000Z', durationSeconds: 94, samplesPerSecond: 1724 },
} as unknown as ModelMetadata;
const facts = { backendReason: 'tfjs-node not installed', trainCount: 4800, valCount: 600, stoppedEarly: false, resumed: 0 };

function monitorReport(): MonitorReport {
  const observations = {
    p95_latency_ms: { kind: 'value', value: 143, series: 1, warnings: [] },
    error_rate: { kind: 'value', value: 0.002, series: 1, warnings: [] },
  } as const;
  const judgement = judge(parseSloRules(['p95_latency_ms <= 100', 'error_rate <= 0.01']), observations, 'fail');
  const points = (values: number[]) => values.map((value, i) => ({ time: 1000 + i * 60, value }));
  return {
    schemaVersion: 1,
    kind: 'modelship.monitor-report',
    target: { model: 'fashion', version: '3' },
    window: '1h',
    rules: { slo: ['p95_latency_ms <= 100', 'error_rate <= 0.01'], drift: [] },
    history: { p95_latency_ms: points([40, 60, 143, 120, 143]), error_rate: points([0, 0.001, NaN, 0.002, 0.002]) },
    dispatch: { state: 'not-needed' },
    onBreach: 'fail',
    noData: 'fail',
    measurement: {
      target: { model: 'fashion', version: '3' },
      windowSeconds: 3600,
      start: '2026-03-01T11:00:00.000Z',
      end: '2026-03-01T12:00:00.000Z',
      source: { kind: 'prometheus', where: 'http://p:9090' },
      observations,
      stats: { requests: 8, series: 8, seconds: 0.05 },
    },
    judgement,
  };
}

/** Every Markdown file of the docs: the README and each action's README. */
function docs(): { where: string; text: string }[] {
  const files = ['README.md', ...readdirSync(path.join(root, 'actions')).map((a) => path.join('actions', a, 'README.md'))];
  return files.flatMap((f) => {
    try {
      return [{ where: f, text: readFileSync(path.join(root, f), 'utf8') }];
    } catch {
      return [];
    }
  });
}

const written: MermaidBlock[] = [
  ...mermaidBlocks(trainingSummary(metadata, history, { ...facts, modelDir: '.modelship/model' }), 'train: job summary'),
  ...mermaidBlocks(modelCard(metadata, history, facts), 'train: model-card.md'),
  ...mermaidBlocks(renderGateMarkdown(sampleReport()), 'evaluate-gate: PR comment'),
  ...mermaidBlocks(monitorSummary(monitorReport()), 'monitor-check: job summary'),
];

describe('charts', () => {
  it('the steps write charts, every one of them with the palette and a legend naming its lines', () => {
    assert.ok(written.length >= 6, `found ${written.length} charts`);
    assert.ok(
      written.some((b) => b.text.split('\n').filter((l) => /^\s*line \[/.test(l)).length === 2),
      'a chart with two lines',
    );
    assert.deepEqual(written.flatMap(chartProblems), []);
  });

  it('the rule check finds what it is for: no palette, a missing legend, a short line', () => {
    const bad = mermaidBlocks('```mermaid\nxychart-beta\n  x-axis [1, 2, 3]\n  line [1, 2]\n  line [1, 2, 3]\n```\n', 'bad');
    const problems = chartProblems(bad[0]);
    assert.equal(problems.length, 3, problems.join('; '));
    assert.match(problems[0], /without an %%\{init: …\}%% palette/);
    assert.match(problems[1], /a line of 2 points on an x-axis of 3 labels/);
    assert.match(problems[2], /the legend under the chart names \[\], not one colour per line \[blue, orange\]/);
  });

  it('each palette colour and the axis grey reach 3:1 against GitHub light and dark', () => {
    for (const c of [...CHART_PALETTE, CHART_TEXT]) {
      assert.ok(contrast(c, LIGHT) >= 3, `${c} on ${LIGHT}: ${contrast(c, LIGHT).toFixed(2)}:1`);
      assert.ok(contrast(c, DARK) >= 3, `${c} on ${DARK}: ${contrast(c, DARK).toFixed(2)}:1`);
    }
    // Mermaid's default first series, for comparison: what the palette replaces.
    assert.ok(contrast('#ececff', LIGHT) < 1.5);
  });

  it('no code outside report/markdown.ts writes a Mermaid block (every chart goes through lineChart)', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
        const rel = path.join(dir, e.name);
        if (e.isDirectory()) walk(rel);
        else if (
          rel.endsWith('.ts') &&
          rel !== path.join('shared', 'report', 'markdown.ts') &&
          /['"`]```mermaid|['"]xychart-beta/.test(readFileSync(path.join(root, rel), 'utf8'))
        )
          offenders.push(rel);
      }
    };
    walk('shared');
    assert.deepEqual(offenders, []);
  });

  describe("Mermaid's own parser", () => {
    // Loaded by the first test that needs it: without the packages each test fails saying which ones.
    let loaded: Promise<(text: string) => Promise<MermaidParse>> | undefined;
    const parse = async (text: string): Promise<MermaidParse> => (await (loaded ??= mermaidParser()))(text);
    it('refuses a broken chart (the check can fail)', async () => {
      await assert.rejects(
        parse('xychart-beta\n  x-axis [1, 2\n  line [1, 2]'),
        (err: Error) => !err.message.includes('needs the dev packages'),
      );
    });
    it('parses every chart the steps write, and reads the palette from its init directive', async () => {
      for (const b of written) {
        const r = await parse(b.text);
        assert.equal(r.diagramType, 'xychart', b.where);
        const xy = (r.config['themeVariables'] as { xyChart?: { plotColorPalette?: string } } | undefined)?.xyChart;
        assert.match(xy?.plotColorPalette ?? '', new RegExp(`^${CHART_PALETTE[0]}`), b.where);
      }
    });
    it('parses every Mermaid block of the docs (the README, the actions’ READMEs)', async () => {
      const blocks = docs().flatMap((d) => mermaidBlocks(d.text, d.where));
      assert.ok(blocks.length >= 1, 'the README draws the loop');
      for (const b of blocks) await assert.doesNotReject(parse(b.text), b.where);
      assert.deepEqual(blocks.flatMap(chartProblems), []);
    });
  });
});
