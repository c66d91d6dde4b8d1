/** The exposition parser: prom-client's real output, the format's corners, and strictness. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { binCounts, histogramQuantile, parseExposition } from '../../shared/monitor/index.ts';

describe('parseExposition', () => {
  it("reads prom-client's exposition: counters, histograms, labels with escapes", async () => {
    const registry = new Registry();
    const c = new Counter({
      name: 'modelship_requests_total',
      help: 'Requests\nby code \\ api.',
      labelNames: ['model', 'code'],
      registers: [registry],
    });
    const h = new Histogram({
      name: 'modelship_request_duration_seconds',
      help: 'Latency.',
      labelNames: ['model'],
      buckets: [0.1, 1],
      registers: [registry],
    });
    c.inc({ model: 'a"b\\c\nd', code: '200' }, 3);
    h.observe({ model: 'm' }, 0.05);
    h.observe({ model: 'm' }, 0.5);
    h.observe({ model: 'm' }, 5);
    const f = parseExposition(await registry.metrics());
    const req = f.get('modelship_requests_total')!;
    assert.equal(req.type, 'counter');
    assert.equal(req.help, 'Requests\nby code \\ api.');
    assert.deepEqual(req.samples, [{ name: 'modelship_requests_total', labels: { model: 'a"b\\c\nd', code: '200' }, value: 3 }]);
    const dur = f.get('modelship_request_duration_seconds')!;
    assert.equal(dur.type, 'histogram');
    const buckets = dur.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => [s.labels['le'], s.value]);
    assert.deepEqual(buckets, [
      ['0.1', 1],
      ['1', 2],
      ['+Inf', 3],
    ]);
    assert.equal(dur.samples.find((s) => s.name.endsWith('_count'))?.value, 3);
    assert.equal(f.has('modelship_request_duration_seconds_bucket'), false, 'buckets belong to their histogram');
  });

  it("reads NaN and Inf in any case, as Prometheus does (prom-client writes 'Nan')", () => {
    const f = parseExposition(['a Nan', 'b nan', 'c +inf', 'd -Inf', 'e Infinity', ''].join('\n'));
    assert.ok(Number.isNaN(f.get('a')!.samples[0].value) && Number.isNaN(f.get('b')!.samples[0].value));
    assert.deepEqual(
      ['c', 'd', 'e'].map((n) => f.get(n)!.samples[0].value),
      [Infinity, -Infinity, Infinity],
    );
    assert.throws(() => parseExposition('x nann\n'), /'nann' is not a number/);
  });

  it('keeps NaN, ±Inf, timestamps and untyped samples; ignores comments; accepts # EOF', () => {
    const f = parseExposition(['# a comment', 'x NaN', 'y{a="1"} +Inf 1700000000000', 'y{a="2"} -Inf', 'z 1.5e3', '# EOF', ''].join('\n'));
    assert.ok(Number.isNaN(f.get('x')!.samples[0].value));
    assert.equal(f.get('x')!.type, 'untyped');
    assert.deepEqual(f.get('y')!.samples, [
      { name: 'y', labels: { a: '1' }, value: Infinity, timestampMs: 1700000000000 },
      { name: 'y', labels: { a: '2' }, value: -Infinity },
    ]);
    assert.equal(f.get('z')!.samples[0].value, 1500);
  });

  const bad: [string, string, RegExp][] = [
    ['a value that is not a number', 'x 12abc', /line 1: '12abc' is not a number/],
    ['an unknown type', '# TYPE x countr', /unknown TYPE 'countr'/],
    ['a second TYPE', '# TYPE x counter\n# TYPE x gauge', /line 2: a second TYPE/],
    ['TYPE after samples', 'x 1\n# TYPE x counter', /comes after its samples/],
    ['a duplicate label', 'x{a="1",a="2"} 1', /label a appears twice/],
    ['an unquoted label value', 'x{a=1} 1', /must be quoted/],
    ['an unclosed label value', 'x{a="1} 1', /not closed/],
    ['a bad escape', 'x{a="\\t"} 1', /bad escape/],
    ['a repeated series', 'x{a="1"} 1\nx{a="1"} 2', /repeats a series/],
    ['samples of one metric split in two groups', 'x 1\ny 1\nx{a="b"} 2', /not in one group/],
    ['a bucket without le', '# TYPE h histogram\nh_bucket{a="1"} 1', /without an le label/],
    ['no value', 'x{a="1"}', /needs a value/],
    ['content after EOF', 'x 1\n# EOF\ny 2', /after # EOF/],
  ];
  for (const [what, text, re] of bad) {
    it(`refuses ${what}`, () => assert.throws(() => parseExposition(text), re));
  }
});

describe('histogram arithmetic', () => {
  const b = (pairs: [number, number][]) => pairs.map(([le, count]) => ({ le, count }));
  it('histogram_quantile as Prometheus computes it', () => {
    // 100 observations: 50 ≤ 0.1, 90 ≤ 0.25, 100 ≤ 0.5.
    const h = b([
      [0.1, 50],
      [0.25, 90],
      [0.5, 100],
      [Infinity, 100],
    ]);
    assert.equal(histogramQuantile(0.5, h), 0.1);
    assert.ok(Math.abs(histogramQuantile(0.95, h) - 0.375) < 1e-12);
    assert.ok(Math.abs(histogramQuantile(0.25, h) - 0.05) < 1e-12, 'the first bucket interpolates from 0');
    // The rank falls in the +Inf bucket: the upper bound of the second-highest bucket.
    assert.equal(
      histogramQuantile(
        0.99,
        b([
          [0.1, 10],
          [Infinity, 100],
        ]),
      ),
      0.1,
    );
    assert.ok(
      Number.isNaN(
        histogramQuantile(
          0.5,
          b([
            [0.1, 0],
            [Infinity, 0],
          ]),
        ),
      ),
      'no observations',
    );
    assert.ok(Number.isNaN(histogramQuantile(0.5, b([[0.1, 5]]))), 'no +Inf bucket');
    assert.equal(histogramQuantile(-1, h), -Infinity);
    assert.equal(histogramQuantile(2, h), Infinity);
    // Non-monotonic counts are made monotonic first.
    assert.equal(
      histogramQuantile(
        0.5,
        b([
          [0.1, 50],
          [0.25, 40],
          [Infinity, 100],
        ]),
      ),
      0.1,
    );
  });
  it('turns cumulative buckets into bins with the overflow apart', () => {
    assert.deepEqual(
      binCounts(
        b([
          [8, 5],
          [16, 7],
          [24, 7],
          [Infinity, 9],
        ]),
      ),
      { upper: [8, 16, 24], counts: [5, 2, 0], overflow: 2, total: 9 },
    );
  });
});
