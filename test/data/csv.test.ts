/** CSV: the parser, the task rule, and the reader's errors. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decideTask, parseCsv, readCsv } from '../../shared/data/readers/csv.ts';
import { listTree } from '../../shared/data/tree.ts';
import type { SourceTree } from '../../shared/data/types.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { memoryLogger, silentLogger } from '../../shared/util/log.ts';
import { hashFile } from '../../shared/data/hash.ts';
import { removeTempDirs, tempDir } from './helpers.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/data');

async function treeOf(root: string): Promise<SourceTree> {
  const l = await listTree(root);
  const files = await Promise.all(
    l.files.map(async (rel) => ({ rel, abs: path.join(root, rel), ...(await hashFile(path.join(root, rel))) })),
  );
  return { root, label: root, files, dirs: l.dirs };
}

async function csvTree(text: string, name = 'data.csv'): Promise<SourceTree> {
  const dir = await tempDir('ms-csv-');
  await writeFile(path.join(dir, name), text);
  return treeOf(dir);
}

describe('parseCsv', () => {
  for (const [text, want] of [
    [
      'a,b\n1,2\n',
      [
        ['a', 'b'],
        ['1', '2'],
      ],
    ],
    [
      'a,b\r\n1,2',
      [
        ['a', 'b'],
        ['1', '2'],
      ],
    ],
    [
      'a,b\n"x, y","say ""hi"""\n',
      [
        ['a', 'b'],
        ['x, y', 'say "hi"'],
      ],
    ],
    [
      '\ufeffa,b\n\n1,2\n\n',
      [
        ['a', 'b'],
        ['1', '2'],
      ],
    ],
    [
      'a,b\n1,\n',
      [
        ['a', 'b'],
        ['1', ''],
      ],
    ],
    ['a\n"multi\nline"\n', [['a'], ['multi\nline']]],
  ] as const) {
    it(JSON.stringify(text), () => assert.deepEqual(parseCsv(text), want));
  }
});

describe('decideTask (the classification/regression rule)', () => {
  const many = Array.from({ length: 21 }, (_, i) => String(i));
  for (const [name, labels, task, classes] of [
    ['strings → classes, sorted', ['setosa', 'virginica', 'setosa', 'versicolor'], 'classification', ['setosa', 'versicolor', 'virginica']],
    ['few whole numbers → classes, numeric order', ['10', '2', '1', '2'], 'classification', ['1', '2', '10']],
    [
      '20 distinct whole numbers → still classes',
      many.slice(0, 20),
      'classification',
      many.slice(0, 20).sort((a, b) => Number(a) - Number(b)),
    ],
    ['21 distinct whole numbers → regression', many, 'regression', []],
    ['a fractional value → regression', ['1', '2', '2.5'], 'regression', []],
    ['mixed numbers and words → classes', ['1', 'two'], 'classification', ['1', 'two']],
  ] as const) {
    it(name, () => assert.deepEqual(decideTask(labels), { task, classes }));
  }
});

describe('readCsv', () => {
  it('reads the fixture: features, label column "label", classes', async () => {
    const r = await readCsv(await treeOf(path.join(fixtures, 'tabular')), { log: silentLogger });
    assert.equal(r.format, 'csv');
    assert.equal(r.task, 'classification');
    assert.deepEqual(r.features, ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    assert.deepEqual(r.classes, ['setosa', 'versicolor', 'virginica']);
    assert.equal(r.count, 12);
    assert.deepEqual(r.inputShape, [4]);
    assert.ok(r.x instanceof Float32Array);
    assert.equal(r.x.length, 48);
    assert.equal(r.x[0], Math.fround(5.1));
  });
  it('uses label-column, else the first conventional name (label, target, class, y), saying which', async () => {
    const t = await csvTree('x,y,target\n1,2,5\n3,4,6\n');
    const log = memoryLogger();
    assert.deepEqual((await readCsv(t, { log })).features, ['x', 'y'], "'target' comes before 'y'");
    assert.match(log.lines.join('\n'), /Label column 'target' taken by its name/);
    assert.deepEqual((await readCsv(t, { log: silentLogger, labelColumn: 'x' })).classes, ['1', '3']);
    assert.deepEqual((await readCsv(await csvTree('a,Class,y\n1,p,2\n'), { log: silentLogger })).features, ['a', 'y']);
  });
  it('without label-column or a conventional name, the CSV is refused (never the last column by guess)', async () => {
    await assert.rejects(readCsv(await csvTree('id,amount\n1,2\n'), { log: silentLogger }), (err: unknown) => {
      assert.ok(err instanceof ConfigurationError);
      assert.match(err.message, /^input 'label-column' is not set, and CSV file 'data\.csv' has no column named label, target, class, y/);
      return true;
    });
  });
  it('a regression target becomes float32 targets', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => `${i},${i * 0.5 + 0.25}`).join('\n');
    const r = await readCsv(await csvTree(`f,label\n${rows}\n`), { log: silentLogger });
    assert.equal(r.task, 'regression');
    assert.ok(r.y instanceof Float32Array);
    assert.equal(r.y[3], 1.75);
    assert.deepEqual(r.classes, []);
  });
  it('a missing label column lists the columns', async () => {
    const t = await csvTree('x,y,target\n1,2,a\n');
    await assert.rejects(readCsv(t, { log: silentLogger, labelColumn: 'species' }), (err: unknown) => {
      assert.ok(err instanceof ConfigurationError);
      assert.equal(err.message, "input 'label-column': column 'species' is not in 'data.csv'; its columns are: x, y, target.");
      return true;
    });
  });
  for (const [name, text, message] of [
    ['a non-numeric feature names row and column', 'x,label\n1,a\nbig,b\n', /'data\.csv' row 3, column 'x': 'big' is not a number/],
    ['an empty feature', 'x,label\n,a\n', /row 2, column 'x': '' is not a number/],
    ['a short row', 'x,y,label\n1,2,a\n1,b\n', /row 3 has 2 fields; the header has 3/],
    ['an empty label', 'x,label\n1,\n', /row 2 has an empty label/],
    ['a header without rows', 'x,label\n', /has a header but no rows/],
  ] as const) {
    it(`refuses ${name}`, async () => {
      await assert.rejects(
        readCsv(await csvTree(text), { log: silentLogger }),
        (err: unknown) => err instanceof ConfigurationError && message.test(err.message),
      );
    });
  }
  it('train.csv and test.csv are a given split', async () => {
    const dir = await tempDir('ms-csv-');
    await writeFile(path.join(dir, 'train.csv'), 'x,label\n1,a\n2,b\n');
    await writeFile(path.join(dir, 'test.csv'), 'x,label\n3,a\n');
    const r = await readCsv(await treeOf(dir), { log: silentLogger });
    assert.equal(r.count, 3);
    assert.deepEqual([...r.given!], [2, 0, 0]); // files in name order: test.csv, train.csv
  });
});

after(removeTempDirs);
