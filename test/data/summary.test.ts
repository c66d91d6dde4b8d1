/** The data set job summary: a pure rendering of the manifest. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatasetManifest, SplitRecord } from '../../shared/data/manifest.ts';
import { renderDatasetSummary } from '../../shared/report/dataset.ts';

const split = (count: number, classCounts: number[]): SplitRecord => ({
  count,
  digest: 'sha256:00',
  classCounts,
  x: { file: 'x', dtype: 'uint8', shape: [count, 2, 2, 1], sha256: '' },
  y: { file: 'y', dtype: 'int32', shape: [count], sha256: '' },
});

function manifest(classes: string[], over: Partial<DatasetManifest> = {}): DatasetManifest {
  const n = classes.length;
  return {
    schemaVersion: 2,
    kind: 'modelship.dataset',
    format: 'image-folder',
    task: 'classification',
    source: { uri: 'data/' },
    digest: `sha256:${'ab'.repeat(32)}`,
    classes,
    inputShape: [2, 2, 1],
    split: { ratios: [80, 10, 10], seed: 0, given: false },
    splits: {
      train: split(8 * n, new Array<number>(n).fill(8)),
      validation: split(n, new Array<number>(n).fill(1)),
      test: split(n, new Array<number>(n).fill(1)),
    },
    files: [],
    statistics: { classDistribution: [], channels: [], histogram: { edges: [], counts: [] } },
    createdAt: '2026-01-01T00:00:00.000Z',
    tool: { name: 'modelship', version: '0.1.0' },
    manifestDigest: `sha256:${'0'.repeat(64)}`,
    ...over,
  };
}

describe('renderDatasetSummary', () => {
  it('shows classes with counts per split, the split rule, format, source and digest', () => {
    const md = renderDatasetSummary(manifest(['boot', 'sandal']), { origin: 'built' });
    assert.equal(
      md,
      [
        '### 📦 Data set `sha256:abababababab…` · 20 examples · 2 classes',
        '',
        '| class | train | validation | test | total |',
        '| --- | ---: | ---: | ---: | ---: |',
        '| boot | 8 | 1 | 1 | 10 |',
        '| sandal | 8 | 1 | 1 | 10 |',
        '| **all** | 16 | 2 | 2 | 20 |',
        '',
        'Split: 80/10/10 train/validation/test by content hash (seed 0) · format `image-folder` · input `2×2×1` · source `data/` · prepared now',
        '',
        `Digest \`sha256:${'ab'.repeat(32)}\``,
        '',
      ].join('\n'),
    );
  });
  it('escapes class names and the source', () => {
    const md = renderDatasetSummary(manifest(['<img src=x>', 'a|b', '@team *bold*'], { source: { uri: 'x`y|z' } }));
    assert.ok(md.includes('&lt;img src=x&gt;'));
    assert.ok(!md.includes('<img'));
    // The row of 'a|b' still has exactly six cell borders (pipes not preceded by a backslash).
    const row = md.split('\n').find((l) => l.startsWith('| a'))!;
    assert.equal(row.match(/(?<!\\)\|/g)?.length, 6, row);
    assert.ok(md.includes('@\u200bteam \\*bold\\*'));
    assert.ok(md.includes('`xˋy¦z`'));
  });
  it('says which splits were carved from a given train split', () => {
    const md = renderDatasetSummary(
      manifest(['a', 'b'], { split: { ratios: [70, 20, 10], seed: 0, given: true, carved: ['validation', 'test'] } }),
    );
    assert.ok(md.includes('Split: train given by the source; validation 20% and test 10% of train by content hash (seed 0)'), md);
  });
  it('folds long class lists and describes a given split', () => {
    const classes = Array.from({ length: 25 }, (_, i) => `c${i}`);
    const md = renderDatasetSummary(manifest(classes, { split: { ratios: [80, 10, 10], seed: 3, given: true } }), { origin: 'unchanged' });
    assert.ok(md.includes('<details><summary>5 more classes</summary>'));
    assert.ok(md.includes('train/test given by the source; validation 10% of train by content hash (seed 3)'));
    assert.ok(md.includes('reused: source unchanged since the last run'));
  });
});
