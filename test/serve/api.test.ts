/**
 * The server as existing clients drive it: a TF Serving REST client with the exact requests and
 * responses of TF Serving's REST API documentation (the half_plus_three example), a KServe V2 /
 * Open Inference Protocol client, `{"b64": …}` images decoded and resized as setup-data reads them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage } from '../../shared/data/index.ts';
import { loadModel, predictProbabilities } from '../../shared/model/index.ts';
import {
  CLASSES,
  FIXTURE_IMAGES,
  call,
  image,
  makeHalfPlusThree,
  makeImageModel,
  post,
  serve,
  tempDir,
  type TestServer,
} from './helpers.ts';

function close(a: readonly number[], b: readonly number[], tol = 1e-4): boolean {
  return a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= tol);
}

describe('the model server API', () => {
  let s: TestServer;
  let imageDir: string;

  before(async () => {
    await tf.setBackend('cpu');
  });

  it('starts, and prints one ready line with the URL, the models, the backend and the load time', async (t) => {
    const dir = await tempDir(t);
    imageDir = await makeImageModel(path.join(dir, 'fashion'));
    const half = await makeHalfPlusThree(path.join(dir, 'half'));
    s = await serve(t, {
      models: [
        { source: imageDir, labels: ['stable'] },
        { source: half, version: 123 },
      ],
    });
    assert.match(
      s.info.line,
      /^modelship serve ready url=http:\/\/127\.0\.0\.1:\d+ models=fashion:1\(stable\),saved_model_half_plus_three:123 backend=(wasm|node|cpu) load=\d+\.\d+s$/,
    );
    assert.ok(!s.info.line.includes('\n'));

    await t.test('TF Serving: model status, exactly as in the REST API documentation', async () => {
      const r = await call(`${s.url}/v1/models/saved_model_half_plus_three`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'application/json');
      assert.deepEqual(r.body, {
        model_version_status: [{ version: '123', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }],
      });
      assert.deepEqual((await call(`${s.url}/v1/models/saved_model_half_plus_three/versions/123`)).body, r.body);
    });

    await t.test('TF Serving: predict, regress and the not-found error of the documentation', async () => {
      // curl -d '{"instances": [1.0,2.0,5.0]}' -X POST http://localhost:8501/v1/models/saved_model_half_plus_three:predict
      const predict = await post(`${s.url}/v1/models/saved_model_half_plus_three:predict`, '{"instances": [1.0,2.0,5.0]}');
      assert.equal(predict.status, 200);
      assert.deepEqual(predict.body, { predictions: [3.5, 4.0, 5.5] });
      const regress = await post(
        `${s.url}/v1/models/saved_model_half_plus_three:regress`,
        '{"signature_name": "tensorflow/serving/regress", "examples": [{"x": 1.0}, {"x": 2.0}]}',
      );
      assert.deepEqual(regress.body, { results: [3.5, 4.0] });
      const missing = await post(`${s.url}/v1/models/half:predict`, '{"instances": [1.0,5.0]}');
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('content-type'), 'application/json');
      assert.deepEqual(missing.body, { error: 'Servable not found for request: Latest(half)' });
      const columnar = await post(`${s.url}/v1/models/saved_model_half_plus_three:predict`, '{"inputs": [1.0,2.0,5.0]}');
      assert.deepEqual(columnar.body, { outputs: [3.5, 4.0, 5.5] });
    });

    await t.test('TF Serving: metadata, a signature_def map with serving_default', async () => {
      const r = await call(`${s.url}/v1/models/fashion/metadata`);
      assert.equal(r.status, 200);
      const spec = r.body['model_spec'] as Record<string, string>;
      assert.deepEqual(spec, { name: 'fashion', signature_name: '', version: '1' });
      const defs = (
        r.body['metadata'] as { signature_def: { signature_def: Record<string, { inputs: object; outputs: object; method_name: string }> } }
      ).signature_def.signature_def;
      assert.equal(defs['serving_default'].method_name, 'tensorflow/serving/predict');
      assert.deepEqual(defs['serving_default'].inputs, {
        input: {
          dtype: 'DT_UINT8',
          tensor_shape: { dim: ['-1', '8', '8', '1'].map((size) => ({ size, name: '' })), unknown_rank: false },
          name: 'input:0',
        },
      });
      assert.deepEqual(defs['serving_default'].outputs, {
        probabilities: {
          dtype: 'DT_FLOAT',
          tensor_shape: { dim: ['-1', '3'].map((size) => ({ size, name: '' })), unknown_rank: false },
          name: 'probabilities:0',
        },
      });
      assert.ok('tensorflow/serving/classify' in defs);
    });

    await t.test('predict answers what the model computes in-process, row by row', async () => {
      const { model, metadata } = await loadModel(imageDir);
      const a = image();
      const b = image((r, c) => 255 - r * c);
      const expected = await predictProbabilities(model, metadata, Uint8Array.from([...a.flat(2), ...b.flat(2)]), 2);
      model.dispose();
      const rows = (await post(`${s.url}/v1/models/fashion:predict`, { instances: [a, b] })).body['predictions'] as number[][];
      assert.equal(rows.length, 2);
      assert.ok(close(rows[0], [...expected.subarray(0, 3)]), `${rows[0].join()} vs ${[...expected.subarray(0, 3)].join()}`);
      assert.ok(close(rows[1], [...expected.subarray(3, 6)]));
      const byLabel = await post(`${s.url}/v1/models/fashion/labels/stable:predict`, { inputs: [b] });
      assert.ok(close((byLabel.body['outputs'] as number[][])[0], rows[1]));
      const classify = await post(`${s.url}/v1/models/fashion/versions/1:classify`, { examples: [{ image: a.flat(2) }] });
      const results = classify.body['results'] as [string, number][][];
      assert.deepEqual(
        results[0].map(([c]) => c),
        CLASSES,
      );
      assert.ok(
        close(
          results[0].map(([, p]) => p),
          rows[0],
        ),
      );
    });

    await t.test('{"b64": …} images are decoded and resized by the path setup-data uses', async () => {
      const png = await readFile(path.join(FIXTURE_IMAGES, 'boot', 'boot-1.png'));
      const pixels = await decodeImage(png, { width: 8, height: 8, channels: 1 }, { resize: 'if-needed' });
      const asValues = Array.from({ length: 8 }, (_, r) => Array.from({ length: 8 }, (_, c) => [pixels[r * 8 + c]]));
      const big = await sharp({ create: { width: 20, height: 12, channels: 3, background: { r: 200, g: 40, b: 90 } } })
        .jpeg()
        .toBuffer();
      const bigPixels = await decodeImage(big, { width: 8, height: 8, channels: 1 }, { resize: 'if-needed' });
      const bigValues = Array.from({ length: 8 }, (_, r) => Array.from({ length: 8 }, (_, c) => [bigPixels[r * 8 + c]]));
      const viaValues = (await post(`${s.url}/v1/models/fashion:predict`, { instances: [asValues, bigValues] })).body[
        'predictions'
      ] as number[][];
      const viaB64 = await post(`${s.url}/v1/models/fashion:predict`, {
        instances: [{ b64: png.toString('base64') }, { b64: big.toString('base64') }],
      });
      assert.equal(viaB64.status, 200, JSON.stringify(viaB64.body));
      const rows = viaB64.body['predictions'] as number[][];
      assert.ok(close(rows[0], viaValues[0], 1e-6));
      assert.ok(close(rows[1], viaValues[1], 1e-6));
      const named = await post(`${s.url}/v1/models/fashion:classify`, { examples: [{ image: { b64: png.toString('base64') } }] });
      assert.ok(
        close(
          (named.body['results'] as [string, number][][])[0].map(([, p]) => p),
          rows[0],
          1e-6,
        ),
      );
    });

    await t.test('KServe V2: health, server and model metadata, readiness', async () => {
      assert.equal((await call(`${s.url}/v2/health/live`)).status, 200);
      assert.deepEqual((await call(`${s.url}/v2/health/ready`)).body, { ready: true });
      assert.equal((await call(`${s.url}/v2`)).body['name'], 'modelship');
      const meta = await call(`${s.url}/v2/models/fashion`);
      assert.deepEqual(meta.body, {
        name: 'fashion',
        versions: ['1'],
        platform: 'tensorflowjs_layers',
        inputs: [{ name: 'input', datatype: 'UINT8', shape: [-1, 8, 8, 1] }],
        outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
      });
      assert.equal((await call(`${s.url}/v2/models/fashion/versions/1/ready`)).status, 200);
      const unknown = await call(`${s.url}/v2/models/nope/ready`);
      assert.equal(unknown.status, 404);
      assert.match(String(unknown.body['error']), /unknown model: 'nope'/);
    });

    await t.test('KServe V2: infer with typed inputs and typed outputs', async () => {
      const a = image();
      const b = image((r, c) => 255 - r * c);
      const rows = (await post(`${s.url}/v1/models/fashion:predict`, { instances: [a, b] })).body['predictions'] as number[][];
      const r = await post(`${s.url}/v2/models/fashion/versions/1/infer`, {
        id: 'req-7',
        inputs: [{ name: 'input', shape: [2, 8, 8, 1], datatype: 'UINT8', data: [...a.flat(2), ...b.flat(2)] }],
        outputs: [{ name: 'probabilities' }],
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body['model_name'], 'fashion');
      assert.equal(r.body['model_version'], '1');
      assert.equal(r.body['id'], 'req-7');
      const [out] = r.body['outputs'] as { name: string; datatype: string; shape: number[]; data: number[] }[];
      assert.equal(out.name, 'probabilities');
      assert.equal(out.datatype, 'FP32');
      assert.deepEqual(out.shape, [2, 3]);
      assert.ok(close(out.data, rows.flat(), 1e-6));
      const half = await post(`${s.url}/v2/models/saved_model_half_plus_three/infer`, {
        inputs: [{ name: 'input', shape: [3, 1], datatype: 'FP32', data: [1, 2, 5] }],
      });
      assert.deepEqual((half.body['outputs'] as { data: number[]; shape: number[] }[])[0], {
        name: 'value',
        datatype: 'FP32',
        shape: [3],
        data: [3.5, 4, 5.5],
      });
    });

    await t.test('the inline runner (model calls on the main thread) answers the same', async (t2) => {
      const inline = await serve(t2, { models: [{ source: imageDir }], inference: 'inline' });
      assert.equal(inline.info.inference, 'inline');
      const a = (await post(`${inline.url}/v1/models/fashion:predict`, { instances: [image()] })).body['predictions'] as number[][];
      const b = (await post(`${s.url}/v1/models/fashion:predict`, { instances: [image()] })).body['predictions'] as number[][];
      assert.ok(close(a[0], b[0], 1e-6));
    });

    await t.test('unknown versions and labels are 404s in TF Serving’s words', async () => {
      const v = await post(`${s.url}/v1/models/fashion/versions/7:predict`, { instances: [image()] });
      assert.equal(v.status, 404);
      assert.deepEqual(v.body, { error: 'Servable not found for request: Specific(fashion, 7)' });
      const l = await post(`${s.url}/v1/models/fashion/labels/canary:predict`, { instances: [image()] });
      assert.equal(l.status, 404);
      assert.deepEqual(l.body, { error: 'Unrecognized servable version label: canary' });
      const status = await call(`${s.url}/v1/models/nope`);
      assert.equal(status.status, 404);
      assert.deepEqual(status.body, { error: 'Could not find any versions of model nope' });
    });
  });
});
