import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatChange, formatValue, link, renderGateMarkdown } from '../../shared/report/gate-markdown.ts';
import { parseGateReport } from '../../shared/report/gate-report.ts';
import { sampleReport } from './sample.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

/** Every table line of a Markdown text has the same number of unescaped cell separators as its header. */
function assertTablesIntact(md: string): void {
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^\| .* \|$/.test(lines[i])) continue;
    const sep = (l: string): number => l.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|').length;
    let j = i;
    while (j < lines.length && lines[j].startsWith('| ')) {
      assert.equal(sep(lines[j]), sep(lines[i]), `table row ${j} breaks the table:\n${lines[j]}`);
      j++;
    }
    i = j;
  }
}

describe('renderGateMarkdown', () => {
  it('renders the sketch of UX.md: header, metric table, significance, details, chart, footer', () => {
    const md = renderGateMarkdown(sampleReport());
    const lines = md.split('\n');
    assert.equal(lines[0], '### ✅ fashion · candidate passes the gate (vs `production` v12)');
    assert.ok(md.includes('| metric | production v12 | this PR | change | rule |  |'));
    assert.ok(md.includes('| --- | ---: | ---: | ---: | --- | --- |'));
    assert.ok(md.includes('| accuracy | 0.9121 | 0.9187 | +0.66 pp | ≥ 0.9, max drop 1 pp | ✅ |'), md);
    assert.ok(md.includes('| f1\\_macro | 0.9105 | 0.9176 | +0.71 pp | ≥ 0.88 | ✅ |'));
    assert.ok(md.includes('| log\\_loss | 0.2543 | 0.2391 | −0.0152 | ≤ 0.35 | ✅ |'));
    assert.ok(md.includes('| roc\\_auc | 0.9900 | 0.9931 | +0.31 pp |  |  |'));
    assert.match(
      md,
      /Significance: McNemar exact test on 10,000 paired test examples \(180 right only for this PR, 114 only for production v12\), p = 0\.0014 — the accuracy change is unlikely to be noise\./,
    );
    assert.match(md, /<details><summary>Per class \(F1 change\)<\/summary>/);
    assert.match(md, /\| Shirt \| 0\.9000 \| 0\.8880 \| −1\.20 pp ⚠️ \| 1,000 \|/);
    assert.match(md, /<details><summary>Confusion matrix \(this PR, test split\)<\/summary>/);
    assert.match(md, /\| \*\*T-shirt\/top\*\* \| 900 \| 100 \| 0 \|/);
    assert.match(
      md,
      /```mermaid\n%%\{init: \{"themeVariables":\{"xyChart":\{"plotColorPalette":"#1f6feb",.*\}%%\nxychart-beta\n {2}title "validation accuracy per epoch"\n {2}x-axis \[1, 2, 3, 4, 5\]/,
    );
    assert.match(md, /```\n\n<sub>blue: validation accuracy<\/sub>/);
    assert.match(md, / {2}line \[0\.86, 0\.89, 0\.905, 0\.914, 0\.919\]/);
    assert.match(
      md,
      /Data `sha256:3f9a00000000…` \(70,000 examples, split 80\/10\/10; scored on the test split, 10,000\) · params `architecture=cnn epochs=5 lr=0\.001` · backend `wasm` · \[run \\#482\]\(https:\/\/github\.com\/acme\/shop\/actions\/runs\/482\) · commit `a1b2c3d`/,
    );
    assertTablesIntact(md);
  });

  it('a failing gate says how many rules failed and why; within-noise rules carry a warning', () => {
    const r = sampleReport({
      passed: false,
      rules: [
        {
          rule: 'accuracy >= 0.95',
          kind: 'threshold',
          metric: 'accuracy',
          text: '≥ 0.95',
          value: 0.9187,
          baseline: null,
          verdict: 'fail',
          reason: 'accuracy = 0.9187 does not meet ≥ 0.95',
        },
        {
          rule: 'f1_macro: 0.1pp',
          kind: 'regression',
          metric: 'f1_macro',
          text: 'max drop 0.1 pp',
          value: 0.9,
          baseline: 0.91,
          verdict: 'pass',
          note: 'within-noise',
          reason: 'within noise',
        },
      ],
    });
    const md = renderGateMarkdown(r);
    assert.match(md.split('\n')[0], /^### ❌ fashion · candidate fails the gate \(1 of 2 rules\)/);
    assert.match(md, /\| accuracy \| .* \| ≥ 0\.95 \| ❌ \|/);
    assert.match(md, /\| f1\\_macro \| .* \| max drop 0\.1 pp \| ⚠️ \|/);
    assert.match(md, /- ❌ `accuracy >= 0\.95`: accuracy = 0\.9187 does not meet ≥ 0\.95/);
    assert.match(md, /- ⚠️ `f1_macro: 0\.1pp`: within noise/);
  });

  it('first model: no baseline column, said plainly', () => {
    const md = renderGateMarkdown(
      sampleReport({
        firstModel: true,
        baseline: null,
        baselineNote: 'first model: the registry has no versions of fashion yet — gated on thresholds only',
        significance: { alpha: 0.05, bootstrap: [] },
        rules: [
          {
            rule: 'accuracy: 1pp',
            kind: 'regression',
            metric: 'accuracy',
            text: 'max drop 1 pp',
            value: 0.9,
            baseline: null,
            verdict: 'skip',
            reason: 'first model',
          },
        ],
      }),
    );
    assert.match(
      md.split('\n')[0],
      /^### ✅ fashion · candidate passes the thresholds \(first model: the registry has no versions of fashion yet — gated on thresholds only\)$/,
    );
    assert.ok(md.includes('| metric | this PR | rule |  |'));
    assert.ok(md.includes('| accuracy | 0.9187 | max drop 1 pp | ➖ |'));
    assert.match(md, /Significance: no baseline to compare with\./);
    assert.match(md, /<summary>Per class<\/summary>/);
    assertTablesIntact(md);
  });

  it('escapes hostile class, model, label and metric names', () => {
    const hostile = [
      'a|b',
      '`rm -rf /`',
      '<script>alert(1)</script>',
      '@octocat',
      '::set-output name=x::y',
      'line1\nline2',
      '[x](javascript:alert(1))',
      '**bold**',
    ];
    const r = sampleReport({
      name: '<img src=x onerror=alert(1)> @admin',
      dataset: { ...sampleReport().dataset, classes: hostile },
      candidate: {
        ...sampleReport().candidate,
        metrics: {
          scalars: { accuracy: 0.9, 'evil|metric': 0.5 },
          perClass: hostile.map(() => ({ precision: 0.5, recall: 0.5, f1: 0.5, support: 1 })),
          confusion: hostile.map((_, i) => hostile.map((__, j) => (i === j ? 1 : 0))),
        },
        params: { 'a`b': 'x|y' },
        commit: '`; rm -rf ~',
      },
      baseline: { ...sampleReport().baseline!, label: 'prod | <b>', alias: 'pro`d', metrics: { scalars: { accuracy: 0.89 } } },
      run: { url: 'javascript:alert(1)', number: '1' },
    });
    const md = renderGateMarkdown(r);
    assert.ok(!md.includes('<script>'), 'raw <script>');
    assert.ok(!md.includes('<img'), 'raw <img>');
    assert.ok(!md.includes('<b>'), 'raw <b>');
    assert.ok(!md.includes('@octocat'), 'raw mention');
    assert.ok(!md.includes('@admin'), 'raw mention');
    assert.ok(!/^::/m.test(md), 'a line starts a workflow command');
    assert.ok(!md.includes('](javascript:'), 'javascript link');
    assert.ok(!md.includes('line1\nline2'), 'newline kept');
    assert.ok(!md.includes('**bold**'), 'markup kept');
    assertTablesIntact(md);
    // The confusion matrix still has one column per class plus the row label.
    const header = md.split('\n').find((l) => l.startsWith('| true ╲ predicted'))!;
    assert.equal(header.replace(/\\\|/g, '').split('|').length - 2, hostile.length + 1);
  });

  it('drops the largest details when too long for a comment', () => {
    const many = Array.from({ length: 200 }, (_, i) => `class_${i}`);
    const r = sampleReport({
      dataset: { ...sampleReport().dataset, classes: many },
      candidate: {
        ...sampleReport().candidate,
        metrics: {
          scalars: { accuracy: 0.5 },
          perClass: many.map(() => ({ precision: 0.5, recall: 0.5, f1: 0.5, support: 1 })),
          confusion: many.map((_, i) => many.map((__, j) => (i === j ? 1 : 0))),
        },
      },
    });
    const md = renderGateMarkdown(r, { maxLength: 60000 });
    assert.ok(md.length <= 60000, String(md.length));
    assert.ok(!md.includes('Confusion matrix'));
    assert.match(md, /left out to fit a comment/);
  });
});

describe('formatting helpers', () => {
  const cases: [string, number | null, number | null, string][] = [
    ['accuracy', 0.9187, 0.9121, '+0.66 pp'],
    ['accuracy', 0.9, 0.9, '±0.00 pp'],
    ['f1_weighted', 0.8, 0.9, '−10.00 pp'],
    ['log_loss', 0.2391, 0.2543, '−0.0152'],
    ['mse', 2, 1, '+1.0000'],
    ['accuracy', null, 0.9, '—'],
  ];
  for (const [m, c, b, want] of cases) it(`${m} ${c} vs ${b}`, () => assert.equal(formatChange(m, c, b), want));
  it('values and links', () => {
    assert.equal(formatValue(NaN), '—');
    assert.equal(formatValue(0.5), '0.5000');
    assert.equal(link('run', 'https://x/y(1)'), '[run](https://x/y%281%29)');
    assert.equal(link('run', 'javascript:alert(1)'), 'run');
  });
});

describe('parseGateReport', () => {
  it('accepts a report and refuses a tampered one', () => {
    assert.equal(parseGateReport(JSON.parse(JSON.stringify(sampleReport()))).name, 'fashion');
    const bad = JSON.parse(JSON.stringify(sampleReport())) as Record<string, unknown>;
    (bad['candidate'] as Record<string, unknown>)['metrics'] = { scalars: { accuracy: '<script>' } };
    assert.throws(
      () => parseGateReport(bad),
      (e: unknown) => e instanceof ConfigurationError && /candidate\.metrics\.scalars\.accuracy/.test(e.message),
    );
  });
});
