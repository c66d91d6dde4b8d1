/**
 * The local target's proxy: the choice of a backend (weights, sessions) and the feedback routing
 * (to the server that made the prediction) as pure functions, then through a real proxy in front
 * of two stand-in backends that each know only the request ids they answered (as modelship
 * serve's recent-input cache does): feedback routing, its own /metrics, and its admin API.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  SESSION_HEADER,
  chooseBackend,
  mergeFeedbackAnswers,
  splitFeedback,
  startProxy,
  type Backend,
  type RunningProxy,
} from '../../shared/rollout/proxy.ts';

const stable = (weight: number): Backend => ({ role: 'stable', url: 'http://127.0.0.1:1', version: '1', weight });
const canary = (weight: number): Backend => ({ role: 'canary', url: 'http://127.0.0.1:2', version: '2', weight });
const noDraw = (): number => {
  throw new Error('a session is not drawn at random');
};

describe('chooseBackend', () => {
  const cases: { name: string; backends: Backend[]; draw: number; want: string | undefined }[] = [
    { name: 'no backends: none', backends: [], draw: 0, want: undefined },
    { name: 'every weight zero: none', backends: [stable(0), canary(0)], draw: 0, want: undefined },
    { name: 'one backend at 100 takes the lowest draw', backends: [stable(100)], draw: 0, want: 'stable' },
    { name: 'one backend at 100 takes the highest draw', backends: [stable(100)], draw: 99, want: 'stable' },
    { name: '90/10: draw 0 is stable', backends: [stable(90), canary(10)], draw: 0, want: 'stable' },
    { name: '90/10: draw 89 is stable', backends: [stable(90), canary(10)], draw: 89, want: 'stable' },
    { name: '90/10: draw 90 is the canary', backends: [stable(90), canary(10)], draw: 90, want: 'canary' },
    { name: '90/10: draw 99 is the canary', backends: [stable(90), canary(10)], draw: 99, want: 'canary' },
    { name: 'a zero weight first is skipped (draw 0)', backends: [stable(0), canary(100)], draw: 0, want: 'canary' },
    { name: 'a zero weight last is never reached (draw 99)', backends: [stable(100), canary(0)], draw: 99, want: 'stable' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(chooseBackend(c.backends, undefined, () => c.draw)?.role, c.want);
    });
  }

  const sessions = Array.from({ length: 400 }, (_, i) => `session-${i}`);
  const roleOf = (backends: Backend[], s: string): string | undefined => chooseBackend(backends, s, noDraw)?.role;

  it('a session goes to the same backend every time while the weights stay, without a draw', () => {
    const split = [stable(50), canary(50)];
    for (const s of sessions) {
      const first = roleOf(split, s);
      for (let i = 0; i < 3; i++) assert.equal(roleOf(split, s), first, s);
    }
    const onCanary = sessions.filter((s) => roleOf(split, s) === 'canary').length;
    assert.ok(onCanary > 100 && onCanary < 300, `sessions spread over both backends (${onCanary} of 400 on the canary)`);
  });

  it('a session on the canary stays there as its weight grows (10 → 50 → 100)', () => {
    const at = (w: number): Backend[] => [stable(100 - w), canary(w)];
    const at10 = sessions.filter((s) => roleOf(at(10), s) === 'canary');
    assert.ok(at10.length > 0, 'some sessions are on the canary at 10%');
    for (const s of at10) assert.equal(roleOf(at(50), s), 'canary', s);
    for (const s of sessions) assert.equal(roleOf(at(100), s), 'canary', s);
  });

  it('the weights decide where sessions go: at 0% none reach the canary', () => {
    for (const s of sessions) assert.equal(roleOf([stable(100), canary(0)], s), 'stable', s);
  });
});

describe('splitFeedback', () => {
  const known: Record<string, string> = { a1: 'A', a2: 'A', b1: 'B' };
  const of = (id: string): string | undefined => known[id];
  const cases: { name: string; doc: unknown; want: { backend: string | undefined; positions: number[] }[]; whole?: boolean }[] = [
    { name: 'one entry, known id', doc: { id: 'b1', label: 'Shirt' }, want: [{ backend: 'B', positions: [0] }], whole: true },
    { name: 'one entry, unknown id', doc: { id: 'zz', label: 'Shirt' }, want: [{ backend: undefined, positions: [0] }], whole: true },
    {
      name: 'a batch answered by one backend',
      doc: {
        examples: [
          { id: 'a1', label: 1 },
          { id: 'a2', label: 2 },
        ],
      },
      want: [{ backend: 'A', positions: [0, 1] }],
      whole: true,
    },
    {
      name: 'a batch over two backends and an unknown id',
      doc: {
        examples: [
          { id: 'a1', label: 1 },
          { id: 'b1', label: 2 },
          { id: 'zz', label: 3 },
          { id: 'a2', label: 4 },
        ],
      },
      want: [
        { backend: 'A', positions: [0, 3] },
        { backend: 'B', positions: [1] },
        { backend: undefined, positions: [2] },
      ],
    },
    {
      name: 'counts-only entries go with the unknown group',
      doc: {
        examples: [
          { label: 'Shirt', predicted: 6 },
          { id: 'b1', label: 2 },
        ],
      },
      want: [
        { backend: undefined, positions: [0] },
        { backend: 'B', positions: [1] },
      ],
    },
    { name: 'a body of another shape', doc: [1, 2], want: [{ backend: undefined, positions: [0] }], whole: true },
    {
      name: 'a batch with other keys is sent whole (the server refuses it)',
      doc: { examples: [{ id: 'a1', label: 1 }], extra: 1 },
      want: [{ backend: undefined, positions: [0] }],
      whole: true,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = splitFeedback(c.doc, of);
      assert.deepEqual(
        got.map(({ backend, positions }) => ({ backend, positions: [...positions] })),
        c.want,
      );
      if (c.whole) assert.equal(got[0].body, c.doc, 'one group: the body as it came');
      else
        for (const g of got)
          assert.deepEqual(
            (g.body as { examples: unknown[] }).examples,
            g.positions.map((p) => (c.doc as { examples: unknown[] }).examples[p]),
          );
    });
  }
});

describe('mergeFeedbackAnswers', () => {
  it('puts each part’s results back at their positions and adds up the counts', () => {
    const merged = mergeFeedbackAnswers(4, [
      { positions: [0, 3], answer: { accepted: 2, rejected: 0, stored: true, results: ['r0', 'r3'] } },
      { positions: [1, 2], answer: { accepted: 1, rejected: 1, stored: true, results: ['r1', 'r2'] } },
    ]);
    assert.deepEqual(merged, { accepted: 3, rejected: 1, errors: true, stored: true, results: ['r0', 'r1', 'r2', 'r3'] });
  });
  it('is stored only when every part was', () => {
    const merged = mergeFeedbackAnswers(2, [
      { positions: [0], answer: { accepted: 1, rejected: 0, stored: true, results: ['a'] } },
      { positions: [1], answer: { accepted: 1, rejected: 0, stored: false, results: ['b'] } },
    ]);
    assert.equal(merged.stored, false);
    assert.equal(merged.errors, false);
  });
});

/** A backend that answers predictions with new ids and takes feedback only for ids it answered. */
async function standIn(name: string): Promise<{ url: string; close: () => Promise<void>; got: string[] }> {
  const seen = new Set<string>();
  const got: string[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.url?.endsWith(':predict')) {
        const id = `${name}-${++n}`;
        seen.add(id);
        res.setHeader('x-request-id', id);
        res.end(JSON.stringify({ predictions: [[1]] }));
        return;
      }
      const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: string; examples?: { id: string }[] };
      const entries = doc.examples ?? [doc as { id: string }];
      const results = entries.map((e) => {
        if (!seen.has(e.id)) return { id: e.id, status: 404, result: 'never-seen' };
        got.push(e.id);
        return { id: e.id, status: 200, result: 'accepted', server: name };
      });
      if (!doc.examples) {
        res.statusCode = results[0].status;
        res.end(JSON.stringify(results[0].status === 200 ? results[0] : { error: `request id '${doc.id}' was never seen by ${name}` }));
        return;
      }
      const accepted = results.filter((r) => r.status === 200).length;
      res.end(JSON.stringify({ accepted, rejected: results.length - accepted, errors: accepted < results.length, stored: true, results }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    got,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('the proxy routes feedback to the backend that answered', () => {
  let a: Awaited<ReturnType<typeof standIn>>;
  let b: Awaited<ReturnType<typeof standIn>>;
  let proxy: RunningProxy;
  before(async () => {
    [a, b] = await Promise.all([standIn('stable'), standIn('canary')]);
    proxy = await startProxy({
      host: '127.0.0.1',
      port: 0,
      adminPort: 0,
      backends: [
        { role: 'stable', url: a.url, version: '1', weight: 50 },
        { role: 'canary', url: b.url, version: '2', weight: 50 },
      ],
    });
  });
  after(async () => {
    await proxy?.close();
    await Promise.all([a?.close(), b?.close()]);
  });

  it('single entries and a batch split over both backends are all accepted, in order', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await fetch(`${proxy.url}/v1/models/fashion:predict`, { method: 'POST', body: '{"instances":[[0]]}' });
      await r.arrayBuffer();
      ids.push(r.headers.get('x-request-id')!);
    }
    assert.ok(ids.some((id) => id.startsWith('stable')) && ids.some((id) => id.startsWith('canary')), 'both backends answered');
    // One at a time: each reaches its own backend.
    for (const id of ids.slice(0, 10)) {
      const r = await fetch(`${proxy.url}/v1/models/fashion:feedback`, { method: 'POST', body: JSON.stringify({ id, label: 'Shirt' }) });
      assert.equal(r.status, 200, await r.clone().text());
      assert.equal(((await r.json()) as { server: string }).server, id.split('-')[0]);
    }
    // The rest as one batch: split, answered by both, merged in the batch's order.
    const rest = ids.slice(10);
    const r = await fetch(`${proxy.url}/v1/models/fashion:feedback`, {
      method: 'POST',
      body: JSON.stringify({ examples: rest.map((id) => ({ id, label: 'Shirt' })) }),
    });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { accepted: number; rejected: number; errors: boolean; results: { id: string; server: string }[] };
    assert.equal(body.accepted, rest.length);
    assert.equal(body.rejected, 0);
    assert.equal(body.errors, false);
    assert.deepEqual(
      body.results.map((x) => x.id),
      rest,
    );
    for (const x of body.results) assert.equal(x.server, x.id.split('-')[0]);
    assert.deepEqual([...a.got, ...b.got].sort(), [...ids].sort(), 'every id reached the backend that answered it, once');
  });

  it('an id the proxy never routed goes to a backend by weight, which says it never saw it', async () => {
    const r = await fetch(`${proxy.url}/v1/models/fashion:feedback`, { method: 'POST', body: JSON.stringify({ id: 'nobody', label: 1 }) });
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { error: string }).error, /never seen/);
  });
});

/** modelship_proxy_requests_total by role, version and code, from the proxy's own /metrics. */
async function proxyCounts(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^modelship_proxy_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    counts[`${labels['role']} v${labels['version']} ${labels['code']}`] = Number(m[2]);
  }
  return counts;
}

describe('a real proxy: its own /metrics and its admin API', () => {
  let a: Awaited<ReturnType<typeof standIn>>;
  let b: Awaited<ReturnType<typeof standIn>>;
  let proxy: RunningProxy;
  const routes = (): Backend[] => [
    { role: 'stable', url: a.url, version: '1', weight: 70 },
    { role: 'canary', url: b.url, version: '2', weight: 30 },
  ];
  const put = (body: unknown): Promise<Response> =>
    fetch(`${proxy.adminUrl}/routes`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  before(async () => {
    [a, b] = await Promise.all([standIn('stable'), standIn('canary')]);
    proxy = await startProxy({ host: '127.0.0.1', port: 0, adminPort: 0 });
  });
  after(async () => {
    await proxy?.close();
    await Promise.all([a?.close(), b?.close()]);
  });

  it('routes set through PUT /routes are served, and /metrics counts each request by role and version', async () => {
    const r = await put({ backends: routes() });
    assert.equal(r.status, 200, await r.clone().text());
    assert.deepEqual(((await r.json()) as { backends: Backend[] }).backends, routes());
    assert.deepEqual(proxy.routes(), routes());
    const seen: Record<string, number> = {};
    for (let i = 0; i < 60; i++) {
      const res = await fetch(`${proxy.url}/v1/models/fashion:predict`, { method: 'POST', body: '{"instances":[[0]]}' });
      await res.arrayBuffer();
      assert.equal(res.status, 200);
      const key = `${res.headers.get('x-modelship-backend')} v${res.headers.get('x-modelship-version')} 200`;
      seen[key] = (seen[key] ?? 0) + 1;
    }
    assert.ok((seen['stable v1 200'] ?? 0) > 0 && (seen['canary v2 200'] ?? 0) > 0, JSON.stringify(seen));
    assert.deepEqual(await proxyCounts(proxy.url), seen);
    // Sticky by session: every request of one session reaches one backend.
    const bySession = new Set<string | null>();
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${proxy.url}/v1/models/fashion:predict`, {
        method: 'POST',
        body: '{"instances":[[0]]}',
        headers: { [SESSION_HEADER]: 'user-42' },
      });
      await res.arrayBuffer();
      bySession.add(res.headers.get('x-modelship-backend'));
    }
    assert.equal(bySession.size, 1, [...bySession].join(', '));
  });

  const refused: { name: string; body: unknown; error: RegExp }[] = [
    {
      name: 'weights that add up to 90',
      body: { backends: [stable(60), canary(30)] },
      error: /the weights add up to 90, not 100/,
    },
    {
      name: 'weights that add up to 110',
      body: { backends: [stable(80), canary(30)] },
      error: /the weights add up to 110, not 100/,
    },
    { name: 'a negative weight', body: { backends: [stable(110), canary(-10)] }, error: /routes: / },
    { name: 'a url that is not one', body: { backends: [{ ...stable(100), url: 'not a url' }] }, error: /routes: / },
    { name: 'an unknown field', body: { backends: [{ ...stable(100), extra: 1 }] }, error: /routes: / },
    { name: 'no backends key', body: {}, error: /routes: / },
  ];
  for (const c of refused) {
    it(`PUT /routes with ${c.name} is refused with 400, and the routes stay`, async () => {
      const before = proxy.routes();
      const r = await put(c.body);
      assert.equal(r.status, 400);
      assert.match(((await r.json()) as { error: string }).error, c.error);
      assert.deepEqual(proxy.routes(), before);
      const got = (await (await fetch(`${proxy.adminUrl}/routes`)).json()) as { backends: Backend[] };
      assert.deepEqual(got.backends, before);
    });
  }

  it('PUT /routes with no backends is taken: requests get 503 and /healthz says not serving', async () => {
    const r = await put({ backends: [] });
    assert.equal(r.status, 200);
    const res = await fetch(`${proxy.url}/v1/models/fashion:predict`, { method: 'POST', body: '{"instances":[[0]]}' });
    assert.equal(res.status, 503);
    assert.match(((await res.json()) as { error: string }).error, /no backend is serving/);
    assert.equal((await fetch(`${proxy.url}/healthz`)).status, 503);
    assert.equal((await put({ backends: routes() })).status, 200);
    assert.equal((await fetch(`${proxy.url}/healthz`)).status, 200);
  });
});
