/**
 * The server's pure parts, table-driven: the batching queue, routes, request payloads, the JSON
 * depth guard, the input-histogram binning (against setup-data's histogram()), options and flags.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { histogram } from '../../shared/data/index.ts';
import { parseLabelFlag, serveOptionsFromArgs } from '../../shared/cli/serve.ts';
import { BatchQueue, type Task } from '../../shared/serve/batcher.ts';
import { checkJsonDepth, parseJsonObject } from '../../shared/serve/body.ts';
import { HttpError } from '../../shared/serve/http-error.ts';
import { binIndex, binsFromEdges } from '../../shared/serve/metrics.ts';
import { parseServerOptions, signatureOf } from '../../shared/serve/index.ts';
import { f32 } from '../../shared/serve/responses.ts';
import { parseRoute } from '../../shared/serve/routes.ts';
import { fastPredict, parseExamples, parseInfer, parsePredict } from '../../shared/serve/tensors.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import type { ModelMetadata } from '../../shared/model/metadata.ts';
import { tempDir } from './helpers.ts';

function task(count: number, outputs = 1, x?: Uint8Array): Task & { got?: Float32Array; err?: Error } {
  const t: Task & { got?: Float32Array; err?: Error } = {
    x: x ?? new Uint8Array(count).map((_, i) => i),
    count,
    enqueuedAt: 0,
    outputs,
    resolve: (out) => (t.got = out),
    reject: (err) => (t.err = err),
  };
  return t;
}

describe('BatchQueue', () => {
  const cases: { name: string; max: number; maxBatches: number; offers: number[]; layout: number[][]; refused: number[] }[] = [
    { name: 'small tasks share one batch', max: 8, maxBatches: 4, offers: [1, 2, 3], layout: [[1, 2, 3]], refused: [] },
    { name: 'a task that does not fit is split', max: 4, maxBatches: 4, offers: [3, 3], layout: [[3, 1], [2]], refused: [] },
    { name: 'a task larger than a batch spans batches', max: 4, maxBatches: 4, offers: [10], layout: [[4], [4], [2]], refused: [] },
    {
      name: 'past max-enqueued-batches a task is refused whole',
      max: 4,
      maxBatches: 2,
      offers: [4, 3, 2, 1],
      layout: [[4], [3, 1]],
      refused: [2],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const q = new BatchQueue({ maxBatchSize: c.max, batchTimeoutMicros: 0, maxEnqueuedBatches: c.maxBatches });
      const refused: number[] = [];
      c.offers.forEach((n, i) => {
        if (!q.offer(task(n), 0)) refused.push(i);
      });
      assert.deepEqual(
        q.batches.map((b) => b.parts.map((p) => p.count)),
        c.layout,
      );
      assert.deepEqual(refused, c.refused);
    });
  }

  it('gives every task exactly its own rows back, across split batches', () => {
    const q = new BatchQueue({ maxBatchSize: 4, batchTimeoutMicros: 0, maxEnqueuedBatches: 10 });
    const tasks = [
      task(3, 2, Uint8Array.from([10, 11, 12])),
      task(4, 2, Uint8Array.from([20, 21, 22, 23])),
      task(1, 2, Uint8Array.from([30])),
    ];
    for (const t of tasks) assert.ok(q.offer(t, 0));
    // The "model": output row = [x, x + 0.5] for each example.
    for (let b = q.take(0); b; b = q.take(0)) {
      const xs = b.parts.flatMap((p) => [...p.task.x.subarray(p.start, p.start + p.count)]);
      q.complete(b, Float32Array.from(xs.flatMap((v) => [v, v + 0.5])));
    }
    assert.deepEqual([...tasks[0].got!], [10, 10.5, 11, 11.5, 12, 12.5]);
    assert.deepEqual([...tasks[1].got!], [20, 20.5, 21, 21.5, 22, 22.5, 23, 23.5]);
    assert.deepEqual([...tasks[2].got!], [30, 30.5]);
    assert.equal(q.depth(), 0);
  });

  it('holds a batch that is not full until batch-timeout-micros after its first request', () => {
    const q = new BatchQueue({ maxBatchSize: 4, batchTimeoutMicros: 5000, maxEnqueuedBatches: 10 });
    q.offer(task(1), 100);
    assert.equal(q.take(102), undefined, '2 ms after: still waiting');
    assert.equal(q.deadline(), 105);
    q.offer(task(3), 103);
    assert.equal(q.take(103)?.size, 4, 'full: runs at once');
    q.offer(task(1), 200);
    assert.equal(q.take(205)?.size, 1, 'timed out: runs');
  });

  it('fails each task of a batch once, and only those', () => {
    const q = new BatchQueue({ maxBatchSize: 2, batchTimeoutMicros: 0, maxEnqueuedBatches: 10 });
    const a = task(3);
    const b = task(1);
    q.offer(a, 0);
    q.offer(b, 0);
    const first = q.take(0)!;
    q.fail(first, new Error('boom'));
    q.complete(q.take(0)!, Float32Array.from([1, 2]));
    assert.equal(a.err?.message, 'boom');
    assert.equal(a.got, undefined, 'a failed task is not resolved by a later part');
    assert.deepEqual([...b.got!], [2]);
  });
});

describe('routes', () => {
  const ok: [string, string, unknown][] = [
    ['GET', '/v1/models/fashion', { kind: 'tf-status', model: 'fashion', sel: { kind: 'latest' } }],
    ['GET', '/v1/models/fashion/versions/3', { kind: 'tf-status', model: 'fashion', sel: { kind: 'version', version: '3' } }],
    [
      'GET',
      '/v1/models/fashion/labels/canary/metadata',
      { kind: 'tf-metadata', model: 'fashion', sel: { kind: 'label', label: 'canary' } },
    ],
    ['POST', '/v1/models/fashion:predict', { kind: 'tf-verb', model: 'fashion', sel: { kind: 'latest' }, verb: 'predict' }],
    [
      'POST',
      '/v1/models/fashion/versions/2:classify',
      { kind: 'tf-verb', model: 'fashion', sel: { kind: 'version', version: '2' }, verb: 'classify' },
    ],
    [
      'POST',
      '/v1/models/fashion/labels/stable:regress?x=1',
      { kind: 'tf-verb', model: 'fashion', sel: { kind: 'label', label: 'stable' }, verb: 'regress' },
    ],
    ['POST', '/v1/models/fashion%3Apredict', { kind: 'tf-verb', model: 'fashion', sel: { kind: 'latest' }, verb: 'predict' }],
    ['GET', '/v2/health/ready', { kind: 'v2-ready' }],
    ['GET', '/v2/models/fashion/versions/3/ready', { kind: 'v2-model-ready', model: 'fashion', sel: { kind: 'version', version: '3' } }],
    ['POST', '/v2/models/fashion/infer', { kind: 'v2-infer', model: 'fashion', sel: { kind: 'latest' } }],
    ['GET', '/metrics', { kind: 'metrics' }],
  ];
  for (const [method, url, route] of ok) it(`${method} ${url}`, () => assert.deepEqual(parseRoute(method, url), route));

  const bad: [string, string, number][] = [
    ['GET', '/v1/models/fashion:predict', 405],
    ['POST', '/v1/models/fashion', 405],
    ['POST', '/v1/models/fashion:explain', 400],
    ['GET', '/v1/models/%E0%A4%A', 400],
    ['GET', '/nothing', 404],
    ['GET', '/v2/models/fashion/infer', 405],
  ];
  for (const [method, url, status] of bad) {
    it(`${method} ${url} → ${status}`, () => {
      assert.throws(
        () => parseRoute(method, url),
        (e: unknown) => e instanceof HttpError && e.status === status,
      );
    });
  }
});

const imageMeta = {
  schemaVersion: 1,
  kind: 'modelship.model',
  task: 'classification',
  inputShape: [2, 2, 1],
  classes: ['a', 'b'],
  preprocessing: { scale: 1 / 255, offset: 0 },
} as unknown as ModelMetadata;
const sig = signatureOf(imageMeta);
const floatSig = signatureOf({
  ...imageMeta,
  inputShape: [3],
  preprocessing: { scale: 1, offset: 0 },
  task: 'regression',
  classes: [],
});

describe('request payloads', () => {
  it('reads row, named-row, columnar and classify forms into the same values', () => {
    const ex = [
      [[1], [2]],
      [[3], [4]],
    ];
    const forms = [
      parsePredict({ instances: [ex, ex] }, sig),
      parsePredict({ instances: [{ input: ex }, { input: ex }] }, sig),
      parsePredict({ inputs: [ex, ex] }, sig),
      parsePredict({ inputs: { input: [ex, ex] } }, sig),
      parseExamples({ examples: [{ image: [1, 2, 3, 4] }, { image: ex }] }, sig, 'classify'),
      parseInfer({ inputs: [{ name: 'input', shape: [2, 2, 2, 1], datatype: 'UINT8', data: [1, 2, 3, 4, 1, 2, 3, 4] }] }, sig, 'm').input,
      parseInfer({ inputs: [{ name: 'input', shape: [2, 2, 2, 1], datatype: 'FP32', data: [ex, ex] }] }, sig, 'm').input,
    ];
    for (const f of forms) {
      assert.equal(f.count, 2);
      assert.deepEqual([...f.x], [1, 2, 3, 4, 1, 2, 3, 4]);
    }
  });

  it('keeps {"b64": …} examples for decoding', () => {
    const p = parsePredict(
      {
        instances: [
          { b64: 'iVBORw0KGgo=' },
          [
            [[0], [0]],
            [[0], [0]],
          ],
        ],
      },
      sig,
    );
    assert.deepEqual(
      p.images.map((i) => [i.index, i.bytes.length]),
      [[0, 8]],
    );
  });

  const refusals: [string, unknown, 'predict' | 'classify' | 'infer', RegExp][] = [
    [
      'a wrong shape',
      {
        instances: [
          [
            [1, 2],
            [3, 4],
          ],
        ],
      },
      'predict',
      /shape \[2,2,1\]/,
    ],
    ['ragged rows', { instances: [[[[1], [2]], [[3]]]] }, 'predict', /unexpected size: 1 at level: 1 expected size: 2.*\[2,2,1\]/],
    [
      'a non-number',
      {
        instances: [
          [
            [['x'], [2]],
            [[3], [4]],
          ],
        ],
      },
      'predict',
      /JSON Value: "x" Type: String is not of expected type: uint8/,
    ],
    [
      'a fraction for uint8',
      {
        instances: [
          [
            [[0.5], [2]],
            [[3], [4]],
          ],
        ],
      },
      'predict',
      /0\.5 Type: Number is not of expected type: uint8/,
    ],
    [
      'a pixel above 255',
      {
        instances: [
          [
            [[256], [2]],
            [[3], [4]],
          ],
        ],
      },
      'predict',
      /256 .*uint8/,
    ],
    ['an empty instances', { instances: [] }, 'predict', /No values in 'instances' array.*\[2,2,1\]/],
    ['both instances and inputs', { instances: [1], inputs: [1] }, 'predict', /only one of 'inputs' or 'instances'/],
    ['neither', { x: 1 }, 'predict', /Missing 'inputs' or 'instances' key/],
    ['an unknown signature', { signature_name: 'other', instances: [1] }, 'predict', /Serving signature key "other" not found/],
    [
      'columnar inputs with different first dimensions',
      { inputs: { input: [1, 2], mask: [1, 2, 3] } },
      'predict',
      /first \(batch\) dimension: input has 2, mask has 3/,
    ],
    [
      'an object among plain instances',
      {
        instances: [
          [
            [[1], [2]],
            [[3], [4]],
          ],
          { input: 1 },
        ],
      },
      'predict',
      /Expecting value\/list but got object at item 1/,
    ],
    [
      'a list nested deeper than the shape',
      {
        instances: [
          [
            [[[1]], [2]],
            [[3], [4]],
          ],
        ],
      },
      'predict',
      /list at unexpected level: 3 expected < 3/,
    ],
    ['two features in a classify example', { examples: [{ a: [1, 2, 3, 4], b: 1 }] }, 'classify', /has 2 features/],
    [
      'V2: a wrong shape',
      { inputs: [{ name: 'input', shape: [1, 2, 2], datatype: 'UINT8', data: [1, 2, 3, 4] }] },
      'infer',
      /shape \[1,2,2\] does not match.*\[-1,2,2,1\]/,
    ],
    [
      'V2: BYTES',
      { inputs: [{ name: 'input', shape: [1, 2, 2, 1], datatype: 'BYTES', data: ['a'] }] },
      'infer',
      /datatype BYTES cannot feed this model/,
    ],
    [
      'V2: an unknown datatype',
      { inputs: [{ name: 'input', shape: [1, 2, 2, 1], datatype: 'FLOAT', data: [1, 2, 3, 4] }] },
      'infer',
      /not an Open Inference Protocol datatype/,
    ],
    [
      'V2: too few values',
      { inputs: [{ name: 'input', shape: [1, 2, 2, 1], datatype: 'UINT8', data: [1, 2, 3] }] },
      'infer',
      /data has 3 values; shape \[1,2,2,1\] needs 4/,
    ],
    [
      'V2: out of range for UINT8',
      { inputs: [{ name: 'input', shape: [1, 2, 2, 1], datatype: 'UINT8', data: [1, 2, 3, -4] }] },
      'infer',
      /-4 is not a UINT8/,
    ],
    [
      'V2: an unknown input',
      { inputs: [{ name: 'x', shape: [1, 2, 2, 1], datatype: 'UINT8', data: [1, 2, 3, 4] }] },
      'infer',
      /unexpected inference input 'x' for model 'm'/,
    ],
    [
      'V2: inputs with different batch sizes',
      {
        inputs: [
          { name: 'input', shape: [1, 2, 2, 1] },
          { name: 'mask', shape: [2, 2, 2, 1] },
        ],
      },
      'infer',
      /first \(batch\) dimension/,
    ],
  ];
  for (const [what, doc, api, re] of refusals) {
    it(`refuses ${what} with a 400 that says why`, () => {
      const run = (): unknown =>
        api === 'predict'
          ? parsePredict(doc as Record<string, unknown>, sig)
          : api === 'classify'
            ? parseExamples(doc as Record<string, unknown>, sig, 'classify')
            : parseInfer(doc as Record<string, unknown>, sig, 'm');
      assert.throws(run, (e: unknown) => e instanceof HttpError && e.status === 400 && re.test(e.message));
    });
  }

  it('refuses non-finite numbers (1e999 parses to Infinity) for float models, and the NaN token as JSON', () => {
    assert.throws(() => parsePredict(parseJsonObject(Buffer.from('{"instances": [[1, 1e999, 2]]}'), 32), floatSig), /not a finite number/);
    assert.throws(() => parseJsonObject(Buffer.from('{"instances": [[1, NaN, 2]]}'), 32), /JSON Parse error/);
    assert.throws(
      () => parseInfer({ inputs: [{ name: 'input', shape: [1, 3], datatype: 'FP32', data: [1, 2, 1e39] }] }, floatSig, 'm'),
      /not a finite FP32/,
    );
  });

  it('takes plain numbers as examples when the input shape is [1] (TF Serving scalars)', () => {
    const one = signatureOf({
      ...imageMeta,
      inputShape: [1],
      preprocessing: { scale: 1, offset: 0 },
      task: 'regression',
      classes: [],
    });
    assert.deepEqual([...parsePredict({ instances: [1.0, 2.0, 5.0] }, one).x], [1, 2, 5]);
  });
});

describe('the predict fast path', () => {
  const general = (b: Buffer, sg = sig): { count: number; x: number[]; format: string } | Error => {
    try {
      const p = parsePredict(parseJsonObject(b, 32), sg);
      return p.images.length ? new Error('images') : { count: p.count, x: [...p.x], format: p.format };
    } catch (err) {
      return err as Error;
    }
  };
  const agrees = (text: string, sg = sig): boolean => {
    const b = Buffer.from(text);
    const fast = fastPredict(b, sg, 32);
    if (fast === undefined) return false;
    const g = general(b, sg);
    assert.ok(
      !(g instanceof Error),
      `the fast path accepted what the general path refuses: ${text} (${g instanceof Error ? g.message : '?'})`,
    );
    assert.deepEqual({ count: fast.count, x: [...fast.x], format: fast.format }, g, text);
    return true;
  };

  it('takes the common requests, with the same values as the general path', () => {
    const ex = '[[[1],[2]],[[3],[250]]]';
    for (const text of [
      `{"instances":[${ex}]}`,
      `{"instances": [${ex}, ${ex}, ${ex}, ${ex}, ${ex}]}`,
      ` {\n "inputs" : [ [ [ [0] , [ 1 ] ] , [[2],[3]] ] ] } \n`,
      '{"instances":[[[[1.0],[2e0]],[[3E+0],[-0]]]]}',
    ]) {
      assert.ok(agrees(text), `fast path taken for ${text}`);
    }
    assert.ok(agrees('{"instances": [[1.5, -2, 3e-7]]}', floatSig));
  });

  it('leaves everything else to the general path', () => {
    for (const text of [
      '{"instances":[]}',
      '{"instances":[[[[1],[2]],[[3],[256]]]]}',
      '{"instances":[[[[1],[2]],[[3],[0.5]]]]}',
      '{"instances":[[[[1],[2]],[[3]]]]}',
      '{"instances":[[[[1],[2]],[[3],[4],[5]]]]}',
      '{"instances":[[[[1],[2]],[[3],[04]]]]}',
      '{"instances":[[[[1],[2]],[[3],[4]]]],"signature_name":"x"}',
      '{"signature_name":"x","instances":[[[[1],[2]],[[3],[4]]]]}',
      '{"instances":[[[[1],[2]],[[3],[4]]],]}',
      '{"instances":[{"b64":"AAAA"}]}',
      '{"inst\\u0061nces":[[[[1],[2]],[[3],[4]]]]}',
      '{"instances":[[[[1],[2]],[[3],[4]]]]} x',
    ]) {
      assert.equal(fastPredict(Buffer.from(text), sig, 32), undefined, text);
    }
  });

  it('never accepts a mutated request the general path refuses (10,000 random mutations)', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const alphabet = '[],{}:" 0123456789.-+eE\nx';
    const base = '{"instances": [[[[1],[2]],[[3],[4]]], [[[5],[6]],[[7],[8]]]]}';
    let taken = 0;
    for (let i = 0; i < 10_000; i++) {
      const chars = [...base];
      for (let m = 1 + rand(3); m > 0; m--) {
        const at = rand(chars.length);
        const op = rand(3);
        const ch = alphabet[rand(alphabet.length)];
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, ch);
        else chars[at] = ch;
      }
      if (agrees(chars.join(''))) taken++;
    }
    assert.ok(taken > 100, `some mutations stay valid and take the fast path (${taken})`);
  });
});

describe('the JSON depth guard', () => {
  it('refuses 100,000 levels of nesting without parsing them', () => {
    const deep = Buffer.from(`{"instances": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    assert.throws(
      () => parseJsonObject(deep, 32),
      (e: unknown) => e instanceof HttpError && e.status === 400 && /more than 32 levels/.test(e.message),
    );
  });
  it('does not count brackets inside strings', () => {
    assert.doesNotThrow(() => checkJsonDepth(Buffer.from(`{"a": "${'['.repeat(100)}\\"[[["}`), 3));
  });
});

describe('input histogram bins', () => {
  it('bins every value exactly as setup-data’s histogram() does', () => {
    const cases: [number, number, number, number[]][] = [
      [0, 256, 32, Array.from({ length: 256 }, (_, v) => v)],
      [-1.5, 7.25, 20, Array.from({ length: 500 }, (_, i) => -3 + i * 0.023)],
    ];
    for (const [lo, hi, bins, values] of cases) {
      const ref = histogram(values, lo, hi, bins);
      const b = binsFromEdges(ref.edges);
      const counts = new Array<number>(bins).fill(0);
      for (const v of values) counts[binIndex(v, b)]++;
      assert.deepEqual(counts, ref.counts);
    }
  });
});

describe('float output', () => {
  it('prints float32 values in their shortest form', () => {
    assert.equal(f32(Math.fround(0.1)), 0.1);
    assert.equal(f32(Math.fround(1 / 3)), 0.33333334);
    assert.equal(f32(3.5), 3.5);
  });
});

describe('options', () => {
  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ['no model and no admin port', {}, /serve option models: no model to serve/],
    ['a zero batch size', { models: [{ source: 'x' }], maxBatchSize: 0 }, /--max-batch-size/],
    [
      'faults without the switch',
      { models: [{ source: 'x' }], injectErrorRate: 0.5 },
      /--inject-error-rate: injects faults, which needs --allow-fault-injection/,
    ],
    ['a bad label', { models: [{ source: 'x', labels: ['Canary'] }] }, /models\.0\.labels\.0: 'Canary' is not a valid label/],
    ['the admin port on the public port', { models: [{ source: 'x' }], port: 9000, adminPort: 9000 }, /--admin-port/],
    ['an unknown option', { models: [{ source: 'x' }], maxBatch: 3 }, /unknown option maxBatch/],
  ];
  for (const [what, input, re] of refusals) {
    it(`refuses ${what}, naming the option`, () => {
      assert.throws(
        () => parseServerOptions(input),
        (e: unknown) => e instanceof ConfigurationError && re.test(e.message) && typeof e.hint === 'string',
      );
    });
  }

  it('parses --label flags', () => {
    assert.deepEqual(parseLabelFlag('canary=4'), { label: 'canary', version: 4 });
    assert.deepEqual(parseLabelFlag('stable=fashion:3'), { model: 'fashion', label: 'stable', version: 3 });
    assert.throws(() => parseLabelFlag('canary'), ConfigurationError);
  });

  it('reads the serve section of modelship.yml; flags override it', async (t) => {
    const dir = await tempDir(t);
    await writeFile(
      path.join(dir, 'modelship.yml'),
      [
        'version: 1',
        'name: fashion',
        'registry: { url: oci://127.0.0.1:5000/models }',
        'serve:',
        '  port: 9100',
        '  max-batch-size: 32',
        '  models:',
        '    - name: fashion',
        '      versions: [fashion:3, { source: ./candidate, version: 4 }]',
        '      labels: { stable: 3, canary: 4 }',
      ].join('\n'),
    );
    const o = await serveOptionsFromArgs({ 'max-batch-size': '16' }, { cwd: dir, env: {} });
    assert.equal(o.port, 9100);
    assert.equal(o.maxBatchSize, 16);
    assert.equal(o.registry, 'oci://127.0.0.1:5000/models');
    assert.equal(o.defaultName, 'fashion');
    assert.deepEqual(o.models, [
      { source: 'fashion:3', name: 'fashion' },
      { source: './candidate', version: 4, name: 'fashion' },
    ]);
    assert.deepEqual(o.labels, [
      { model: 'fashion', label: 'stable', version: 3 },
      { model: 'fashion', label: 'canary', version: 4 },
    ]);
    await writeFile(path.join(dir, 'modelship.yml'), 'serve:\n  max-batch: 3\n');
    await assert.rejects(serveOptionsFromArgs({}, { cwd: dir, env: {} }), /modelship\.yml: unknown key 'max-batch' in 'serve'/);
  });
});
