/**
 * Bad input and faults: each gets a clear answer, and a valid request right after it still
 * succeeds. Oversized and compressed bodies, deep JSON, wrong shapes and dtypes, ragged rows,
 * NaN, broken images; corrupt models (a bad weight file, a digest mismatch in the registry) fail
 * their load naming the file while the loaded models keep serving.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { openRegistry } from '../../shared/registry/index.ts';
import { startServer } from '../../shared/serve/index.ts';
import { silentLogger } from '../../shared/util/log.ts';
import { call, image, makeImageModel, post, serve, tempDir, type TestServer } from './helpers.ts';

async function valid(s: TestServer): Promise<void> {
  const r = await post(`${s.url}/v1/models/fashion:predict`, { instances: [image()] });
  assert.equal(r.status, 200, `a valid request after the bad one: ${JSON.stringify(r.body)}`);
  const rows = r.body['predictions'] as number[][];
  assert.equal(rows[0].length, 3);
  assert.ok(Math.abs(rows[0].reduce((a, b) => a + b, 0) - 1) < 1e-4);
}

/** Sends headers that announce `declared` bytes, writes `first` bytes, and resolves with the status that comes back. */
function announceLarge(url: string, declared: number, first: number): Promise<{ status: number; sentBeforeAnswer: number }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    let sent = 0;
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'Content-Length': declared } },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, sentBeforeAnswer: sent });
        req.destroy();
      },
    );
    req.on('error', (err) => {
      if (sent === 0) reject(err);
    });
    req.write(Buffer.alloc(first, 0x20));
    sent += first;
  });
}

describe('bad input and faults', () => {
  it('answers each malformed request clearly and keeps serving', async (t) => {
    const dir = await tempDir(t);
    const model = await makeImageModel(path.join(dir, 'fashion'));
    const s = await serve(t, { models: [{ source: model }], maxBodyBytes: 16 * 1024 * 1024 });
    const predict = `${s.url}/v1/models/fashion:predict`;
    await valid(s);

    await t.test('a body over the limit is refused (413) before it is read', async () => {
      const r = await announceLarge(predict, 100 * 1024 * 1024, 4096);
      assert.equal(r.status, 413);
      assert.equal(r.sentBeforeAnswer, 4096, 'the answer came after 4 KiB of an announced 100 MiB');
      await valid(s);
    });

    await t.test('a client that sends Expect: 100-continue for a body over the limit gets 413 and no invitation', async () => {
      const u = new URL(predict);
      const got = await new Promise<{ status: number; invited: boolean }>((resolve, reject) => {
        let invited = false;
        const req = request(
          {
            host: u.hostname,
            port: u.port,
            path: u.pathname,
            method: 'POST',
            headers: { 'Content-Length': 100 * 1024 * 1024, Expect: '100-continue' },
          },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, invited });
            req.destroy();
          },
        );
        req.on('continue', () => (invited = true));
        req.on('error', reject);
        req.flushHeaders();
      });
      assert.deepEqual(got, { status: 413, invited: false });
      await valid(s);
    });

    await t.test('a chunked body is counted as it arrives and refused at the limit', async () => {
      const stream = new ReadableStream({
        start(c) {
          for (let i = 0; i < 24; i++) c.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
          c.close();
        },
      });
      const r = await call(predict, { method: 'POST', body: stream, duplex: 'half' });
      assert.equal(r.status, 413);
      assert.match(String(r.body['error']), /larger than the server's limit of 16777216 bytes/);
      await valid(s);
    });

    await t.test('a 10 MB gzip bomb that expands to 10 GB is refused (413) with memory flat', async () => {
      const member = gzipSync(Buffer.alloc(10 * 1024 * 1024));
      const bomb = Buffer.concat(Array.from({ length: Math.floor((10 * 1024 * 1024) / member.length) }, () => member));
      assert.ok(bomb.length > 9 * 1024 * 1024 && bomb.length < 16 * 1024 * 1024);
      global.gc?.();
      const before = process.memoryUsage().rss;
      const r = await post(predict, bomb, { 'Content-Encoding': 'gzip' });
      const grew = process.memoryUsage().rss - before;
      assert.equal(r.status, 413);
      assert.match(String(r.body['error']), /after decompression/);
      assert.ok(grew < 256 * 1024 * 1024, `the server grew by ${Math.round(grew / 1048576)} MiB while refusing the bomb`);
      const gz = await post(predict, gzipSync(JSON.stringify({ instances: [image()] })), { 'Content-Encoding': 'gzip' });
      assert.equal(gz.status, 200, 'a gzip body within the limit is served');
      const broken = await post(predict, Buffer.from('not gzip at all'), { 'Content-Encoding': 'gzip' });
      assert.equal(broken.status, 400);
      assert.match(String(broken.body['error']), /cannot be decompressed/);
      const br = await post(predict, '{}', { 'Content-Encoding': 'br' });
      assert.equal(br.status, 415);
      await valid(s);
    });

    await t.test('JSON nested 100,000 levels deep is a quick 400, with no stack overflow', async () => {
      const r = await post(predict, `{"instances": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
      assert.equal(r.status, 400);
      assert.match(String(r.body['error']), /nests arrays or objects more than 32 levels deep/);
      const objects = await post(predict, `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`);
      assert.equal(objects.status, 400);
      await valid(s);
    });

    const cases: [string, string | object, RegExp, string?][] = [
      ['invalid JSON', '{"instances": [1, 2', /^JSON Parse error/],
      ['an empty body', '', /^JSON Parse error: The document is empty$/],
      ['a body that is not an object', '[1, 2, 3]', /Is not object/],
      ['a wrong shape', { instances: [image().slice(0, 7)] }, /expected size: 8.*shape \[8,8,1\]/],
      ['a flat example to :predict', { instances: [image().flat(2)] }, /shape \[8,8,1\]/],
      [
        'a wrong dtype (strings)',
        { instances: [image(() => 0).map((r) => r.map(() => ['7']))] },
        /Type: String is not of expected type: uint8/,
      ],
      ['a wrong dtype (fractions for pixels)', { instances: [image(() => 0.5)] }, /0\.5 Type: Number is not of expected type: uint8/],
      [
        'ragged rows',
        { instances: [image().map((r, i) => (i === 3 ? r.slice(1) : r))] },
        /unexpected size: 7 at level: 1 expected size: 8/,
      ],
      [
        'columnar inputs whose first dimension differs',
        { inputs: { input: [image()], other: [image(), image()] } },
        /differ in their first \(batch\) dimension/,
      ],
      ['an empty instances', { instances: [] }, /No values in 'instances' array/],
      [
        'a non-number (null)',
        { instances: [image((r) => (r === 2 ? (null as unknown as number) : 1))] },
        /Type: Null is not of expected type/,
      ],
      ['a NaN token', '{"instances": [[[[NaN]]]]}', /^JSON Parse error/],
      ['Infinity (1e999)', `{"instances": [${JSON.stringify(image()).replace('[0]', '[1e999]')}]}`, /Infinity|finite/],
      ['a b64 value that is not base64', { instances: [{ b64: '***' }] }, /Unable to base64 decode/],
      [
        'a b64 value that is not an image',
        { instances: [{ b64: Buffer.from('hello, not a png').toString('base64') }] },
        /cannot be decoded/,
      ],
      [
        'V2: a wrong datatype',
        'v2:{"inputs": [{"name": "input", "shape": [1, 8, 8, 1], "datatype": "BYTES", "data": ["x"]}]}',
        /datatype BYTES/,
      ],
      [
        'V2: data that does not fill the shape',
        'v2:{"inputs": [{"name": "input", "shape": [2, 8, 8, 1], "datatype": "UINT8", "data": [1, 2]}]}',
        /data has 2 values; shape \[2,8,8,1\] needs 128/,
      ],
    ];
    for (const [what, body, re] of cases) {
      await t.test(`${what} → 400`, async () => {
        const v2 = typeof body === 'string' && body.startsWith('v2:');
        const r = await post(v2 ? `${s.url}/v2/models/fashion/infer` : predict, v2 ? body.slice(3) : body);
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.match(String(r.body['error']), re);
        await valid(s);
      });
    }

    await t.test('an image larger than the pixel limit (a PNG bomb) → 400 naming the limit', async () => {
      const png = await sharp({ create: { width: 5000, height: 4000, channels: 3, background: { r: 0, g: 0, b: 0 } } })
        .png({ compressionLevel: 9 })
        .toBuffer();
      const r = await post(predict, { instances: [{ b64: png.toString('base64') }] });
      assert.equal(r.status, 400);
      assert.match(String(r.body['error']), /pixel limit|16777216 pixels/);
      await valid(s);
    });

    await t.test('a wrong method → 405 with Allow', async () => {
      const r = await call(predict);
      assert.equal(r.status, 405);
      assert.equal(r.headers.get('allow'), 'POST');
      await valid(s);
    });

    await t.test('every refusal is counted by status code', async () => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      assert.match(text, /modelship_requests_total\{model="fashion",version="1",api="predict",code="400"\} \d+/);
      assert.match(text, /modelship_requests_total\{model="fashion",version="1",api="predict",code="413"\} \d+/);
    });
  });

  it('a corrupt model fails its load naming the file; loaded models keep serving', async (t) => {
    const dir = await tempDir(t);
    const good = await makeImageModel(path.join(dir, 'fashion'));
    const s = await serve(t, { models: [{ source: good }], adminPort: 0, registry: path.join(dir, 'registry') });
    const admin = s.info.adminUrl!;

    const bad = await makeImageModel(path.join(dir, 'bad'), { seed: 2 });
    await truncate(path.join(bad, 'weights.bin'), 10);
    const r = await post(`${admin}/admin/models`, { source: bad, version: 2 });
    assert.equal(r.status, 400);
    assert.match(String(r.body['error']), /weights\.bin/);
    await valid(s);

    // A digest mismatch: the registry's copy of weights.bin changed after registration.
    const registry = await openRegistry(path.join(dir, 'registry'), { log: silentLogger });
    const pushed = await registry.push(await makeImageModel(path.join(dir, 'v2'), { seed: 3 }), { name: 'fashion' });
    const weights = pushed.layers.find((l) => l.title === 'weights.bin')!;
    const blob = path.join(dir, 'registry', 'blobs', 'sha256', weights.digest.slice('sha256:'.length));
    const bytes = await readFile(blob);
    bytes[0] ^= 0xff;
    await writeFile(blob, bytes);
    const m = await post(`${admin}/admin/models`, { source: `fashion:${pushed.version}` });
    assert.equal(m.status, 502);
    assert.match(String(m.body['error']), /weights\.bin.*corrupt/);
    await valid(s);
    assert.deepEqual(
      ((await call(`${admin}/admin/models`)).body['models'] as { version: number }[]).map((v) => v.version),
      [1],
    );
  });

  it('a server whose model cannot load is never ready, and says which file', async (t) => {
    const dir = await tempDir(t);
    const bad = await makeImageModel(path.join(dir, 'bad'));
    await writeFile(path.join(bad, 'model.json'), '{"modelTopology": ');
    const server = await startServer({ port: 0, models: [{ source: bad }] });
    t.after(() => server.close());
    await assert.rejects(server.ready, /model\.json is not valid JSON/);
    assert.equal(server.isReady(), false);
    assert.equal((await call(`${server.url}/v2/health/ready`)).status, 503);
  });
});
