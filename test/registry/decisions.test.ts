import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfig, isSafeRelative, metricsFromReport } from '../../shared/registry/artifact.ts';
import { backoffMs, describeRefusal, nextLink, parseChallenge } from '../../shared/registry/distribution.ts';
import { planRollback, recordPromotion, type AliasRecord } from '../../shared/registry/oci-registry.ts';
import { githubContextFrom, provenanceOf } from '../../shared/github/index.ts';
import { registerSummary } from '../../shared/report/register.ts';
import { isAliasTag, nextVersion, versionOfTag } from '../../shared/registry/store.ts';
import type { ModelConfig, RegisteredVersion } from '../../shared/registry/types.ts';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const T = (version: number, c: string) => ({ version, digest: d(c) });

describe('version allocation', () => {
  const cases: [string[], number][] = [
    [[], 1],
    [['production', '_alias.production'], 1],
    [['1', '2', 'production'], 3],
    [['1', '10', '9'], 11],
    [['0', '01', '1.5', 'v2', '3'], 4],
  ];
  for (const [tags, want] of cases) it(`${JSON.stringify(tags)} → ${want}`, () => assert.equal(nextVersion(tags), want));
  it('tells versions, aliases and records apart', () => {
    assert.deepEqual(
      ['7', '07', '0', 'production', '_alias.production', 'Latest'].map((t) => [versionOfTag(t), isAliasTag(t)]),
      [
        [7, false],
        [undefined, false],
        [undefined, false],
        [undefined, true],
        [undefined, false],
        [undefined, false],
      ],
    );
  });
});

describe('alias history and rollback', () => {
  const at = '2026-01-01T00:00:00Z';
  it('records each promotion on a stack and rolls back one step at a time', () => {
    let rec: AliasRecord | undefined;
    rec = recordPromotion(rec, 'fashion', 'production', undefined, T(1, 'a'), at);
    rec = recordPromotion(rec, 'fashion', 'production', T(1, 'a'), T(2, 'b'), at);
    rec = recordPromotion(rec, 'fashion', 'production', T(2, 'b'), T(3, 'c'), at);
    assert.deepEqual(
      rec.stack.map((s) => s.version),
      [1, 2, 3],
    );
    assert.equal(rec.log.length, 3);
    const r1 = planRollback(rec, T(3, 'c'), at)!;
    assert.deepEqual(r1.to, T(2, 'b'));
    const r2 = planRollback(r1.record, T(2, 'b'), at)!;
    assert.deepEqual(r2.to, T(1, 'a'));
    assert.equal(planRollback(r2.record, T(1, 'a'), at), undefined);
    assert.equal(r2.record.log.at(-1)?.action, 'rollback');
  });
  it('re-promoting the current target adds nothing to the stack', () => {
    const rec = recordPromotion(recordPromotion(undefined, 'f', 'p', undefined, T(1, 'a'), at), 'f', 'p', T(1, 'a'), T(1, 'a'), at);
    assert.deepEqual(
      rec.stack.map((s) => s.version),
      [1],
    );
  });
  it('trusts the tag when the record missed a move', () => {
    // The record says v1 is current, but the tag was moved to v5 by hand; promoting v6 keeps v5 for rollback.
    const rec = recordPromotion(recordPromotion(undefined, 'f', 'p', undefined, T(1, 'a'), at), 'f', 'p', T(5, 'e'), T(6, 'f'), at);
    assert.deepEqual(
      rec.stack.map((s) => s.version),
      [1, 5, 6],
    );
    assert.deepEqual(planRollback(rec, T(6, 'f'), at)?.to, T(5, 'e'));
    // Rolling back from a target the record does not know returns to the record's top.
    assert.deepEqual(planRollback(rec, T(9, '9'), at)?.to, T(6, 'f'));
    assert.equal(planRollback(undefined, T(1, 'a'), at), undefined);
  });
});

describe('distribution protocol pieces', () => {
  it('parses WWW-Authenticate challenges', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/models/fashion:pull"'), {
      scheme: 'bearer',
      params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:acme/models/fashion:pull' },
    });
    assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
    assert.deepEqual(parseChallenge('Bearer realm=https://x/token, error="insufficient_scope"'), {
      scheme: 'bearer',
      params: { realm: 'https://x/token', error: 'insufficient_scope' },
    });
  });
  it('follows Link rel="next" relative to the request', () => {
    assert.equal(
      nextLink('</v2/a/b/tags/list?last=7&n=2>; rel="next"', 'http://127.0.0.1:5000/v2/a/b/tags/list?n=2'),
      'http://127.0.0.1:5000/v2/a/b/tags/list?last=7&n=2',
    );
    assert.equal(nextLink(null, 'http://x/'), undefined);
    assert.equal(nextLink('<http://x/other>; rel="prev"', 'http://x/'), undefined);
  });
  it('backs off exponentially within bounds', () => {
    const cases: [number, number, number][] = [
      [1, 0, 50],
      [1, 1, 100],
      [3, 1, 400],
      [10, 1, 1000],
      [10, 0, 500],
    ];
    for (const [attempt, rand, want] of cases) assert.equal(backoffMs(attempt, 100, 1000, rand), want, `attempt ${attempt} rand ${rand}`);
  });
  it('says which credential and which scope a registry refused, and what to do', () => {
    const ghcr = describeRefusal({
      host: 'ghcr.io',
      repository: 'acme/models/fashion',
      action: 'push',
      detail: '',
      username: 'octocat',
      hasPassword: true,
    });
    assert.equal(ghcr.message, 'ghcr.io refused the token for repository:acme/models/fashion:push.');
    assert.equal(ghcr.hint, 'Give the workflow `permissions: packages: write` or pass a token with write:packages.');
    const pull = describeRefusal({
      host: 'ghcr.io',
      repository: 'acme/models/fashion',
      action: 'pull',
      detail: 'DENIED: x',
      hasPassword: true,
    });
    assert.equal(pull.message, 'ghcr.io refused the token for repository:acme/models/fashion:pull (DENIED: x).');
    assert.match(pull.hint ?? '', /packages: read/);
    const anon = describeRefusal({ host: 'r.example:5000', repository: 'm/f', action: 'pull', detail: '', hasPassword: false });
    assert.equal(anon.message, 'r.example:5000 refused anonymous access for repository:m/f:pull.');
    assert.match(anon.hint ?? '', /needs credentials/);
  });
});

describe('the version metadata', () => {
  const metadata = {
    kind: 'modelship.model',
    task: 'classification',
    classes: ['a', 'b'],
    inputShape: [2],
    dataset: { digest: d('d'), splits: { test: d('e') } },
    params: { epochs: 3 },
    backend: 'wasm',
    versions: { tfjs: '4.22.0' },
    git: { commit: 'abc' },
    metrics: { valAccuracy: 0.9, epochsRun: 3, bogus: 'x' },
    training: { finishedAt: '2026-02-02T00:00:00.000Z' },
  };
  const now = new Date('2030-01-01T00:00:00Z');
  it('takes metrics from the report when given, else from training', () => {
    const report = {
      passed: true,
      candidate: { metrics: { accuracy: 0.91, f1_macro: 0.9, bad: Number.NaN } },
      baseline: { name: 'fashion', version: 2, digest: d('b') },
    };
    const c = buildConfig({ name: 'fashion', metadata, report, now });
    assert.deepEqual(c.metrics, { accuracy: 0.91, f1_macro: 0.9 });
    assert.equal(c.metricsSource, 'report');
    assert.equal(c.gatePassed, true);
    assert.deepEqual(c.parent, { name: 'fashion', version: 2, digest: d('b') });
    const t = buildConfig({ name: 'fashion', metadata, now });
    assert.deepEqual(t.metrics, { valAccuracy: 0.9, epochsRun: 3 });
    assert.equal(t.metricsSource, 'training');
    assert.equal(t.parent, undefined);
  });
  it('reads metrics from the layouts a report may have', () => {
    assert.deepEqual(metricsFromReport({ metrics: { accuracy: 0.5 } }).metrics, { accuracy: 0.5 });
    assert.deepEqual(metricsFromReport({ metrics: { accuracy: { candidate: 0.7, baseline: 0.6 } } }).metrics, { accuracy: 0.7 });
    assert.deepEqual(metricsFromReport('nonsense').metrics, {});
    // evaluate-gate's report: top-level scalar metrics (null = missing), the baseline identity.
    const gate = metricsFromReport({
      metrics: { accuracy: 0.8, log_loss: null },
      passed: false,
      baseline: { name: 'fashion', source: 'registry', version: 4, digest: d('4') },
    });
    assert.deepEqual(gate, { metrics: { accuracy: 0.8 }, passed: false, baseline: { name: 'fashion', version: 4, digest: d('4') } });
    // A folder baseline is not a registry version: no parent.
    assert.equal(metricsFromReport({ metrics: {}, baseline: { name: 'x', source: 'folder', digest: d('5') } }).baseline, undefined);
  });
  it('is deterministic (made at training time) and records the run it was registered in', () => {
    const env = {
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'acme/ml',
      GITHUB_RUN_ID: '99',
      GITHUB_SHA: 'f00d',
      GITHUB_REF: 'refs/heads/main',
    };
    const provenance = provenanceOf(githubContextFrom(env, {}), undefined);
    const a = buildConfig({ name: 'fashion', metadata, provenance, now });
    const b = buildConfig({ name: 'fashion', metadata, provenance, now: new Date() });
    assert.deepEqual(a, b);
    assert.equal(a.created, '2026-02-02T00:00:00.000Z');
    assert.deepEqual(a.run, { url: 'https://github.com/acme/ml/actions/runs/99', id: '99' });
    assert.deepEqual(a.git, { commit: 'f00d', ref: 'refs/heads/main', repository: 'acme/ml' });
    assert.deepEqual(a.dataset, { digest: d('d'), splits: { test: d('e') } });
  });
});

describe('isSafeRelative (layer file names from a registry are untrusted)', () => {
  const cases: [string, boolean][] = [
    ['model.json', true],
    ['weights/group1-shard1of1.bin', true],
    ['../evil', false],
    ['a/../../evil', false],
    ['/etc/passwd', false],
    ['C:\\x', false],
    ['https://x/y', false],
    ['.hidden', false],
    ['', false],
    ['a//b', false],
  ];
  for (const [p, want] of cases) it(JSON.stringify(p), () => assert.equal(isSafeRelative(p), want));
});

describe('registerSummary', () => {
  const config: ModelConfig = {
    schemaVersion: 1,
    kind: 'modelship.model.config',
    name: 'fashion',
    created: '2026-01-01T00:00:00Z',
    metrics: { accuracy: 0.9187, 'f1_macro|<b>': 0.9 },
    metricsSource: 'report',
    gatePassed: true,
    dataset: { digest: d('3') },
    git: { commit: 'a1b2c3d4e5' },
    run: { url: 'https://github.com/acme/ml/actions/runs/482' },
    parent: { version: 2, digest: d('b') },
  };
  const version: RegisteredVersion = {
    name: 'fashion',
    version: 3,
    digest: d('c'),
    aliases: ['production'],
    ref: `ghcr.io/acme/models/fashion:3@${d('c')}`,
    created: true,
    config,
    layers: [],
    uploadedBytes: 10,
  };
  it('shows the version, the alias moves and the lineage', () => {
    const md = registerSummary({
      version,
      registry: 'ghcr.io/acme/models',
      moves: [
        { name: 'fashion', alias: 'production', from: T(2, 'b'), to: T(3, 'c'), action: 'promote' },
        { name: 'fashion', alias: 'canary', to: T(3, 'c'), action: 'promote' },
      ],
    });
    assert.equal(
      md,
      [
        '### 📦 fashion v3 registered',
        '',
        `\`ghcr.io/acme/models/fashion:3@${d('c')}\``,
        '',
        '| alias | from | to |',
        '| --- | --- | --- |',
        '| `production` | v2 | v3 |',
        '| `canary` | (new) | v3 |',
        '',
        '| metric | value |',
        '| --- | ---: |',
        '| accuracy | 0.9187 |',
        '| f1\\_macro\\|&lt;b&gt; | 0.9000 |',
        '',
        'parent v2 `sha256:bbbbbbbbbbbb…` · data `sha256:333333333333…` · commit `a1b2c3d` · [run](https://github.com/acme/ml/actions/runs/482) · gate ✅ passed',
        '',
      ].join('\n'),
    );
  });
  it('says so when the model was already registered', () => {
    assert.match(
      registerSummary({ version: { ...version, created: false }, registry: 'x', moves: [] }),
      /^### ♻️ fashion v3 was already registered/,
    );
  });
});
