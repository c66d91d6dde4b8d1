/**
 * Versions and labels at run time, under load: a steady load with zero errors while a new version
 * loads, `canary` and `stable` move and the old version unloads. The admin API's guards, fault
 * injection (real 500s and latency, counted in the metrics), the bounded queue (503), and SIGTERM
 * on the CLI process: readiness false first, requests in flight finish, exit 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { call, image, makeImageModel, post, sample, serve, tempDir } from './helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
/** Output biases that make version 1 say "boot" and version 2 say "shirt" for any input. */
const BOOT = [6, 0, 0];
const SHIRT = [0, 0, 6];

function argmax(row: number[]): number {
  return row.indexOf(Math.max(...row));
}

describe('versions, labels and faults at run time', () => {
  it('holds a steady load with zero errors while a version loads, labels move and the old version unloads', async (t) => {
    const dir = await tempDir(t);
    const v1 = await makeImageModel(path.join(dir, 'v1'), { bias: BOOT });
    const v2 = await makeImageModel(path.join(dir, 'v2'), { seed: 5, bias: SHIRT });
    const s = await serve(t, { models: [{ source: v1, labels: ['stable', 'canary'] }], adminPort: 0, maxBatchSize: 8 });
    const admin = s.info.adminUrl!;
    assert.match(admin, /^http:\/\/127\.0\.0\.1:\d+$/);

    const statuses = new Map<number, number>();
    const canaryAnswers: { at: number; cls: number }[] = [];
    let stop = false;
    const client = async (target: string): Promise<void> => {
      const body = JSON.stringify({ instances: [image(), image((r, c) => r * c)] });
      while (!stop) {
        const r = await post(`${s.url}/v1/models/fashion${target}:predict`, body);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 200 && target === '/labels/canary') {
          canaryAnswers.push({ at: performance.now(), cls: argmax((r.body['predictions'] as number[][])[0]) });
        }
      }
    };
    const clients = ['/labels/canary', '/labels/stable', '', '/labels/canary', '/labels/stable', ''].map((x) => client(x));
    try {
      await sleep(300);
      const loaded = await post(`${admin}/admin/models`, { source: v2, version: 2 });
      assert.equal(loaded.status, 201, JSON.stringify(loaded.body));
      await sleep(200);
      const moved = await call(`${admin}/admin/models/fashion/labels/canary`, { method: 'PUT', body: '{"version": 2}' });
      assert.deepEqual(moved.body, { model: 'fashion', label: 'canary', from: 1, to: 2 });
      const movedAt = performance.now();
      await sleep(300);
      const refused = await call(`${admin}/admin/models/fashion/versions/1`, { method: 'DELETE' });
      assert.equal(refused.status, 409, 'a labelled version is not unloaded');
      assert.match(String(refused.body['error']), /labelled stable/);
      await call(`${admin}/admin/models/fashion/labels/stable`, { method: 'PUT', body: '{"version": "2"}' });
      const unloaded = await call(`${admin}/admin/models/fashion/versions/1`, { method: 'DELETE' });
      assert.equal(unloaded.status, 200, JSON.stringify(unloaded.body));
      await sleep(300);
      stop = true;
      await Promise.all(clients);
      assert.deepEqual([...statuses.keys()], [200], `every request answered 200: ${JSON.stringify([...statuses])}`);
      assert.ok(statuses.get(200)! > 30, `${statuses.get(200)} requests in the window`);
      const before = canaryAnswers.filter((a) => a.at < movedAt - 50);
      const after = canaryAnswers.filter((a) => a.at > movedAt + 50);
      assert.ok(before.length > 0 && after.length > 0);
      assert.ok(
        before.every((a) => a.cls === 0),
        'canary answered with version 1 (boot) before the move',
      );
      assert.ok(
        after.every((a) => a.cls === 2),
        'canary answered with version 2 (shirt) after the move',
      );
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    const models = (await call(`${admin}/admin/models`)).body['models'] as { version: number; labels: string[] }[];
    assert.deepEqual(
      models.map((m) => [m.version, m.labels]),
      [[2, ['canary', 'stable']]],
    );
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.ok((sample(text, 'modelship_requests_total', { model: 'fashion', version: '2', api: 'predict', code: '200' }) ?? 0) > 0);
    assert.equal(sample(text, 'modelship_label_info', { model: 'fashion', label: 'canary', version: '2' }), 1);
    assert.equal(sample(text, 'modelship_label_info', { model: 'fashion', label: 'canary', version: '1' }), undefined);
    assert.equal(
      sample(text, 'modelship_model_info', { model: 'fashion', version: '1' }),
      undefined,
      'the unloaded version has no info series',
    );
  });

  it('injects real faults (500s at a rate, added latency) only when allowed, and counts them', async (t) => {
    const dir = await tempDir(t);
    const v1 = await makeImageModel(path.join(dir, 'v1'));
    const locked = await serve(t, { models: [{ source: v1 }], adminPort: 0 });
    const no = await call(`${locked.info.adminUrl!}/admin/faults`, { method: 'PUT', body: '{"model": "fashion", "errorRate": 1}' });
    assert.equal(no.status, 403);

    const s = await serve(t, {
      models: [{ source: v1 }],
      adminPort: 0,
      allowFaultInjection: true,
      adminToken: 'a-long-enough-admin-token',
    });
    const admin = s.info.adminUrl!;
    const auth = { Authorization: 'Bearer a-long-enough-admin-token' };
    assert.equal((await call(`${admin}/admin/faults`)).status, 401, 'the admin API wants the token');
    const set = await call(`${admin}/admin/faults`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ model: 'fashion', version: '1', errorRate: 0.5 }),
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const codes: number[] = [];
    for (let i = 0; i < 10; i++) codes.push((await post(`${s.url}/v1/models/fashion:predict`, { instances: [image()] })).status);
    assert.deepEqual(codes.filter((c) => c === 500).length, 5, `half of the requests fail: ${codes.join(',')}`);
    const failed = await post(`${s.url}/v2/models/fashion/infer`, {
      inputs: [{ name: 'input', shape: [1, 8, 8, 1], datatype: 'UINT8', data: image().flat(2) }],
    });
    const second = await post(`${s.url}/v2/models/fashion/infer`, {
      inputs: [{ name: 'input', shape: [1, 8, 8, 1], datatype: 'UINT8', data: image().flat(2) }],
    });
    assert.deepEqual([failed.status, second.status].sort(), [200, 500]);
    assert.match(String((failed.status === 500 ? failed : second).body['error']), /Injected fault/);
    let text = await (await fetch(`${s.url}/metrics`)).text();
    assert.equal(sample(text, 'modelship_requests_total', { model: 'fashion', version: '1', api: 'predict', code: '500' }), 5);
    assert.equal(sample(text, 'modelship_requests_total', { model: 'fashion', version: '1', api: 'predict', code: '200' }), 5);

    await call(`${admin}/admin/faults`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ model: 'fashion', errorRate: 0, latencyMs: 250 }),
    });
    const t0 = performance.now();
    const slow = await post(`${s.url}/v1/models/fashion:predict`, { instances: [image()] });
    assert.equal(slow.status, 200);
    assert.ok(performance.now() - t0 >= 250, 'the added latency is real');
    text = await (await fetch(`${s.url}/metrics`)).text();
    assert.equal(
      sample(text, 'modelship_request_duration_seconds_bucket', { model: 'fashion', version: '1', le: '0.25' }),
      sample(text, 'modelship_request_duration_seconds_bucket', { model: 'fashion', version: '1', le: '0.5' })! - 1,
      'the slow request is in the latency histogram above 0.25 s',
    );
    const cleared = await call(`${admin}/admin/faults`, { method: 'DELETE', headers: auth });
    assert.deepEqual(cleared.body, { faults: [{ model: 'fashion', version: '1', latencyMs: 0, errorRate: 0 }] });

    const flagged = await serve(t, { models: [{ source: v1 }], allowFaultInjection: true, injectErrorRate: 1 });
    assert.equal((await post(`${flagged.url}/v1/models/fashion:predict`, { instances: [image()] })).status, 500);
  });

  it('answers 503 at once when the batching queue is full', async (t) => {
    const dir = await tempDir(t);
    const v1 = await makeImageModel(path.join(dir, 'v1'));
    // One batch of at most 4 examples may wait, for up to 10 s unless it fills.
    const s = await serve(t, { models: [{ source: v1 }], maxBatchSize: 4, maxEnqueuedBatches: 1, batchTimeoutMicros: 10_000_000 });
    const url = `${s.url}/v1/models/fashion:predict`;
    const waiting = post(url, { instances: [image(), image(), image()] });
    await sleep(100);
    const full = await post(url, { instances: [image(), image()] });
    assert.equal(full.status, 503);
    assert.equal(full.headers.get('retry-after'), '1');
    assert.match(String(full.body['error']), /batch scheduling queue .* is full/);
    const huge = await post(url, { instances: [image(), image(), image(), image(), image()] });
    assert.equal(huge.status, 400, 'a request larger than the whole queue is a 400, not a 503 to retry');
    assert.match(String(huge.body['error']), /Task size 5 is larger than the batching queue holds \(1 batches of 4 examples = 4\)/);
    const filler = await post(url, { instances: [image()] });
    assert.equal(filler.status, 200, 'one more example fills the batch, which then runs');
    assert.equal((await waiting).status, 200);
  });

  it('on SIGTERM turns readiness false, finishes the requests in flight and exits 0', async (t) => {
    const dir = await tempDir(t);
    const v1 = await makeImageModel(path.join(dir, 'v1'));
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'shared', 'cli', 'main.ts'),
        'serve',
        '--model',
        v1,
        '--port',
        '0',
        '--allow-fault-injection',
        '--inject-latency-ms',
        '700',
        '--shutdown-delay-ms',
        '400',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.after(() => child.kill('SIGKILL'));
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      void exited.then(() => reject(new Error(`the server exited early:\n${err}`)));
    });
    const url = /url=(\S+)/.exec(line)![1];
    assert.equal((await call(`${url}/v2/health/ready`)).status, 200);
    const inFlight = [1, 2, 3].map(() => post(`${url}/v1/models/fashion:predict`, { instances: [image()] }));
    await sleep(150);
    child.kill('SIGTERM');
    await sleep(100);
    const during = await call(`${url}/v2/health/ready`);
    assert.equal(during.status, 503, 'readiness is false as soon as SIGTERM arrives');
    assert.deepEqual(during.body, { ready: false });
    const answers = await Promise.all(inFlight);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200],
      'the requests in flight finish',
    );
    assert.equal(await exited, 0, err);
    assert.match(err, /SIGTERM: readiness is false/);
  });
});
