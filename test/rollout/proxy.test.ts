/**
 * The local target's proxy routes feedback to the server that made the prediction: the splitting
 * and merging as pure functions, then through a real proxy in front of two stand-in backends that
 * each know only the request ids they answered (as modelship serve's recent-input cache does).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { mergeFeedbackAnswers, splitFeedback, startProxy, type RunningProxy } from '../../shared/rollout/proxy.ts';

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
