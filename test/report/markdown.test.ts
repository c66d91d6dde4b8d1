import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHART_TEXT, code, escapeMarkdown, lineChart, table } from '../../shared/report/markdown.ts';
import { shortDigest } from '../../shared/util/format.ts';

describe('markdown building blocks', () => {
  const hostile: [string, string][] = [
    ['a|b', 'a\\|b'],
    ['<script>alert(1)</script>', '&lt;script&gt;alert\\(1\\)&lt;/script&gt;'],
    ['@octocat', '@\u200boctocat'],
    ['**bold** _it_', '\\*\\*bold\\*\\* \\_it\\_'],
    ['line\nbreak', 'line break'],
    ['- item', '\\- item'],
    ['[link](http://x)', '\\[link\\]\\(http://x\\)'],
  ];
  for (const [input, want] of hostile) it(`escapes ${JSON.stringify(input)}`, () => assert.equal(escapeMarkdown(input), want));

  it('keeps an escaped pipe inside one table cell (no double escaping)', () => {
    const t = table(['name', 'n'], [[escapeMarkdown('a|b'), '1']]);
    assert.equal(t.split('\n')[2], '| a\\|b | 1 |');
    assert.equal(table(['x'], [['raw|pipe']]).split('\n')[2], '| raw\\|pipe |');
  });
  it('inline code cannot be broken out of', () => {
    assert.equal(code('a`b|c\nd'), '`aˋb¦c d`');
  });
  it('short digests', () => assert.equal(shortDigest('sha256:3f9a1c2b4d5e6f70'), 'sha256:3f9a1c2b4d5e…'));
  it('renders a Mermaid xychart with padded range, the palette and a legend', () => {
    const c = lineChart({ title: 'val "acc"', xLabels: [1, 2], series: [{ name: 'acc', values: [0.5, 0.9] }] });
    const lines = c.split('\n');
    assert.equal(lines[0], '```mermaid');
    const init = /^%%\{init: (.*)\}%%$/.exec(lines[1]);
    assert.ok(init, lines[1]);
    const theme = JSON.parse(init[1]) as { themeVariables: { xyChart: Record<string, string> } };
    assert.equal(theme.themeVariables.xyChart['plotColorPalette'], '#1f6feb');
    assert.equal(theme.themeVariables.xyChart['titleColor'], CHART_TEXT);
    assert.deepEqual(lines.slice(2), [
      'xychart-beta',
      '  title "val  acc "',
      '  x-axis [1, 2]',
      '  y-axis 0.48 --> 0.92',
      '  line [0.5, 0.9]',
      '```',
      '',
      '<sub>blue: acc</sub>',
    ]);
  });
  it('two series: two palette colours, and the legend says which line is which', () => {
    const c = lineChart({
      title: 'p95',
      yTitle: 'ms',
      yFrom: 'zero',
      xLabels: ['-1m', 'now'],
      series: [
        { name: 'p95 latency <ms>', values: [40, 50] },
        { name: 'limit', values: [100, 100] },
      ],
    });
    assert.match(c, /"plotColorPalette":"#1f6feb, #cf6a1a"/);
    assert.match(c, /\n {2}x-axis \["-1m", "now"\]\n {2}y-axis "ms" 0 --> 110\n {2}line \[40, 50\]\n {2}line \[100, 100\]\n```/);
    assert.match(c, /<sub>blue: p95 latency {2}ms {2}· orange: limit<\/sub>$/);
    assert.throws(
      () => lineChart({ title: 't', xLabels: [1], series: Array.from({ length: 5 }, () => ({ name: 'x', values: [1] })) }),
      /at most 4 series/,
    );
  });
});
