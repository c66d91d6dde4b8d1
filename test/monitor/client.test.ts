/**
 * The Prometheus HTTP API client against a scripted HTTP server on loopback (the real Prometheus
 * is in prometheus.test.ts): string values, NaN and +Inf, warnings with data, 400/422/503 with
 * errorType, answers that are not the API, timeouts and refused connections.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseSampleValue, prometheusClient, PrometheusError } from '../../shared/monitor/index.ts';
import { freePort } from '../registry/helpers.ts';

type Handler = (req: IncomingMessage, body: URLSearchParams, res: ServerResponse) => void;

describe('prometheusClient', () => {
  let server: Server;
  let url = '';
  let handler: Handler = (_req, _b, res) => res.end('{}');
  const seen: { path: string; body: URLSearchParams }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = new URLSearchParams(Buffer.concat(chunks).toString());
        seen.push({ path: req.url ?? '', body });
        handler(req, body, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const json =
    (status: number, body: unknown): Handler =>
    (_req, _b, res) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    };

  it('parses string values, NaN and +Inf, and keeps warnings that come with data', async () => {
    handler = json(200, {
      status: 'success',
      warnings: ['PromQL info: metric might not be a counter'],
      data: {
        resultType: 'vector',
        result: [
          { metric: { version: '1' }, value: [1700000000.5, '0.25'] },
          { metric: { version: '2' }, value: [1700000000.5, 'NaN'] },
          { metric: { version: '3' }, value: [1700000000.5, '+Inf'] },
        ],
      },
    });
    const c = prometheusClient({ url: `${url}/` });
    const r = await c.instant('x', new Date(1700000000500));
    assert.deepEqual(
      r.series.map((s) => s.value),
      [0.25, NaN, Infinity],
    );
    assert.deepEqual(r.warnings, ['PromQL info: metric might not be a counter']);
    const last = seen.at(-1)!;
    assert.equal(last.path, '/api/v1/query');
    assert.equal(last.body.get('query'), 'x');
    assert.equal(last.body.get('time'), '1700000000.500');
    assert.equal(last.body.get('timeout'), '10s');
    assert.equal(c.requests, 1);
  });

  it('reads an empty vector as no series (never zero), scalars and range matrices', async () => {
    handler = json(200, { status: 'success', data: { resultType: 'vector', result: [] } });
    assert.deepEqual((await prometheusClient({ url }).instant('x')).series, []);
    handler = json(200, { status: 'success', data: { resultType: 'scalar', result: [1, '-Inf'] } });
    assert.equal((await prometheusClient({ url }).instant('x')).series[0].value, -Infinity);
    handler = json(200, {
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [
          {
            metric: {},
            values: [
              [1, '1'],
              [2, '2.5'],
            ],
          },
        ],
      },
    });
    const r = await prometheusClient({ url }).range('x', new Date(0), new Date(2000), 1);
    assert.deepEqual(r.series[0].points, [
      [1, 1],
      [2, 2.5],
    ]);
    assert.equal(seen.at(-1)!.body.get('step'), '1');
  });

  const apiErrors: [number, string, RegExp][] = [
    [400, 'bad_data', /not valid PromQL/],
    [422, 'execution', /could not evaluate/],
    [503, 'unavailable', /overloaded or still starting/],
  ];
  for (const [status, errorType, hint] of apiErrors) {
    it(`turns ${status} ${errorType} into an error with the errorType, the URL and what to do`, async () => {
      handler = json(status, { status: 'error', errorType, error: `something about ${errorType}` });
      await assert.rejects(prometheusClient({ url }).instant('x'), (e: unknown) => {
        assert.ok(e instanceof PrometheusError);
        assert.equal(e.failure, 'api');
        assert.equal(e.status, status);
        assert.equal(e.errorType, errorType);
        assert.match(e.message, new RegExp(`Prometheus at ${url} answered ${status} ${errorType}: something about ${errorType}`));
        assert.match(e.hint ?? '', hint);
        return true;
      });
    });
  }

  it('refuses an answer that is not the API (a proxy page, a wrong path)', async () => {
    handler = (_req, _b, res) => {
      res.statusCode = 502;
      res.end('<html>Bad Gateway</html>');
    };
    await assert.rejects(
      prometheusClient({ url }).instant('x'),
      (e: unknown) => e instanceof PrometheusError && e.failure === 'http' && /HTTP 502 .*Bad Gateway/.test(e.message),
    );
    handler = json(200, { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, 12] }] } });
    await assert.rejects(prometheusClient({ url }).instant('x'), (e: unknown) => e instanceof PrometheusError && e.failure === 'protocol');
  });

  it('names the URL when the connection is refused or times out', async () => {
    const port = await freePort();
    await assert.rejects(prometheusClient({ url: `http://127.0.0.1:${port}` }).instant('x'), (e: unknown) => {
      assert.ok(e instanceof PrometheusError);
      assert.equal(e.failure, 'unreachable');
      assert.match(e.message, new RegExp(`Prometheus at http://127.0.0.1:${port} refused the connection`));
      return true;
    });
    handler = () => undefined; // never answers
    await assert.rejects(
      prometheusClient({ url, timeoutMs: 300 }).instant('x'),
      (e: unknown) => e instanceof PrometheusError && e.failure === 'timeout' && e.message.includes(url),
    );
  });

  it('refuses a URL that is not http(s)', () => {
    assert.throws(() => prometheusClient({ url: 'prometheus:9090' }), /not an http\(s\) URL/);
    assert.throws(() => prometheusClient({ url: 'not a url' }), /not a URL/);
  });

  it('parses sample strings strictly', () => {
    assert.equal(parseSampleValue('1e-3'), 0.001);
    assert.ok(Number.isNaN(parseSampleValue('NaN')));
    assert.throws(() => parseSampleValue('0x10'), /not a Prometheus sample value/);
    assert.throws(() => parseSampleValue(3), /must be a string/);
  });
});
