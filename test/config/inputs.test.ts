import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, input, parseDuration, parseInputs } from '../../shared/config/inputs.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

const decls = {
  epochs: input.int({ description: 'e', min: 1, fallback: '5' }),
  'batch-size': input.int({ description: 'b', min: 1 }),
  backend: input.choice(['auto', 'wasm'], { description: 'b', fallback: 'auto' }),
  cache: input.bool({ description: 'c', default: 'true' }),
  thresholds: input.list({ description: 't' }),
  interval: input.duration({ description: 'i', fallback: '60s', min: '1s', max: '1h' }),
  prometheus: input.url({ description: 'p' }),
  user: input.optional({ description: 'u', default: '${{ github.actor }}' }),
  rate: input.number({ description: 'r', min: 0, exclusiveMin: true, max: 10, fallback: '0.001' }),
  budget: input.size({ description: 'm', fallback: '2GiB', min: '1MiB' }),
  name: input.name({ description: 'n' }),
  gate: input.rules({ description: 'g', kinds: ['threshold'] }),
};

describe('parseInputs', () => {
  const cases: { raw: Record<string, string>; want?: Record<string, unknown>; error?: RegExp }[] = [
    {
      raw: {},
      want: { epochs: 5, batchSize: undefined, backend: 'auto', cache: true, thresholds: [], interval: 60_000, prometheus: undefined },
    },
    // An action default that is a workflow expression is the runner's: never a value on the command line.
    { raw: {}, want: { user: undefined } },
    { raw: { user: '${{ github.actor }}' }, want: { user: undefined } },
    { raw: { interval: '90s' }, want: { interval: 90_000 } },
    { raw: { interval: '1h' }, want: { interval: 3_600_000 } },
    { raw: { interval: '1m30s' }, want: { interval: 90_000 } },
    { raw: { interval: '500ms' }, error: /input 'interval' is 500ms, out of range/ },
    { raw: { interval: '2h' }, error: /input 'interval' is 2h, out of range/ },
    { raw: { interval: '90' }, error: /input 'interval' must be a duration such as 90s, 5m or 1h; got '90' \(a number without a unit\)/ },
    { raw: { interval: '5 minutes' }, error: /input 'interval' must be a duration/ },
    { raw: { prometheus: 'http://prometheus:9090/' }, want: { prometheus: 'http://prometheus:9090' } },
    { raw: { prometheus: 'prometheus:9090' }, error: /input 'prometheus' must be an http:\/\/ or https:\/\/ URL/ },
    { raw: { prometheus: 'ftp://x' }, error: /input 'prometheus' must be an http:\/\/ or https:\/\/ URL/ },
    { raw: { rate: '0' }, error: /input 'rate' is 0, out of range/ },
    {
      raw: { epochs: '12', thresholds: 'accuracy >= 0.9\n\n# note\nf1 >= 0.8' },
      want: { epochs: 12, thresholds: ['accuracy >= 0.9', 'f1 >= 0.8'] },
    },
    { raw: { epochs: '0' }, error: /input 'epochs' is 0, out of range/ },
    { raw: { epochs: '2.5' }, error: /input 'epochs' must be a whole number/ },
    { raw: { backend: 'gpu' }, error: /input 'backend' must be one of auto, wasm; got 'gpu'/ },
    { raw: { cache: 'yes' }, error: /input 'cache' must be true or false/ },
    { raw: {}, want: { budget: 2 * 2 ** 30, name: undefined, gate: [] } },
    { raw: { budget: '512 MiB' }, want: { budget: 512 * 2 ** 20 } },
    { raw: { budget: '4GB' }, want: { budget: 4e9 } },
    { raw: { budget: '1.5GiB' }, want: { budget: 1.5 * 2 ** 30 } },
    { raw: { budget: '10 parsecs' }, error: /input 'budget' must be a size such as 512MiB, 10GiB or 4GB; got '10 parsecs'/ },
    { raw: { budget: '100KiB' }, error: /input 'budget' is 100KiB \(100 KiB\), out of range/ },
    { raw: { name: 'fashion-mnist' }, want: { name: 'fashion-mnist' } },
    { raw: { name: 'Fashion' }, error: /input 'name': 'Fashion' is not a valid model name: 'F' is refused/ },
    { raw: { name: 'a__b' }, error: /'__' is refused: separators/ },
    { raw: { gate: 'accuracy >= 0.9\n\n# c\nf1_macro >= 0.8' }, want: { gate: ['accuracy >= 0.9', 'f1_macro >= 0.8'] } },
    { raw: { gate: '0.9' }, error: /input 'gate' line 1: '0\.9' is not a rule\./ },
    {
      raw: { gate: 'accuracy >= 0.9\n\naccuracy: 1pp' },
      error: /input 'gate' line 3: 'accuracy: 1pp' is a regression limit, but only thresholds are allowed here/,
    },
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

describe('input hints', () => {
  const hint = (raw: Record<string, string>): string => {
    try {
      parseInputs(decls, raw);
    } catch (e) {
      return (e as ConfigurationError).hint ?? '';
    }
    return '';
  };
  it('an exclusive lower bound says "above", not "from"', () =>
    assert.equal(hint({ rate: '0' }), "Set 'rate' to a value above 0, at most 10."));
  it('a duration without a unit is told the unit to add', () => assert.match(hint({ interval: '90' }), /e\.g\. interval: 90s/));
});

describe('duration text', () => {
  const pairs: [string, number][] = [
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['250ms', 250],
    ['2d', 172_800_000],
  ];
  for (const [text, ms] of pairs) {
    it(`${text} ⇄ ${ms} ms`, () => {
      assert.equal(parseDuration(text), ms);
      assert.equal(formatDuration(ms), text);
    });
  }
});
