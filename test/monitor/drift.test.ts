/**
 * Drift statistics against SciPy's values (test/fixtures/monitor/make_reference.py →
 * reference.json, committed so CI needs no SciPy), and the rules around them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  chiSquared,
  chiSquaredSurvival,
  DRIFT_EPSILON,
  gammaincc,
  inputDrift,
  jsDistance,
  predictionDrift,
  psi,
} from '../../shared/monitor/index.ts';

interface Case {
  name: string;
  served: number[];
  reference: number[];
  psi: number;
  js: number;
  chi2?: { statistic: number; df: number; p: number };
}
const ref = JSON.parse(readFileSync(new URL('../fixtures/monitor/reference.json', import.meta.url), 'utf8')) as {
  epsilon: number;
  cases: Case[];
  chi2_survival: { x: number; df: number; p: number }[];
  gammaincc: { a: number; x: number; q: number }[];
};

function close(actual: number, expected: number, rel: number, what: string): void {
  const tol = Math.max(rel * Math.abs(expected), 1e-15);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs SciPy ${expected} (tolerance ${tol})`);
}

describe('drift statistics against SciPy', () => {
  it('uses the epsilon the script used', () => {
    assert.equal(DRIFT_EPSILON, ref.epsilon);
  });
  for (const c of ref.cases) {
    it(`${c.name}: PSI, Jensen–Shannon distance${c.chi2 ? ', chi-squared' : ''}`, () => {
      close(psi(c.served, c.reference), c.psi, 1e-9, 'psi');
      if (c.js === 0) assert.ok(Math.abs(jsDistance(c.served, c.reference)) < 1e-7);
      else close(jsDistance(c.served, c.reference), c.js, 1e-7, 'js');
      const x = chiSquared(c.served, c.reference);
      if (c.chi2) {
        assert.ok(x.ok, `chi-squared should be computed: ${x.ok ? '' : x.reason}`);
        close(x.statistic, c.chi2.statistic, 1e-9, 'chi2 statistic');
        assert.equal(x.df, c.chi2.df);
        if (c.chi2.p === 0) assert.ok(x.pValue < 1e-300);
        else close(x.pValue, c.chi2.p, 1e-7, 'chi2 p');
      }
    });
  }
  it('chi-squared survival and the incomplete gamma function', () => {
    for (const s of ref.chi2_survival) close(chiSquaredSurvival(s.x, s.df), s.p, 1e-8, `chi2.sf(${s.x}, ${s.df})`);
    for (const g of ref.gammaincc) close(gammaincc(g.a, g.x), g.q, 1e-9, `gammaincc(${g.a}, ${g.x})`);
  });
});

describe('drift decisions', () => {
  const reference = { classes: ['a', 'b', 'c'], distribution: [0.5, 0.3, 0.2] };
  it('is no data below the minimum count, for every score', () => {
    const d = predictionDrift({ a: 40, b: 30, c: 20 }, reference, 100);
    assert.equal(d.count, 90);
    assert.equal(d.psi.ok, false);
    assert.equal(d.js.ok, false);
    assert.equal(d.chi2.ok, false);
    assert.match(d.psi.ok ? '' : d.psi.reason, /90 predictions in the window; at least 100/);
  });
  it('gives a served class the reference never saw a bin of its own (chi-squared infinite)', () => {
    const d = predictionDrift({ a: 500, b: 300, c: 150, z: 50 }, reference, 100);
    assert.deepEqual(d.classes, ['a', 'b', 'c', 'z']);
    assert.deepEqual(d.reference, [0.5, 0.3, 0.2, 0]);
    assert.ok(d.psi.ok && d.psi.value > 0.2, 'an unknown class is a large PSI');
    assert.ok(d.chi2.ok && d.chi2.statistic === Infinity && d.chi2.pValue === 0);
  });
  it('refuses chi-squared when an expected count is below 5 (Cochran)', () => {
    const x = chiSquared([9, 1, 0], [0.9, 0.07, 0.03]);
    assert.equal(x.ok, false);
    assert.match(x.ok ? '' : x.reason, /2 classes have an expected count below 5/);
  });
  it('input drift compares bins one for one, and needs the minimum count of examples', () => {
    const r = { edges: [0, 64, 128, 192, 256], counts: [700, 100, 100, 100] };
    const same = inputDrift([7000, 1000, 1000, 1000], r, 500, 100);
    assert.ok(same.psi.ok && same.psi.value < 1e-12);
    const inverted = inputDrift([1000, 1000, 1000, 7000], r, 500, 100);
    assert.ok(inverted.psi.ok && inverted.psi.value > 1);
    assert.ok(inverted.js.ok && inverted.js.value > 0.4);
    assert.equal(inputDrift([7000, 1000, 1000, 1000], r, 50, 100).psi.ok, false);
    assert.throws(() => inputDrift([1, 2], r, 500, 100), /bins/);
  });
  it('rejects distributions that are not distributions', () => {
    assert.throws(() => psi([1, 2], [1]), /same/);
    assert.throws(() => psi([1, NaN], [1, 1]), /finite/);
    assert.throws(() => jsDistance([1, -1], [1, 1]), /finite and ≥ 0/);
  });
});
