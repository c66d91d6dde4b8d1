/**
 * Ground truth into the server: every prediction answers with a request id (X-Request-Id, and the
 * V2 `id`), a client may bring its own, and `:feedback` takes `{"id", "label"}` (or a batch) for
 * it: the labelled input goes to the feedback store, and /metrics counts correct and wrong
 * predictions and the confusion by class, per model and version. Unknown ids say whether they
 * expired (by age or by size) or were never seen.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decodeInput, readStore } from '../../shared/feedback/index.ts';
import { RecentRequests, type RecentEntry } from '../../shared/serve/recent.ts';
import { CLASSES, image, makeHalfPlusThree, makeImageModel, post, sample, serve, tempDir, type Answer } from './helpers.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The predicted class of a :predict answer's row. */
function argmax(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function predicted(a: Answer): number[] {
  return (a.body['predictions'] as number[][]).map(argmax);
}

describe('request ids and feedback', () => {
  it('answers every prediction with a request id, the client’s own when it sends one', async (t) => {
    const dir = await tempDir(t);
    const s = await serve(t, { models: [{ source: await makeImageModel(path.join(dir, 'm')) }], feedbackDir: null });
    const a = await post(`${s.url}/v1/models/fashion:predict`, { instances: [image()] });
    assert.equal(a.status, 200);
    assert.match(a.headers.get('x-request-id') ?? '', UUID);
    assert.deepEqual(Object.keys(a.body), ['predictions'], 'the TF Serving body is unchanged: the id is in the header');
    const b = await post(`${s.url}/v1/models/fashion:predict`, { instances: [image()] });
    assert.notEqual(b.headers.get('x-request-id'), a.headers.get('x-request-id'));

    const own = await post(
      `${s.url}/v1/models/fashion:classify`,
      { examples: [{ x: image().flat(2) }] },
      { 'X-Request-Id': 'order-17/line-2' },
    );
    assert.equal(own.status, 200);
    assert.equal(own.headers.get('x-request-id'), 'order-17/line-2');

    const v2body = { inputs: [{ name: 'input', shape: [1, 8, 8, 1], datatype: 'UINT8', data: image().flat(2) }] };
    const v2 = await post(`${s.url}/v2/models/fashion/infer`, v2body);
    assert.equal(v2.status, 200);
    assert.match(String(v2.body['id']), UUID, 'V2 has an id field: it carries the generated id');
    assert.equal(v2.headers.get('x-request-id'), v2.body['id']);
    const v2own = await post(`${s.url}/v2/models/fashion/infer`, { id: 'r-9', ...v2body }, { 'X-Request-Id': 'header-id' });
    assert.equal(v2own.body['id'], 'r-9', "the body's id wins over the header");
    assert.equal(v2own.headers.get('x-request-id'), 'r-9');

    const bad = await post(`${s.url}/v1/models/fashion:predict`, { instances: [image()] }, { 'X-Request-Id': 'has space' });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body['error']), /X-Request-Id header must be 1 to 256 printable ASCII characters/);
    const failed = await post(`${s.url}/v1/models/fashion:predict`, { instances: [[1]] }, { 'X-Request-Id': 'broken-1' });
    assert.equal(failed.status, 400);
    assert.equal(failed.headers.get('x-request-id'), 'broken-1', 'an error answer carries the id too');
  });

  it('stores labelled predictions, counts correct and wrong per version, and refuses ids it cannot use', async (t) => {
    const dir = await tempDir(t);
    const store = path.join(dir, 'feedback');
    const v1 = await makeImageModel(path.join(dir, 'v1'));
    const v2 = await makeImageModel(path.join(dir, 'v2'), { seed: 5, bias: [0, 0, 4] });
    const s = await serve(t, {
      models: [
        { source: v1, labels: ['stable'] },
        { source: v2, version: 2, labels: ['canary'] },
      ],
      feedbackDir: store,
      cwd: dir,
    });
    const pixels = image((r, c) => (r * 8 + c) * 4);
    const one = await post(`${s.url}/v1/models/fashion/labels/stable:predict`, { instances: [pixels] }, { 'X-Request-Id': 'a-1' });
    const [p1] = predicted(one);
    const wrongLabel = CLASSES[(p1 + 1) % 3];
    const fb = await post(`${s.url}/v1/models/fashion:feedback`, { id: 'a-1', label: wrongLabel });
    assert.equal(fb.status, 200, JSON.stringify(fb.body));
    assert.deepEqual(fb.body, {
      id: 'a-1',
      index: 0,
      result: 'accepted',
      version: '1',
      predicted: CLASSES[p1],
      label: wrongLabel,
      correct: false,
      stored: true,
    });

    // A request of three examples to version 2: feedback names the example by index.
    const three = await post(`${s.url}/v1/models/fashion/versions/2:predict`, { instances: [image(), image(() => 200), image(() => 9)] });
    const id3 = three.headers.get('x-request-id')!;
    const p3 = predicted(three);
    const noIndex = await post(`${s.url}/v1/models/fashion:feedback`, { id: id3, label: 'boot' });
    assert.equal(noIndex.status, 400);
    assert.match(String(noIndex.body['error']), /had 3 examples; say which with "index" \(0\.\.2\)/);
    const batch = await post(`${s.url}/v1/models/fashion:feedback`, {
      examples: [
        { id: id3, index: 0, label: p3[0] },
        { id: id3, index: 2, label: CLASSES[p3[2]] },
        { id: 'nobody-sent-this', label: 'boot' },
        { id: 'a-1', label: 'boot' },
      ],
    });
    assert.equal(batch.status, 200);
    assert.equal(batch.body['accepted'], 2);
    assert.equal(batch.body['rejected'], 2);
    assert.equal(batch.body['errors'], true);
    const results = batch.body['results'] as { result: string; status: number; error?: string; correct?: boolean }[];
    assert.deepEqual(
      results.map((r) => [r.result, r.status]),
      [
        ['accepted', 200],
        ['accepted', 200],
        ['never-seen', 404],
        ['duplicate', 409],
      ],
    );
    assert.ok(results[0].correct && results[1].correct);
    assert.match(results[2].error ?? '', /examples\[2\]: request id 'nobody-sent-this' was never seen by this server \(running since /);
    assert.match(results[3].error ?? '', /already received feedback at .*; a prediction takes feedback once/);

    const unknown = await post(`${s.url}/v1/models/fashion:feedback`, { id: 'never', label: 'boot' });
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.body['error']), /request id 'never' was never seen by this server/);
    const again = await post(`${s.url}/v1/models/fashion:feedback`, { id: 'a-1', label: 'boot' });
    assert.equal(again.status, 409);
    const wrongVersion = await post(`${s.url}/v1/models/fashion/labels/canary:feedback`, { id: id3, index: 1, label: 'boot' });
    assert.equal(wrongVersion.status, 200, 'the canary label is version 2, which predicted it');
    const otherVersion = await post(`${s.url}/v1/models/fashion/versions/1:feedback`, {
      examples: [{ id: three.headers.get('x-request-id')!, index: 1, label: 'boot' }],
    });
    const ov = (otherVersion.body['results'] as { status: number; error: string }[])[0];
    assert.equal(ov.status, 400);
    assert.match(ov.error, /was predicted by version 2, not version 1; send it to \/v1\/models\/fashion:feedback/);
    const badLabel = await post(`${s.url}/v1/models/fashion:feedback`, { examples: [{ id: id3, label: 'hat' }, { label: 'x' }] });
    assert.equal(badLabel.status, 400, 'a malformed entry refuses the whole batch');
    assert.match(String(badLabel.body['error']), /examples\[1\] has neither 'id'/);
    const unknownLabel = await post(`${s.url}/v1/models/fashion:feedback`, { id: 'a-1', label: 'hat' });
    assert.equal(unknownLabel.status, 400);

    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    const v = (name: string, labels: Record<string, string>): number | undefined => sample(metrics, name, { model: 'fashion', ...labels });
    assert.equal(v('modelship_feedback_wrong_total', { version: '1' }), 1);
    assert.equal(v('modelship_feedback_correct_total', { version: '1' }), 0);
    const v2wrong = CLASSES[p3[1]] === 'boot' ? 0 : 1;
    assert.equal(v('modelship_feedback_correct_total', { version: '2' }), 2 + (1 - v2wrong));
    assert.equal(v('modelship_feedback_wrong_total', { version: '2' }), v2wrong);
    assert.equal(v('modelship_feedback_total', { version: '1', label: wrongLabel, predicted: CLASSES[p1] }), 1);
    assert.equal(v('modelship_requests_total', { version: '2', api: 'feedback', code: '409' }), 1);

    // The store holds what was counted: input, prediction, label, version, digest and times.
    const contents = await readStore(store);
    assert.equal(contents.records.length, 4);
    assert.deepEqual(contents.torn, []);
    const r = contents.records.find((x) => x.record.id === 'a-1')!.record;
    assert.equal(r.version, '1');
    assert.equal(r.label, wrongLabel);
    assert.equal(r.predicted, CLASSES[p1]);
    assert.match(r.digest, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(r.input.shape, [8, 8, 1]);
    assert.deepEqual([...decodeInput(r.input)], pixels.flat(2));
    assert.ok(Date.parse(r.time) >= Date.parse(r.predictedAt));
    assert.deepEqual(
      contents.records
        .filter((x) => x.record.id === id3)
        .map((x) => x.record.index)
        .sort(),
      [0, 1, 2],
    );

    // Counts-only feedback (no id) is counted, never stored.
    const legacy = await post(`${s.url}/v1/models/fashion:feedback`, { examples: [{ label: 'boot', predicted: 2 }] });
    assert.equal(legacy.status, 200);
    assert.equal((legacy.body['results'] as { result: string }[])[0].result, 'counted');
    assert.equal((await readStore(store)).records.length, 4);

    const half = await makeHalfPlusThree(path.join(dir, 'half'));
    await s.server.load({ source: half });
    const reg = await post(`${s.url}/v1/models/saved_model_half_plus_three:feedback`, { id: 'a-1', label: 1 });
    assert.equal(reg.status, 400);
    assert.match(String(reg.body['error']), /regression model/);
  });

  it('says an id expired when its input was evicted by age or by size', async (t) => {
    const dir = await tempDir(t);
    // Room for two 8×8 requests (64 bytes of input and ~300 of bookkeeping each), not three.
    const s = await serve(t, {
      models: [{ source: await makeImageModel(path.join(dir, 'm')) }],
      feedbackDir: null,
      feedbackCacheSize: 800,
      feedbackCacheMaxAgeMs: 1000,
    });
    for (const id of ['s1', 's2', 's3']) await post(`${s.url}/v1/models/fashion:predict`, { instances: [image()] }, { 'X-Request-Id': id });
    const evicted = await post(`${s.url}/v1/models/fashion:feedback`, { id: 's1', label: 'boot' });
    assert.equal(evicted.status, 410);
    assert.match(
      String(evicted.body['error']),
      /request id 's1' has expired: its input was evicted to keep the cache within 800 bytes \(--feedback-cache-size\)/,
    );
    const kept = await post(`${s.url}/v1/models/fashion:feedback`, { id: 's3', label: 'boot' });
    assert.equal(kept.status, 200);
    assert.equal(kept.body['stored'], false, 'no store folder: counted only');
    await new Promise((r) => setTimeout(r, 1100));
    const old = await post(`${s.url}/v1/models/fashion:feedback`, { id: 's2', label: 'boot' });
    assert.equal(old.status, 410);
    assert.match(
      String(old.body['error']),
      /request id 's2' has expired: its input was kept for 1 s \(--feedback-cache-max-age\) and it was predicted \d+ s ago/,
    );

    const off = await serve(t, { models: [{ source: path.join(dir, 'm') }], feedbackCacheSize: 0, feedbackDir: null });
    await post(`${off.url}/v1/models/fashion:predict`, { instances: [image()] }, { 'X-Request-Id': 'z' });
    const none = await post(`${off.url}/v1/models/fashion:feedback`, { id: 'z', label: 'boot' });
    assert.equal(none.status, 404);
    assert.match(String(none.body['error']), /keeps no inputs \(--feedback-cache-size 0\)/);
  });
});

describe('the recent-requests cache', () => {
  const entry = (id: string, at: number, bytes = 100): RecentEntry => ({
    id,
    model: 'm',
    version: '1',
    digest: 'sha256:x',
    classes: ['a', 'b'],
    dtype: 'uint8',
    shape: [bytes],
    count: 1,
    x: new Uint8Array(bytes),
    predicted: new Int32Array(1),
    at,
    feedback: new Float64Array(1),
  });

  it('keeps entries within its byte and age bounds, oldest out first, and remembers why one left', () => {
    let now = 1000;
    const c = new RecentRequests({ maxBytes: 1000, maxAgeMs: 60_000, now: () => now });
    c.put(entry('a', now));
    c.put(entry('b', now));
    assert.equal(c.get('a').kind, 'found');
    c.put(entry('big', now, 5000));
    assert.deepEqual(
      c.get('big'),
      { kind: 'expired', by: 'size', predictedAt: 1000, evictedAt: 1000 },
      'an entry larger than the cache is never kept',
    );
    c.put(entry('c', now, 300));
    assert.equal(c.get('a').kind, 'expired', 'the oldest left to make room');
    assert.equal(c.get('b').kind, 'found');
    now += 60_001;
    assert.deepEqual(c.get('b'), { kind: 'expired', by: 'age', predictedAt: 1000, evictedAt: now });
    c.put(entry('a', now));
    assert.equal(c.get('a').kind, 'found', 'a newer request with the same id replaces the tombstone');
    assert.deepEqual(c.get('zz'), { kind: 'never-seen', forgetting: false });
  });

  it('keeps what it was given, byte for byte, through many laps of its ring arena, and marks only entries still held', () => {
    // A seeded mix of sizes and dtypes, replaced ids and lookups: every entry found reads back the
    // input, predictions and feedback times it was given; one that left is expired, never wrong.
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const c = new RecentRequests({ maxBytes: 20_000, maxAgeMs: 60_000, now: () => 1000 });
    const given = new Map<string, { x: Uint8Array | Float32Array; predicted: Int32Array }>();
    let found = 0;
    let stale: RecentEntry | undefined;
    const recent: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const id = `r${Math.floor(rand() * 400)}`;
      const count = 1 + Math.floor(rand() * 3);
      const per = 1 + Math.floor(rand() * 700);
      const float = rand() < 0.5;
      const x = float
        ? Float32Array.from({ length: per * count }, () => rand())
        : Uint8Array.from({ length: per * count }, () => rand() * 256);
      const predicted = Int32Array.from({ length: count }, () => Math.floor(rand() * 10));
      c.put({
        ...entry(id, 1000),
        dtype: float ? 'float32' : 'uint8',
        shape: [per],
        count,
        x,
        predicted,
        feedback: new Float64Array(count),
      });
      given.set(id, { x, predicted });
      if (i === 100) {
        const r = c.get(id);
        assert.equal(r.kind, 'found');
        stale = r.kind === 'found' ? r.entry : undefined;
      }
      recent.push(id);
      const ask =
        rand() < 0.7 ? recent[recent.length - 1 - Math.floor(rand() * Math.min(15, recent.length))] : `r${Math.floor(rand() * 400)}`;
      const r = c.get(ask);
      if (r.kind === 'found') {
        found++;
        const want = given.get(ask)!;
        assert.deepEqual(r.entry.x, want.x, `${ask}'s input`);
        assert.deepEqual(r.entry.predicted, want.predicted);
        assert.ok(r.entry.feedback.every((t) => t === 0 || t === 5));
        c.mark(r.entry, 0, 5);
        assert.equal(c.get(ask).kind === 'found' && (c.get(ask) as { entry: RecentEntry }).entry.feedback[0], 5);
      } else assert.equal(r.kind === 'expired', given.has(ask), `${ask}: expired exactly when it was put and left`);
      assert.ok(c.size().bytes <= 20_000);
    }
    assert.ok(found > 100, `lookups found entries (${found})`);
    // The entry taken at i = 100 is long gone; marking it writes nothing into whatever holds its bytes now.
    const before = [...given.keys()]
      .map((id) => c.get(id))
      .filter((r) => r.kind === 'found')
      .map((r) => [...(r as { entry: RecentEntry }).entry.feedback]);
    c.mark(stale!, 0, 99);
    const after = [...given.keys()]
      .map((id) => c.get(id))
      .filter((r) => r.kind === 'found')
      .map((r) => [...(r as { entry: RecentEntry }).entry.feedback]);
    assert.deepEqual(after, before);
  });

  it('forgets the oldest tombstones past its bound, and then says so', () => {
    const c = new RecentRequests({ maxBytes: 10_000, maxAgeMs: 1, tombstones: 2, now: () => 5 });
    for (const id of ['a', 'b', 'c']) c.put(entry(id, 0));
    c.get('x');
    assert.deepEqual(c.get('a'), { kind: 'never-seen', forgetting: true });
    assert.equal(c.get('c').kind, 'expired');
  });
});
