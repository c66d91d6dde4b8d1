import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LoadedDataset } from '../../shared/data/load.ts';
import type { DatasetManifest } from '../../shared/data/manifest.ts';
import { checkHeldOut } from '../../shared/evaluate/score.ts';
import type { ModelMetadata } from '../../shared/model/metadata.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

const D = `sha256:${'1'.repeat(64)}`;
const TRAIN = `sha256:${'a'.repeat(64)}`;
const VAL = `sha256:${'b'.repeat(64)}`;
const TEST = `sha256:${'c'.repeat(64)}`;

const split = (digest: string, n: number) => ({
  count: n,
  digest,
  classCounts: [],
  x: { file: 'x', dtype: 'uint8' as const, shape: [n, 3], sha256: '' },
  y: { file: 'y', dtype: 'uint8' as const, shape: [n], sha256: '' },
});
const ds = {
  dir: '/d',
  manifestPath: '/d/manifest.json',
  manifest: {
    digest: D,
    task: 'classification',
    classes: ['a', 'b'],
    splits: { train: split(TRAIN, 8), validation: split(VAL, 1), test: split(TEST, 1) },
  } as unknown as DatasetManifest,
} as LoadedDataset;

function meta(over: Partial<ModelMetadata> & { splits?: Record<string, string>; digest?: string } = {}): ModelMetadata {
  return {
    task: 'classification',
    classes: ['a', 'b'],
    inputShape: [3],
    ...over,
    dataset: { digest: over.digest ?? D, splits: over.splits ?? { train: TRAIN, validation: VAL } },
  } as unknown as ModelMetadata;
}

describe('checkHeldOut', () => {
  const cases: { name: string; m: ModelMetadata; role: 'candidate' | 'baseline'; error?: RegExp }[] = [
    { name: 'candidate trained on this data set', m: meta(), role: 'candidate' },
    {
      name: 'candidate from another data set',
      m: meta({ digest: `sha256:${'9'.repeat(64)}` }),
      role: 'candidate',
      error: /trained on data set sha256:9{64}, but input 'dataset' is sha256:1{64}/,
    },
    {
      name: 'baseline from another data set is fine',
      m: meta({ digest: `sha256:${'9'.repeat(64)}`, splits: { train: `sha256:${'8'.repeat(64)}` } }),
      role: 'baseline',
    },
    {
      name: 'trained on the test split',
      m: meta({ splits: { train: TEST } }),
      role: 'candidate',
      error: /trained on split train sha256:c{64}, which is the test split sha256:c{64}/,
    },
    {
      name: 'baseline validated on the test split',
      m: meta({ digest: `sha256:${'9'.repeat(64)}`, splits: { validation: TEST } }),
      role: 'baseline',
      error: /baseline model 'm' trained on split validation/,
    },
    {
      name: 'recorded test split differs',
      m: meta({ splits: { train: TRAIN, test: `sha256:${'d'.repeat(64)}` } }),
      role: 'candidate',
      error: /records test split sha256:d{64}, but the data set's test split is sha256:c{64}/,
    },
    {
      name: 'class list differs',
      m: meta({ classes: ['b', 'a'] }),
      role: 'baseline',
      error: /has classes \[b, a\]; the data set has \[a, b\]/,
    },
    {
      name: 'input shape differs',
      m: meta({ inputShape: [4] }),
      role: 'candidate',
      error: /inputs of shape \[4\]; the test split holds \[3\]/,
    },
    {
      name: 'task differs',
      m: meta({ task: 'regression' }),
      role: 'candidate',
      error: /is a regression model; the data set is for classification/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (!c.error) return checkHeldOut(c.m, ds, c.role, 'm');
      assert.throws(
        () => checkHeldOut(c.m, ds, c.role, 'm'),
        (e: unknown) => e instanceof ConfigurationError && c.error!.test(e.message),
      );
    });
  }
});
