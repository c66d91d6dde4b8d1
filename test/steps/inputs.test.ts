import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { input, parseInputs } from '../../shared/config/inputs.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

const decls = {
  epochs: input.int({ description: 'e', min: 1, fallback: '5' }),
  'batch-size': input.int({ description: 'b', min: 1 }),
  backend: input.choice(['auto', 'wasm'], { description: 'b', fallback: 'auto' }),
  cache: input.bool({ description: 'c', default: 'true' }),
  thresholds: input.list({ description: 't' }),
};

describe('parseInputs', () => {
  const cases: { raw: Record<string, string>; want?: Record<string, unknown>; error?: RegExp }[] = [
    { raw: {}, want: { epochs: 5, batchSize: undefined, backend: 'auto', cache: true, thresholds: [] } },
    {
      raw: { epochs: '12', thresholds: 'accuracy >= 0.9\n\n# note\nf1 >= 0.8' },
      want: { epochs: 12, thresholds: ['accuracy >= 0.9', 'f1 >= 0.8'] },
    },
    { raw: { epochs: '0' }, error: /input 'epochs' is 0, out of range/ },
    { raw: { epochs: '2.5' }, error: /input 'epochs' must be a whole number/ },
    { raw: { backend: 'gpu' }, error: /input 'backend' must be one of auto, wasm; got 'gpu'/ },
    { raw: { cache: 'yes' }, error: /input 'cache' must be true or false/ },
  ];
  for (const c of cases) {
    it(JSON.stringify(c.raw), () => {
      if (c.error) {
        assert.throws(
          () => parseInputs(decls, c.raw),
          (e: unknown) => e instanceof ConfigurationError && c.error!.test(e.message),
        );
      } else {
        const got = parseInputs(decls, c.raw) as Record<string, unknown>;
        for (const [k, v] of Object.entries(c.want!)) assert.deepEqual(got[k], v, k);
      }
    });
  }
});
