import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRule, evaluateRules, metricDirection, parseRules, type Rule } from '../../shared/rules/index.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

const known = ['accuracy', 'f1_macro', 'log_loss', 'p95_latency_ms', 'prediction_psi', 'r2', 'mae'];

describe('parseRules', () => {
  const cases: { lines: string[]; kinds?: ('threshold' | 'regression')[]; want?: Partial<Rule>[]; error?: RegExp; hint?: RegExp }[] = [
    { lines: ['accuracy >= 0.90'], want: [{ kind: 'threshold', metric: 'accuracy', op: '>=', value: 0.9 }] },
    {
      lines: ['accuracy>0.9', 'log_loss<0.35', 'f1_macro <= 1', 'r2 < 2', 'mae == 0', 'mae != 1e-3'],
      want: [
        { op: '>', value: 0.9 },
        { op: '<', value: 0.35 },
        { op: '<=', value: 1 },
        { op: '<', value: 2 },
        { op: '==', value: 0 },
        { op: '!=', value: 0.001 },
      ],
    },
    {
      lines: ['  p95_latency_ms <= 100  # SLO', '', '# comment only'],
      want: [{ kind: 'threshold', metric: 'p95_latency_ms', op: '<=', value: 100 }],
    },
    { lines: ['prediction_psi <= .2'], want: [{ metric: 'prediction_psi', value: 0.2 }] },
    {
      lines: ['accuracy: 0.01'],
      want: [{ kind: 'regression', metric: 'accuracy', amount: 0.01, unit: 'absolute', direction: 'higher-is-better' }],
    },
    { lines: ['f1_macro: 2%'], want: [{ kind: 'regression', amount: 2, unit: 'relative' }] },
    { lines: ['accuracy: 1pp'], want: [{ kind: 'regression', amount: 1, unit: 'pp' }] },
    { lines: ['log_loss: 5 %'], want: [{ kind: 'regression', unit: 'relative', direction: 'lower-is-better' }] },
    { lines: ['accuracy >= 0.9', 'nonsense'], error: /rules line 2: 'nonsense' is not a rule/, hint: /metric OP number/ },
    { lines: ['acuracy >= 0.9'], error: /unknown metric 'acuracy'/, hint: /Use one of: accuracy, f1_macro, log_loss/ },
    { lines: ['accuracy => 0.9'], error: /uses '=>'/, hint: /accuracy >= 0\.9/ },
    { lines: ['accuracy = 0.9'], error: /uses '='/, hint: /accuracy == 0\.9/ },
    { lines: ['accuracy >= 90%'], error: /'90%' where a number should be/, hint: /accuracy >= 0\.9/ },
    { lines: ['accuracy >= high'], error: /'high' where a number should be/ },
    { lines: ['accuracy >= NaN'], error: /'NaN' where a number should be/ },
    { lines: ['accuracy >= Infinity'], error: /'Infinity' where a number should be/ },
    { lines: ['accuracy: lots'], error: /'lots' where a limit should be/, hint: /accuracy: 1pp/ },
    { lines: ['accuracy: -0.01'], error: /negative limit/, hint: /accuracy: 0\.01/ },
    { lines: ['accuracy: 1pp', 'accuracy: 2%'], error: /line 2.*second regression limit/ },
    { lines: ['accuracy: 1pp'], kinds: ['threshold'], error: /only thresholds are allowed/, hint: /max-regression/ },
    { lines: ['accuracy >= 0.9'], kinds: ['regression'], error: /only regression limits are allowed/ },
  ];
  for (const c of cases) {
    it(c.lines.join(' / ') + (c.kinds ? ` [${c.kinds.join()}]` : ''), () => {
      const opts = { known, ...(c.kinds ? { kinds: c.kinds } : {}) };
      if (c.error) {
        assert.throws(
          () => parseRules(c.lines, opts),
          (e: unknown) => e instanceof ConfigurationError && c.error!.test(e.message) && (!c.hint || c.hint.test(e.hint ?? '')),
        );
        return;
      }
      const got = parseRules(c.lines, opts);
      assert.equal(got.length, c.want!.length);
      c.want!.forEach((w, i) => {
        for (const [k, v] of Object.entries(w)) assert.deepEqual((got[i] as unknown as Record<string, unknown>)[k], v, `${i}.${k}`);
      });
    });
  }

  it('names the input in the error', () => {
    assert.throws(() => parseRules(['x >= 1'], { known, source: 'thresholds' }), /^ConfigurationError: thresholds line 1/);
  });

  it('a metric with no known direction cannot have a regression limit, unless the caller says', () => {
    assert.throws(() => parseRules(['widgets: 1'], { known: ['widgets'] }), /better direction is not known/);
    const [r] = parseRules(['widgets: 1'], { known: ['widgets'], directions: { widgets: 'lower-is-better' } });
    assert.equal(r?.kind === 'regression' && r.direction, 'lower-is-better');
  });
});

describe('metricDirection', () => {
  const cases: [string, string | undefined][] = [
    ['accuracy', 'higher-is-better'],
    ['f1_macro', 'higher-is-better'],
    ['precision_weighted', 'higher-is-better'],
    ['recall_macro', 'higher-is-better'],
    ['roc_auc', 'higher-is-better'],
    ['roc_auc_ovr', 'higher-is-better'],
    ['r2', 'higher-is-better'],
    ['log_loss', 'lower-is-better'],
    ['ece', 'lower-is-better'],
    ['mse', 'lower-is-better'],
    ['mae', 'lower-is-better'],
    ['latency_ms', 'lower-is-better'],
    ['p95_latency_ms', 'lower-is-better'],
    ['error_rate', 'lower-is-better'],
    ['psi', 'lower-is-better'],
    ['prediction_psi', 'lower-is-better'],
    ['widgets', undefined],
  ];
  for (const [m, d] of cases) it(m, () => assert.equal(metricDirection(m), d));
});

describe('evaluateRules', () => {
  const rule = (line: string): Rule => parseRules([line], { known })[0];
  const cases: {
    line: string;
    value: number | null | undefined;
    baseline?: number | null | undefined;
    noBaseline?: boolean;
    verdict: 'pass' | 'fail' | 'skip';
    reason: RegExp;
  }[] = [
    { line: 'accuracy >= 0.9', value: 0.95, verdict: 'pass', reason: /accuracy = 0\.95 meets ≥ 0\.9/ },
    { line: 'accuracy >= 0.9', value: 0.9, verdict: 'pass', reason: /meets/ },
    { line: 'accuracy > 0.9', value: 0.9, verdict: 'fail', reason: /does not meet > 0\.9/ },
    { line: 'log_loss <= 0.35', value: 0.35, verdict: 'pass', reason: /meets ≤ 0\.35/ },
    { line: 'log_loss < 0.35', value: 0.35, verdict: 'fail', reason: /does not meet/ },
    { line: 'mae == 0', value: 0, verdict: 'pass', reason: /meets = 0/ },
    { line: 'mae != 0', value: 0, verdict: 'fail', reason: /does not meet ≠ 0/ },
    { line: 'accuracy >= 0.9', value: NaN, verdict: 'fail', reason: /accuracy is NaN/ },
    { line: 'log_loss <= 0.35', value: -Infinity, verdict: 'fail', reason: /log_loss is -Infinity/ },
    { line: 'accuracy >= 0.9', value: Infinity, verdict: 'fail', reason: /\+Infinity/ },
    { line: 'accuracy != 0.5', value: NaN, verdict: 'fail', reason: /NaN/ },
    { line: 'accuracy >= 0.9', value: undefined, verdict: 'fail', reason: /accuracy is missing/ },
    { line: 'accuracy >= 0.9', value: null, verdict: 'fail', reason: /accuracy is missing/ },
    // regression limits, higher is better
    { line: 'accuracy: 0.01', value: 0.905, baseline: 0.91, verdict: 'pass', reason: /worse by 0\.005.*within max drop 0\.01/ },
    { line: 'accuracy: 0.01', value: 0.9, baseline: 0.91, verdict: 'pass', reason: /within/ },
    { line: 'accuracy: 0.01', value: 0.899, baseline: 0.91, verdict: 'fail', reason: /worse by 0\.011.*beyond/ },
    { line: 'accuracy: 1pp', value: 0.899, baseline: 0.91, verdict: 'fail', reason: /beyond max drop 1 pp \(0\.01\)/ },
    { line: 'accuracy: 1pp', value: 0.95, baseline: 0.91, verdict: 'pass', reason: /better by 0\.04/ },
    { line: 'f1_macro: 2%', value: 0.89, baseline: 0.9, verdict: 'pass', reason: /within max drop 2% \(0\.018\)/ },
    { line: 'f1_macro: 2%', value: 0.88, baseline: 0.9, verdict: 'fail', reason: /beyond/ },
    // lower is better
    { line: 'log_loss: 5%', value: 0.21, baseline: 0.2, verdict: 'pass', reason: /worse by 0\.01.*within max rise 5%/ },
    { line: 'log_loss: 5%', value: 0.2101, baseline: 0.2, verdict: 'fail', reason: /beyond max rise 5%/ },
    { line: 'log_loss: 0.1', value: 0.1, baseline: 0.5, verdict: 'pass', reason: /better by 0\.4/ },
    { line: 'accuracy: 0.01', value: 0.9, baseline: 0.9, verdict: 'pass', reason: /unchanged/ },
    // missing and broken values
    { line: 'accuracy: 0.01', value: 0.9, noBaseline: true, verdict: 'skip', reason: /first model/ },
    { line: 'accuracy: 0.01', value: NaN, noBaseline: true, verdict: 'fail', reason: /accuracy is NaN/ },
    { line: 'accuracy: 0.01', value: 0.9, baseline: undefined, verdict: 'fail', reason: /baseline's accuracy is missing/ },
    { line: 'accuracy: 0.01', value: 0.9, baseline: NaN, verdict: 'fail', reason: /baseline's accuracy is NaN/ },
    { line: 'log_loss: 1%', value: Infinity, baseline: 0.3, verdict: 'fail', reason: /log_loss is \+Infinity/ },
  ];
  for (const c of cases) {
    it(`${c.line} with ${c.value} vs ${c.noBaseline ? 'no baseline' : c.baseline}`, () => {
      const r = rule(c.line);
      const values: Record<string, number | null | undefined> = {};
      if (c.value !== undefined) values[r.metric] = c.value;
      const baseline = c.noBaseline ? undefined : 'baseline' in c && c.baseline !== undefined ? { [r.metric]: c.baseline } : {};
      const [got] = evaluateRules([r], values, baseline);
      assert.equal(got.verdict, c.verdict, got.reason);
      assert.match(got.reason, c.reason);
    });
  }

  it('describes rules for people', () => {
    assert.deepEqual(
      parseRules(['accuracy >= 0.90', 'accuracy: 1pp', 'log_loss: 5%', 'mae: 0.2', 'r2 != 0'], { known }).map(describeRule),
      ['≥ 0.90', 'max drop 1 pp', 'max rise 5%', 'max rise 0.2', '≠ 0'],
    );
  });
});

describe('rule line numbers', () => {
  it('count blank and comment lines, through a list input (the values carry their lines)', async () => {
    const { input, parseInputs } = await import('../../shared/config/inputs.ts');
    const { slos } = parseInputs({ slos: input.list({ description: 's' }) }, { slos: 'p95_latency_ms <= 100\n\n# a note\nlatency <= 3' });
    assert.deepEqual(slos, ['p95_latency_ms <= 100', 'latency <= 3'], 'still a plain list of the values');
    assert.throws(
      () => parseRules(slos, { known: ['p95_latency_ms'], source: 'slos' }),
      (e: unknown) => e instanceof ConfigurationError && /^slos line 4: 'latency <= 3' names an unknown metric/.test(e.message),
    );
    // A plain array numbers by position, and a text by its own lines.
    assert.throws(() => parseRules(['accuracy >= 1', 'x >= 1'], { known: ['accuracy'] }), /rules line 2:/);
    assert.throws(() => parseRules('accuracy >= 1\n\nx >= 1', { known: ['accuracy'] }), /rules line 3:/);
  });
});
