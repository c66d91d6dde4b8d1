import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { code, escapeMarkdown, lineChart, table } from '../../shared/report/markdown.ts';
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
  it('renders a Mermaid xychart with padded range', () => {
    const c = lineChart({ title: 'val "acc"', xLabels: [1, 2], series: [{ name: 'acc', values: [0.5, 0.9] }] });
    assert.equal(
      c,
      ['```mermaid', 'xychart-beta', '  title "val  acc "', '  x-axis [1, 2]', '  y-axis 0.48 --> 0.92', '  line [0.5, 0.9]', '```'].join(
        '\n',
      ),
    );
  });
});
