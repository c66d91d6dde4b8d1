/**
 * /metrics as Prometheus sees it: `promtool check metrics` accepts the exposition; the input
 * histogram's buckets hold exactly what setup-data's histogram() gives for the same pixels; and a
 * real Prometheus (Debian's, on loopback, started here) scrapes the server and shows the
 * per-version series in its HTTP API.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { histogram } from '../../shared/data/index.ts';
import { freePort } from '../registry/helpers.ts';
import { call, image, makeImageModel, post, sample, serve, tempDir } from './helpers.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';

describe('Prometheus metrics', () => {
  it('counts inputs in the reference bins, passes promtool, and is scraped by Prometheus per version', async (t) => {
    const dir = await tempDir(t);
    const v1 = await makeImageModel(path.join(dir, 'v1'));
    const v2 = await makeImageModel(path.join(dir, 'v2'), { seed: 9 });
    const s = await serve(t, {
      models: [
        { source: v1, labels: ['stable'] },
        { source: v2, version: 2, labels: ['canary'] },
      ],
    });

    const images = [image(), image((r, c) => 255 - r * c), image(() => 8), image(() => 255), image((r) => r * 31)];
    for (const img of images)
      assert.equal((await post(`${s.url}/v1/models/fashion/labels/stable:predict`, { instances: [img] })).status, 200);
    assert.equal((await post(`${s.url}/v1/models/fashion/labels/canary:classify`, { examples: [{ x: images[0].flat(2) }] })).status, 200);
    assert.equal((await post(`${s.url}/v1/models/fashion:feedback`, { examples: [{ label: 'boot', predicted: 2 }] })).status, 200);

    const text = await (await fetch(`${s.url}/metrics`)).text();
    const expected = histogram(
      images.flatMap((img) => img.flat(2)),
      0,
      256,
      32,
    );
    let cumulative = 0;
    expected.counts.forEach((n, i) => {
      cumulative += n;
      const le = String(expected.edges[i + 1]);
      assert.equal(sample(text, 'modelship_input_values_bucket', { model: 'fashion', version: '1', le }), cumulative, `bucket le=${le}`);
    });
    assert.equal(sample(text, 'modelship_input_values_count', { model: 'fashion', version: '1' }), 5 * 64);
    assert.equal(sample(text, 'modelship_input_values_bucket', { model: 'fashion', version: '1', le: '+Inf' }), 5 * 64);
    assert.equal(sample(text, 'modelship_input_values_count', { model: 'fashion', version: '2' }), 64);
    assert.equal(sample(text, 'modelship_examples_total', { model: 'fashion', version: '1' }), 5);
    const predicted = ['boot', 'sandal', 'shirt'].map(
      (c) => sample(text, 'modelship_predictions_total', { model: 'fashion', version: '1', class: c }) ?? NaN,
    );
    assert.equal(
      predicted.reduce((a, b) => a + b, 0),
      5,
    );
    assert.equal(sample(text, 'modelship_feedback_total', { model: 'fashion', version: '2', label: 'boot', predicted: 'shirt' }), 1);
    assert.equal(sample(text, 'modelship_batch_size_count', { model: 'fashion', version: '1' }), 5);
    assert.equal(sample(text, 'modelship_label_info', { model: 'fashion', label: 'stable', version: '1' }), 1);
    assert.match(text, /modelship_model_info\{model="fashion",version="2",digest="sha256:[0-9a-f]{64}"\} 1/);
    assert.match(text, /^process_cpu_seconds_total /m, 'the default process metrics are there too');

    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);

    const port = await freePort();
    const config = path.join(dir, 'prometheus.yml');
    const target = new URL(s.url).host;
    await writeFile(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        '  - job_name: modelship',
        '    static_configs:',
        `      - targets: ['${target}']`,
      ].join('\n'),
    );
    await mkdir(path.join(dir, 'tsdb'));
    const prom = spawn(
      PROMETHEUS,
      [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let promLog = '';
    prom.stderr.on('data', (d: Buffer) => (promLog = (promLog + d.toString()).slice(-4000)));
    const promExited = new Promise((resolve) => prom.once('exit', resolve));
    t.after(async () => {
      prom.kill('SIGTERM');
      await promExited;
    });
    const api = `http://127.0.0.1:${port}/api/v1`;
    const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      const r = await call(`${api}/query?query=${encodeURIComponent(q)}`);
      return r.status === 200
        ? ((r.body['data'] as { result: { metric: Record<string, string>; value: [number, string] }[] }).result ?? [])
        : [];
    };
    const deadline = performance.now() + 25_000;
    let byVersion: { metric: Record<string, string>; value: [number, string] }[] = [];
    while (performance.now() < deadline) {
      try {
        byVersion = await query('sum by (version) (modelship_requests_total{model="fashion", code="200", api=~"predict|classify"})');
      } catch {
        // not listening yet
      }
      if (byVersion.length >= 2) break;
      await sleep(250);
    }
    assert.deepEqual(
      byVersion.map((r) => [r.metric['version'], Number(r.value[1])]).sort(),
      [
        ['1', 5],
        ['2', 1],
      ],
      `Prometheus has the per-version request series (log tail:\n${promLog})`,
    );
    const buckets = await query('modelship_input_values_bucket{model="fashion", version="1", le="+Inf"}');
    assert.equal(Number(buckets[0]?.value[1]), 320);
    const labels = await query('modelship_label_info{model="fashion"}');
    assert.deepEqual(labels.map((r) => `${r.metric['label']}=${r.metric['version']}`).sort(), ['canary=2', 'stable=1']);
    const up = await query('up{job="modelship"}');
    assert.equal(up[0]?.value[1], '1');
  });
});
