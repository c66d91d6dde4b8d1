/**
 * live_accuracy and live_error_rate: the SLO table's queries (and their guard: fewer labelled
 * predictions than feedback-min-count is an empty result), the same from two scrapes, no data that
 * says how many there were, verdicts and dispatch inputs that carry the numbers. Table-driven, on
 * scripted /metrics and a scripted Prometheus.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FEEDBACK_SLO_NAMES,
  judge,
  measure,
  parseSloRules,
  prometheusSource,
  retrainInputs,
  scrapeSource,
  sloMetric,
} from '../../shared/monitor/index.ts';

function exposition(correct: number | undefined, wrong: number | undefined): string {
  return [
    '# TYPE modelship_feedback_correct_total counter',
    ...(correct !== undefined ? [`modelship_feedback_correct_total{model="m",version="2"} ${correct}`] : []),
    `modelship_feedback_correct_total{model="other",version="2"} 500`,
    '# TYPE modelship_feedback_wrong_total counter',
    ...(wrong !== undefined ? [`modelship_feedback_wrong_total{model="m",version="2"} ${wrong}`] : []),
    '',
  ].join('\n');
}

function scrapeOf(pages: string[]): ReturnType<typeof scrapeSource> {
  let clock = 0;
  return scrapeSource({
    endpoints: ['http://s:8501'],
    fetch: () => Promise.resolve(new Response(pages.length > 1 ? pages.shift()! : pages[0])),
    now: () => new Date(clock),
    sleep: (ms) => {
      clock += ms;
      return Promise.resolve();
    },
  });
}

describe('live accuracy from feedback', () => {
  it('writes guarded PromQL from the SLO table', () => {
    assert.deepEqual(FEEDBACK_SLO_NAMES, ['live_accuracy', 'live_error_rate']);
    const q = sloMetric('live_accuracy')!.promql({ selector: 'model="m",version="2"', window: '1h', minFeedback: 50 });
    assert.equal(
      q,
      'sum(increase(modelship_feedback_correct_total{model="m",version="2"}[1h])) / (sum(increase(modelship_feedback_correct_total{model="m",version="2"}[1h])) + sum(increase(modelship_feedback_wrong_total{model="m",version="2"}[1h]))) and on() (sum(increase(modelship_feedback_correct_total{model="m",version="2"}[1h])) + sum(increase(modelship_feedback_wrong_total{model="m",version="2"}[1h])) >= 50)',
    );
    assert.match(
      sloMetric('live_error_rate')!.promql({ selector: '', window: '5m', by: ['version'] }),
      /^sum by \(version\) \(increase\(modelship_feedback_wrong_total\[5m\]\)\) \/ .* and on\(version\) \(.* > 0\)$/,
    );
  });

  const cases: { name: string; before: [number?, number?]; after: [number?, number?]; min: number; want: unknown }[] = [
    {
      name: 'enough feedback',
      before: [10, 5],
      after: [130, 85],
      min: 100,
      want: {
        live_accuracy: [0.6, '120 of 200 labelled predictions right'],
        live_error_rate: [0.4, '80 of 200 labelled predictions wrong'],
      },
    },
    {
      name: 'too little feedback',
      before: [10, 5],
      after: [60, 25],
      min: 100,
      want: /^70 labelled predictions for m v2 between the two scrapes, fewer than feedback-min-count 100$/,
    },
    {
      name: 'no feedback in the window',
      before: [10, 5],
      after: [10, 5],
      min: 1,
      want: /^0 labelled predictions for m v2 .*, fewer than feedback-min-count 1$/,
    },
    {
      name: 'no feedback counters at all',
      before: [undefined, undefined],
      after: [undefined, undefined],
      min: 1,
      want: /^no feedback counters for m v2 between the two scrapes/,
    },
    {
      name: 'a restarted server (counters reset)',
      before: [900, 100],
      after: [40, 60],
      min: 100,
      want: {
        live_accuracy: [0.4, '40 of 100 labelled predictions right'],
        live_error_rate: [0.6, '60 of 100 labelled predictions wrong'],
      },
    },
  ];
  for (const c of cases) {
    it(`from two scrapes: ${c.name}`, async () => {
      const src = scrapeOf([exposition(...c.before), exposition(...c.after)]);
      const m = await measure(src, ['live_accuracy', 'live_error_rate'], { model: 'm', version: '2' }, 30, { minFeedback: c.min });
      for (const name of ['live_accuracy', 'live_error_rate']) {
        const o = m.observations[name];
        if (c.want instanceof RegExp) {
          assert.equal(o.kind, 'no-data', JSON.stringify(o));
          assert.match((o as { reason: string }).reason, c.want);
        } else {
          const [value, detail] = (c.want as Record<string, [number, string]>)[name];
          assert.equal(o.kind, 'value', JSON.stringify(o));
          assert.ok(Math.abs((o as { value: number }).value - value) < 1e-12);
          assert.equal((o as { detail?: string }).detail, detail);
        }
      }
    });
  }

  it('from Prometheus: the ratio, with the counts behind it, and no data that says how many', async () => {
    const queries: string[] = [];
    const answers = (q: string): number | undefined => {
      if (q.startsWith('sum(increase(modelship_feedback_correct_total{model="m",version="2"}[1h])) + ')) return 250;
      if (q === 'sum(increase(modelship_feedback_correct_total{model="m",version="2"}[1h]))') return 150;
      if (q.startsWith('sum(increase(modelship_feedback_correct_total') && q.includes(' and on() ('))
        return q.includes('>= 100') ? 0.6 : undefined;
      if (q.startsWith('sum(increase(modelship_feedback_wrong_total') && q.includes(' and on() ('))
        return q.includes('>= 100') ? 0.4 : undefined;
      return undefined;
    };
    const fetch = (_url: string, init?: RequestInit): Promise<Response> => {
      const q = new URLSearchParams(typeof init?.body === 'string' ? init.body : '').get('query') ?? '';
      queries.push(q);
      const v = answers(q);
      const result = v === undefined ? [] : [{ metric: {}, value: [1, String(v)] }];
      return Promise.resolve(Response.json({ status: 'success', data: { resultType: 'vector', result } }));
    };
    const src = prometheusSource({ url: 'http://prom:9090', fetch, now: () => new Date(1_000_000) });
    const m = await measure(src, ['live_accuracy', 'live_error_rate'], { model: 'm', version: '2' }, 3600, { minFeedback: 100 });
    assert.deepEqual(m.observations['live_accuracy'], {
      kind: 'value',
      value: 0.6,
      series: 1,
      warnings: [],
      detail: '150 of 250 labelled predictions right',
    });
    assert.equal(queries.length, 4, 'two ratios and, once for both, the count and the correct ones');
    const few = await measure(src, ['live_accuracy'], { model: 'm', version: '2' }, 3600, { minFeedback: 300 });
    assert.deepEqual(few.observations['live_accuracy'], {
      kind: 'no-data',
      reason: '250 labelled predictions for m v2 in the last 1h, fewer than feedback-min-count 300',
    });
  });

  it('judges with the rule language and dispatches with the numbers', () => {
    const rules = parseSloRules(['live_accuracy >= 0.8', 'live_error_rate <= 0.15']);
    const j = judge(
      rules,
      {
        live_accuracy: { kind: 'value', value: 0.6, series: 1, warnings: [], detail: '120 of 200 labelled predictions right' },
        live_error_rate: { kind: 'no-data', reason: 'few' },
      },
      'warn',
    );
    assert.equal(j.status, 'breach');
    assert.equal(j.breaches[0].detail, '120 of 200 labelled predictions right');
    assert.match(j.breaches[0].reason, /\(120 of 200 labelled predictions right\)$/);
    assert.equal(j.verdicts[1].status, 'no-data');
    assert.deepEqual(retrainInputs(j.breaches[0], '1h', { model: 'fashion', version: '3' }), {
      reason: 'monitor-check: live_accuracy >= 0.8 breached by fashion v3: 0.6 (120 of 200 labelled predictions right) over the last 1h',
      rule: 'live_accuracy >= 0.8',
      value: '0.6 (120 of 200 labelled predictions right)',
      limit: '≥ 0.8',
      window: '1h',
      model: 'fashion',
      version: '3',
    });
    assert.throws(
      () => parseSloRules(['live_accurcy >= 0.8']),
      (err: Error & { hint?: string }) =>
        /unknown metric 'live_accurcy'/.test(err.message) && /live_accuracy/.test(`${err.message} ${err.hint ?? ''}`),
    );
  });
});
