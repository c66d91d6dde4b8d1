/**
 * setup-data's core end to end: the manifest contract, digest independence of order and location,
 * split stability, the state-file fast path, the cache, checksums, downloads, atomic output.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rename, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { countingHasher } from '../../shared/data/hash.ts';
import { loadManifest, readSplit } from '../../shared/data/load.ts';
import type { DatasetManifest } from '../../shared/data/manifest.ts';
import { detectFormat, setupData, type DataCache, type SetupDataOptions } from '../../shared/data/prepare.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { memoryLogger, silentLogger } from '../../shared/util/log.ts';
import { makeImageFolder, makeTar, removeTempDirs, tempDir, treeOf, writeImage } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const sample = path.join(here, '../../demo/fashion-sample');
const fixtures = path.join(here, '../fixtures/data');

function options(source: string, cwd: string, extra: Partial<SetupDataOptions> = {}): SetupDataOptions {
  return { source, format: 'auto', split: '80/10/10', cache: true, outputDir: 'out', cwd, ...extra };
}

const run = (opts: SetupDataOptions, deps: Partial<Parameters<typeof setupData>[1]> = {}) =>
  setupData(opts, { log: silentLogger, ...deps });

describe('the manifest contract on the shipped sample', () => {
  it('writes manifest.json and tensors that load back', async () => {
    const cwd = await tempDir();
    const r = await run(options(sample, cwd));
    const m = r.manifest;
    assert.equal(m.kind, 'modelship.dataset');
    assert.equal(m.format, 'idx');
    assert.equal(m.task, 'classification');
    assert.match(m.digest, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(m.inputShape, [28, 28, 1]);
    assert.equal(m.classes.length, 10);
    assert.equal(m.split.given, true);
    assert.deepEqual(m.split.carved, ['validation'], 'train and t10k given; validation carved from train');
    assert.equal(m.splits.test.count, 1000, 'the given test split is kept whole');
    assert.equal(m.splits.train.count + m.splits.validation.count, 2000);
    assert.ok(m.splits.validation.count > 150 && m.splits.validation.count < 250, `validation ${m.splits.validation.count}`);
    for (const s of ['train', 'validation', 'test'] as const) {
      assert.equal(
        m.splits[s].classCounts.reduce((a, b) => a + b, 0),
        m.splits[s].count,
      );
      assert.equal(m.splits[s].x.dtype, 'uint8');
      assert.equal(m.splits[s].y.dtype, 'int32');
      const bytes = await readFile(path.join(r.datasetDir, m.splits[s].x.file));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), m.splits[s].x.sha256);
    }
    assert.equal(m.files.length, 5);
    for (const f of m.files)
      assert.equal(
        f.sha256,
        createHash('sha256')
          .update(await readFile(path.join(sample, f.path)))
          .digest('hex'),
      );
    // Statistics: class distribution sums to 1, one channel, a 32-bin pixel histogram over the train split.
    assert.ok(Math.abs(m.statistics.classDistribution.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    assert.equal(m.statistics.channels.length, 1);
    assert.equal(
      m.statistics.histogram.counts.reduce((a, b) => a + b, 0),
      m.splits.train.count * 784,
    );
    const loaded = await loadManifest(r.manifestPath);
    const test = await readSplit(loaded, 'test');
    assert.equal(test.count, 1000);
    assert.ok(test.x instanceof Uint8Array && test.x.length === 1000 * 784);
    assert.ok(test.y instanceof Int32Array && Math.max(...test.y) === 9);
  });
  it('CSV gives float32 features and per-feature statistics', async () => {
    const cwd = await tempDir();
    const r = await run(options(path.join(fixtures, 'tabular/iris-mini.csv'), cwd, { split: '50/25/25' }));
    const m = r.manifest;
    assert.equal(m.format, 'csv');
    assert.deepEqual(m.features, ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    assert.equal(m.splits.train.x.dtype, 'float32');
    assert.equal(m.statistics.features?.length, 4);
    assert.equal(m.splits.train.count + m.splits.validation.count + m.splits.test.count, 12);
    const train = await readSplit(await loadManifest(r.datasetDir), 'train');
    assert.ok(train.x instanceof Float32Array);
  });
});

describe('the digest', () => {
  it('does not depend on file names, file order or where the folder lives', async () => {
    const a = await tempDir();
    const b = await tempDir('ms-elsewhere-');
    await makeImageFolder(path.join(a, 'data'), { cat: 5, dog: 4 }, { seedBase: 1 });
    // Same images, other names, written in the opposite order, in another place.
    await mkdir(path.join(b, 'deep/set/cat'), { recursive: true });
    await mkdir(path.join(b, 'deep/set/dog'), { recursive: true });
    for (let s = 9; s >= 1; s--) {
      const cls = s <= 5 ? 'cat' : 'dog';
      await writeImage(path.join(b, 'deep/set', cls, `z-${100 - s}.png`), { seed: s });
    }
    const ra = await run(options('data', a));
    const rb = await run(options('deep/set', b, { outputDir: '../out-b' }));
    assert.equal(rb.manifest.digest, ra.manifest.digest);
    for (const s of ['train', 'validation', 'test'] as const) {
      assert.equal(rb.manifest.splits[s].digest, ra.manifest.splits[s].digest);
      assert.equal(rb.manifest.splits[s].x.sha256, ra.manifest.splits[s].x.sha256);
    }
  });
  it('changes when a label changes (so the check above can fail)', async () => {
    const a = await tempDir();
    await makeImageFolder(path.join(a, 'data'), { cat: 5, dog: 4 }, { seedBase: 1 });
    const before = await run(options('data', a));
    await rename(path.join(a, 'data/dog/dog-0.png'), path.join(a, 'data/cat/moved.png'));
    const after = await run(options('data', a));
    assert.notEqual(after.manifest.digest, before.manifest.digest);
  });
});

describe('split stability through the whole step: added examples never move old ones', () => {
  for (const [seed, split] of [
    [0, '80/10/10'],
    [3, '60/20/20'],
    [11, '70/0/30'],
  ] as const) {
    it(`seed ${seed}, split ${split}`, async () => {
      const cwd = await tempDir();
      await makeImageFolder(path.join(cwd, 'data'), { a: 20, b: 20 }, { seedBase: 1 });
      const where = (m: DatasetManifest): Map<string, string | undefined> => new Map(m.files.map((f) => [f.path, f.split]));
      const first = where((await run(options('data', cwd, { splitSeed: seed, split }))).manifest);
      await makeImageFolder(path.join(cwd, 'data'), { a: 0, b: 0, c: 15 }, { seedBase: 500 });
      const again = where((await run(options('data', cwd, { splitSeed: seed, split }))).manifest);
      assert.equal(again.size, first.size + 15);
      for (const [file, s] of first) assert.equal(again.get(file), s, `${file} moved`);
      // The same data and seed give the same split in a fresh place.
      const other = await tempDir();
      await cp(path.join(cwd, 'data'), path.join(other, 'data'), { recursive: true });
      assert.deepEqual(where((await run(options('data', other, { splitSeed: seed, split }))).manifest), again);
    });
  }
});

describe('re-runs', () => {
  it('recognise an unchanged source by size and mtime, without re-hashing', async () => {
    const cwd = await tempDir();
    await makeImageFolder(path.join(cwd, 'data'), { a: 3, b: 3 });
    const h1 = countingHasher();
    const r1 = await run(options('data', cwd), { hasher: h1 });
    assert.equal(h1.files.length, 6);
    assert.equal(r1.cacheHit, false);
    const h2 = countingHasher();
    const r2 = await run(options('data', cwd), { hasher: h2 });
    assert.deepEqual(h2.files, [], 'nothing re-hashed');
    assert.equal(r2.cacheHit, true);
    assert.equal(r2.origin, 'unchanged');
    assert.equal(r2.manifest.digest, r1.manifest.digest);
    // A touched file (same bytes, new mtime) is hashed again, alone, and the output is still reused.
    await utimes(path.join(cwd, 'data/a/a-0.png'), new Date(), new Date(Date.now() + 5000));
    const h3 = countingHasher();
    const r3 = await run(options('data', cwd), { hasher: h3 });
    assert.deepEqual(h3.files, [path.join(cwd, 'data/a/a-0.png')]);
    assert.equal(r3.cacheHit, true);
    // New bytes: rebuilt.
    await writeImage(path.join(cwd, 'data/a/a-0.png'), { seed: 99 });
    const r4 = await run(options('data', cwd));
    assert.equal(r4.cacheHit, false);
    assert.notEqual(r4.manifest.digest, r1.manifest.digest);
  });
  it('hash a single-file source once, and an archive with its extraction not at all on the second run', async () => {
    const cwd = await tempDir();
    const h1 = countingHasher();
    await run(options(path.join(fixtures, 'tabular/iris-mini.csv'), cwd), { hasher: h1 });
    assert.equal(h1.files.length, 1);
    const tarCwd = await tempDir();
    const entries = [];
    for (const n of [1, 2, 3, 4]) {
      await writeImage(path.join(tarCwd, 'img.png'), { seed: n });
      entries.push({ path: `set/${n % 2 ? 'odd' : 'even'}/${n}.png`, data: await readFile(path.join(tarCwd, 'img.png')) });
    }
    await writeFile(path.join(tarCwd, 'set.tgz'), makeTar(entries));
    await run(options('set.tgz', tarCwd));
    const h2 = countingHasher();
    const again = await run(options('set.tgz', tarCwd), { hasher: h2 });
    assert.deepEqual(h2.files, []);
    assert.equal(again.origin, 'unchanged');
    assert.deepEqual(again.manifest.classes, ['even', 'odd']);
  });
  it('two runs at once into one folder take turns (a lock beside the folder)', async () => {
    const cwd = await tempDir();
    await makeImageFolder(path.join(cwd, 'data'), { a: 3, b: 3 });
    const [r1, r2] = await Promise.all([run(options('data', cwd)), run(options('data', cwd))]);
    assert.equal(r1.manifest.digest, r2.manifest.digest);
    assert.deepEqual([r1.origin, r2.origin].sort(), ['built', 'unchanged']);
    assert.deepEqual((await readdir(cwd)).sort(), ['data', 'out']);
  });
  it('rebuild when the options change, and when the output was damaged', async () => {
    const cwd = await tempDir();
    await makeImageFolder(path.join(cwd, 'data'), { a: 3, b: 3 });
    await run(options('data', cwd));
    assert.equal((await run(options('data', cwd, { splitSeed: 5 }))).cacheHit, false);
    await writeFile(path.join(cwd, 'out/train.x.bin'), 'torn');
    const r = await run(options('data', cwd, { splitSeed: 5 }));
    assert.equal(r.cacheHit, false);
  });
  it('restore from the cache into a fresh folder, and save after a build', async () => {
    const store = new Map<string, string>();
    const saves: string[] = [];
    const cacheRoot = await tempDir('ms-cache-');
    const cache: DataCache = {
      async restore(dir, key) {
        const from = store.get(key);
        if (!from) return false;
        await cp(from, dir, { recursive: true });
        return true;
      },
      async save(dir, key) {
        saves.push(key);
        const to = path.join(cacheRoot, String(store.size));
        await cp(dir, to, { recursive: true });
        store.set(key, to);
      },
    };
    const cwd = await tempDir();
    await makeImageFolder(path.join(cwd, 'data'), { a: 3, b: 3 });
    const r1 = await run(options('data', cwd), { cache });
    assert.deepEqual(saves, [r1.cacheKey]);
    assert.ok(!(await readdir(store.get(r1.cacheKey)!)).includes('.modelship-state.json'), 'the machine-local state is not cached');
    const r2 = await run(options('data', cwd, { outputDir: 'elsewhere' }), { cache });
    assert.equal(r2.origin, 'cache');
    assert.equal(r2.cacheHit, true);
    assert.equal(r2.manifest.digest, r1.manifest.digest);
    assert.equal((await loadManifest(path.join(cwd, 'elsewhere'))).manifest.digest, r1.manifest.digest);
    // cache: false turns it off.
    const r3 = await run(options('data', cwd, { outputDir: 'third', cache: false }), { cache });
    assert.equal(r3.origin, 'built');
  });
});

describe('a tampered Actions cache entry', () => {
  /** A fake cache over folders; `tamper` edits what it stored before the next restore. */
  function folderCache(root: string): { cache: DataCache; entry: (key: string) => string } {
    const store = new Map<string, string>();
    return {
      cache: {
        async restore(dir, key) {
          const from = store.get(key);
          if (!from) return false;
          await cp(from, dir, { recursive: true });
          return true;
        },
        async save(dir, key) {
          const to = path.join(root, String(store.size));
          await cp(dir, to, { recursive: true });
          store.set(key, to);
        },
      },
      entry: (key) => store.get(key)!,
    };
  }

  const cases: { name: string; file: string; tamper: (file: string) => Promise<void> }[] = [
    {
      name: "flipped bytes in the test split's tensors",
      file: 'test.x.bin',
      tamper: async (f) => {
        const b = await readFile(f);
        b[0] ^= 0xff;
        await writeFile(f, b);
      },
    },
    { name: "a truncated train split's labels", file: 'train.y.bin', tamper: async (f) => writeFile(f, (await readFile(f)).subarray(4)) },
    {
      name: 'a manifest whose digest was edited by hand',
      file: 'manifest.json',
      tamper: async (f) => {
        const m = JSON.parse(await readFile(f, 'utf8')) as { digest: string };
        await writeFile(f, JSON.stringify({ ...m, digest: `sha256:${'0'.repeat(64)}` }));
      },
    },
  ];

  for (const c of cases) {
    it(`${c.name}: the restore is refused naming ${c.file}, the data is built again, nothing corrupt is left`, async () => {
      const { cache, entry } = folderCache(await tempDir('ms-cache-'));
      const cwd = await tempDir();
      await makeImageFolder(path.join(cwd, 'data'), { a: 10, b: 10 });
      const first = await run(options('data', cwd), { cache });
      const cached = path.join(entry(first.cacheKey), c.file);
      assert.ok((await readFile(cached)).length > 4, `${c.file} has bytes to tamper with`);
      await c.tamper(cached);
      const before = await treeOf(cwd);

      const log = memoryLogger();
      const r = await run(options('data', cwd, { outputDir: 'fresh' }), { cache, log });
      assert.equal(r.origin, 'built');
      assert.equal(r.cacheHit, false);
      assert.equal(r.manifest.digest, first.manifest.digest);
      const refused = log.lines.filter((l) => l.includes(`Actions cache entry ${first.cacheKey}`));
      assert.equal(refused.length, 1, log.lines.join('\n'));
      assert.match(
        refused[0],
        new RegExp(`^warning: .*does not verify against its manifest.*${c.file.replace('.', '\\.')}.*; preparing the data again\\.$`),
      );
      // What is in the output folder is the rebuilt data, which verifies in full; the stage is gone.
      const fresh = await loadManifest(path.join(cwd, 'fresh'));
      for (const s of ['train', 'validation', 'test'] as const) await readSplit(fresh, s);
      for (const f of ['train.x.bin', 'train.y.bin', 'test.x.bin', 'test.y.bin'])
        assert.deepEqual(await readFile(path.join(cwd, 'fresh', f)), await readFile(path.join(cwd, 'out', f)), f);
      assert.deepEqual(
        (await treeOf(cwd)).filter((p) => p !== 'fresh' && !p.startsWith(`fresh${path.sep}`)),
        before,
      );
    });
  }
});

describe('atomic output', () => {
  it('a failing run leaves the earlier good output untouched and nothing half-written', async () => {
    const cwd = await tempDir();
    await makeImageFolder(path.join(cwd, 'data'), { a: 3, b: 3 });
    const good = await run(options('data', cwd));
    const before = await readFile(path.join(cwd, 'out/manifest.json'), 'utf8');
    await writeFile(path.join(cwd, 'data/b/broken.png'), 'not a png');
    await assert.rejects(run(options('data', cwd)), /image file 'b\/broken\.png' is corrupt/);
    assert.equal(await readFile(path.join(cwd, 'out/manifest.json'), 'utf8'), before);
    assert.equal((await loadManifest(path.join(cwd, 'out'))).manifest.digest, good.manifest.digest);
    assert.deepEqual(
      (await readdir(cwd)).filter((n) => n.includes('partial')),
      [],
    );
  });
});

describe('archives, checksums and downloads', () => {
  let server: Server;
  let base: string;
  let hits = 0;
  let archiveBytes: Buffer;
  let archiveSha: string;
  before(async () => {
    const src = await tempDir();
    await makeImageFolder(path.join(src, 'set'), { a: 2, b: 2 });
    const entries = [];
    for (const rel of await treeOf(path.join(src, 'set'))) {
      const abs = path.join(src, 'set', rel);
      if (rel.endsWith('.png')) entries.push({ path: `set/${rel}`, data: await readFile(abs) });
    }
    archiveBytes = makeTar(entries);
    archiveSha = createHash('sha256').update(archiveBytes).digest('hex');
    server = createServer((req, res) => {
      hits++;
      if (new URL(req.url ?? '/', 'http://x').pathname === '/data/set.tar.gz') {
        res.writeHead(200, { 'content-type': 'application/gzip' });
        res.end(archiveBytes);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reads a local archive and verifies its checksum (hex or sha256:hex)', async () => {
    const cwd = await tempDir();
    await writeFile(path.join(cwd, 'set.tar.gz'), archiveBytes);
    const r = await run(options('set.tar.gz', cwd, { checksum: `sha256:${archiveSha}` }));
    assert.equal(r.manifest.format, 'image-folder');
    assert.deepEqual(r.manifest.classes, ['a', 'b']);
    assert.equal(r.manifest.source.sha256, archiveSha);
    await assert.rejects(run(options('set.tar.gz', cwd, { checksum: '0'.repeat(64), outputDir: 'out2' })), (err: unknown) => {
      assert.ok(err instanceof ConfigurationError);
      assert.match(err.message, /^input 'checksum' does not match: 'set\.tar\.gz' has sha256 [0-9a-f]{64}, expected 0{64}\.$/);
      return true;
    });
    assert.ok(!(await readdir(cwd)).includes('out2'));
    await assert.rejects(run(options('set.tar.gz', cwd, { checksum: 'abc' })), /input 'checksum' must be a sha256/);
  });
  it('downloads over http(s), verifies, and reuses a download whose checksum matches', async () => {
    const cwd = await tempDir();
    hits = 0;
    const url = `${base}/data/set.tar.gz?token=secret`;
    const log = memoryLogger();
    const r1 = await run(options(url, cwd, { checksum: archiveSha }), { log });
    assert.ok(log.lines.length > 0);
    assert.deepEqual(
      log.lines.filter((l) => l.includes('secret')),
      [],
      'the query string (tokens) never reaches the log',
    );
    assert.equal(hits, 1);
    assert.equal(r1.manifest.source.uri, `${base}/data/set.tar.gz`, 'no query string (tokens) in the manifest');
    const r2 = await run(options(url, cwd, { checksum: archiveSha, outputDir: 'out2' }));
    assert.equal(hits, 1, 'served from the earlier download');
    assert.equal(r2.manifest.digest, r1.manifest.digest);
  });
  it('a download with the wrong checksum fails and keeps nothing', async () => {
    const cwd = await tempDir();
    await assert.rejects(run(options(`${base}/data/set.tar.gz`, cwd, { checksum: 'f'.repeat(64) })), /input 'checksum' does not match/);
    const downloads = path.join(cwd, '.modelship-work/downloads');
    const left = (await treeOf(downloads)).filter((n) => n.endsWith('.gz') || n.endsWith('.partial'));
    assert.deepEqual(left, []);
    assert.ok(!(await readdir(cwd)).includes('out'));
  });
  it('refuses plain http to other hosts, and reports HTTP errors', async () => {
    const cwd = await tempDir();
    await assert.rejects(run(options('http://example.com/data.zip', cwd)), /only https:\/\/ downloads are allowed/);
    await assert.rejects(run(options(`${base}/missing.zip`, cwd)), /answered HTTP 404/);
  });
});

describe('bad inputs', () => {
  for (const [name, opts, message] of [
    ['no source', { source: undefined }, /input 'source' is required/],
    ['a missing source', { source: 'nope/' }, /input 'source': 'nope\/' does not exist/],
    ['a bad split', { split: '80/20' }, /input 'split'/],
    ['a bad image-size', { imageSize: '28' }, /input 'image-size' must be WIDTHxHEIGHT/],
    ['image-size with csv', { format: 'csv', imageSize: '28x28' }, /image-size' applies to image folders/],
    ['a checksum on a folder', { checksum: 'a'.repeat(64) }, /input 'checksum' is set but source 'data' is a folder/],
    ['output inside the source', { outputDir: 'data/out' }, /input 'output-dir' \('data\/out'\) is inside the source/],
  ] as const) {
    it(`${name} is a ConfigurationError naming the input`, async () => {
      const cwd = await tempDir();
      await makeImageFolder(path.join(cwd, 'data'), { a: 1, b: 1 });
      await assert.rejects(
        run({ ...options('data', cwd), ...opts }),
        (err: unknown) => err instanceof ConfigurationError && message.test(err.message),
      );
    });
  }
});

describe('detectFormat', () => {
  const tree = (files: string[], dirs: string[] = []) => ({
    root: '/',
    label: 'src',
    files: files.map((rel) => ({ rel, abs: `/${rel}`, sha256: '', size: 0 })),
    dirs,
  });
  for (const [files, want] of [
    [['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'], 'idx'],
    [['cat/1.png', 'dog/2.JPG'], 'image-folder'],
    [['train/cat/1.jpeg'], 'image-folder'],
    [['data.csv'], 'csv'],
    [['cat/1.png', 'meta.csv'], 'image-folder'],
  ] as const) {
    it(`${files.join(', ')} → ${want}`, () => assert.equal(detectFormat(tree([...files])), want));
  }
  it('nothing readable is an error', () => assert.throws(() => detectFormat(tree(['notes.txt'])), /holds nothing modelship can read/));
});

after(removeTempDirs);
