import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isNotFound, openRegistry } from '../../shared/registry/index.ts';
import { LayoutStore } from '../../shared/registry/layout.ts';
import { encodeManifest } from '../../shared/registry/store.ts';
import { sha256 } from '../../shared/util/fs.ts';
import type { Registry } from '../../shared/registry/types.ts';
import { ConfigurationError, ModelshipError } from '../../shared/util/errors.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { makeModelDir, tempDir, variantOf } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const NODE = process.execPath;
const CHILD = path.join(here, '..', 'fixtures', 'registry', 'register-child.ts');
const LOCK_HOLDER = path.join(here, '..', 'fixtures', 'registry', 'lock-holder.ts');

let work: string;
let modelA: string;
let modelB: string;

before(async () => {
  work = await tempDir();
  modelA = await makeModelDir(path.join(work, 'model-a'), 1);
  modelB = await variantOf(modelA, path.join(work, 'model-b'), 2);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function fresh(sub: string): Promise<{ reg: Registry; dir: string }> {
  const dir = path.join(work, sub);
  return { reg: await openRegistry(dir, { log: memoryLogger() }), dir };
}

interface Index {
  manifests: { digest: string; annotations?: Record<string, string> }[];
}

async function readIndex(dir: string): Promise<Index> {
  return JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as Index;
}

function versionTags(idx: Index, name: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const d of idx.manifests) {
    const ref = d.annotations?.['org.opencontainers.image.ref.name'] ?? '';
    const m = new RegExp(`^${name}:([0-9]+)$`).exec(ref);
    if (m) {
      assert.ok(!out.has(Number(m[1])), `version ${m[1]} listed twice`);
      out.set(Number(m[1]), d.digest);
    }
  }
  return out;
}

describe('local registry (OCI image layout)', () => {
  it('writes a valid OCI layout, pushes, resolves, pulls byte for byte', async () => {
    const { reg, dir } = await fresh('layout');
    const v = await reg.push(modelA, { name: 'fashion' });
    assert.equal(v.version, 1);
    assert.equal(v.created, true);
    assert.match(v.digest, /^sha256:[0-9a-f]{64}$/);
    assert.ok(v.ref.endsWith(`/fashion:1@${v.digest}`));
    assert.deepEqual(JSON.parse(await readFile(path.join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const idx = await readIndex(dir);
    assert.equal(versionTags(idx, 'fashion').get(1), v.digest);
    // The manifest is an OCI artifact with a modelship config and one titled layer per file.
    const manifest = JSON.parse(await readFile(path.join(dir, 'blobs', 'sha256', v.digest.slice(7)), 'utf8')) as {
      mediaType: string;
      artifactType: string;
      config: { mediaType: string };
      layers: { mediaType: string; annotations: Record<string, string> }[];
      annotations: Record<string, string>;
    };
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.artifactType, 'application/vnd.modelship.model.v1');
    assert.equal(manifest.config.mediaType, 'application/vnd.modelship.model.config.v1+json');
    assert.deepEqual(
      manifest.layers.map((l) => [l.annotations['org.opencontainers.image.title'], l.mediaType]),
      [
        ['model.json', 'application/vnd.modelship.tfjs.model.v1+json'],
        ['weights.bin', 'application/vnd.modelship.tfjs.weights.v1'],
        ['modelship.json', 'application/vnd.modelship.model.metadata.v1+json'],
        ['history.json', 'application/vnd.modelship.model.history.v1+json'],
        ['model-card.md', 'text/markdown'],
      ],
    );
    assert.equal(manifest.annotations['org.opencontainers.image.created'], '2026-01-01T00:01:00.000Z');
    assert.equal(manifest.annotations['org.opencontainers.image.revision'], 'a1b2c3d4e5f6');

    const resolved = await reg.resolve('fashion');
    assert.deepEqual({ version: resolved.version, digest: resolved.digest }, { version: 1, digest: v.digest });
    const pulled = await reg.pull('fashion:1', path.join(work, 'pulled-a'));
    for (const f of ['model.json', 'weights.bin', 'modelship.json', 'history.json', 'model-card.md']) {
      assert.deepEqual(await readFile(path.join(pulled.dir, f)), await readFile(path.join(modelA, f)), f);
    }
    // No temporary siblings are left behind.
    assert.deepEqual(
      (await readdir(work)).filter((f) => f.includes('.partial')),
      [],
    );
  });

  it('is idempotent: the identical model gets the same version and no new entry', async () => {
    const { reg, dir } = await fresh('idem');
    const a = await reg.push(modelA, { name: 'fashion' });
    const before = (await readIndex(dir)).manifests.length;
    const again = await reg.push(modelA, { name: 'fashion' });
    assert.deepEqual([again.version, again.digest, again.created, again.uploadedBytes], [a.version, a.digest, false, 0]);
    assert.equal((await readIndex(dir)).manifests.length, before);
    const b = await reg.push(modelB, { name: 'fashion' });
    assert.deepEqual([b.version, b.created], [2, true]);
    assert.notEqual(b.digest, a.digest);
  });

  it('moves aliases, records the previous target and rolls back one step at a time', async () => {
    const { reg } = await fresh('alias');
    const m3 = await variantOf(modelA, path.join(work, 'model-c'), 3);
    await reg.push(modelA, { name: 'fashion' });
    await reg.push(modelB, { name: 'fashion' });
    await reg.push(m3, { name: 'fashion' });
    const first = await reg.setAlias('fashion', 'production', 1);
    assert.equal(first.from, undefined);
    assert.equal(first.to.version, 1);
    assert.equal((await reg.setAlias('fashion', 'production', 2)).from?.version, 1);
    assert.equal((await reg.setAlias('fashion', 'production', 3)).from?.version, 2);
    assert.equal((await reg.resolve('fashion@production')).version, 3);
    const back = await reg.rollback('fashion', 'production');
    assert.deepEqual([back.from?.version, back.to.version, back.action], [3, 2, 'rollback']);
    assert.equal((await reg.resolve('fashion@production')).version, 2);
    assert.equal((await reg.rollback('fashion', 'production')).to.version, 1);
    await assert.rejects(
      reg.rollback('fashion', 'production'),
      (e: unknown) => e instanceof ConfigurationError && /no earlier target/.test(e.message),
    );
    const list = await reg.list('fashion');
    assert.deepEqual(
      list.map((v) => [v.version, v.aliases]),
      [
        [1, ['production']],
        [2, []],
        [3, []],
      ],
    );
    // A bare alias resolves against the default name.
    const withDefault = await openRegistry(path.join(work, 'alias'), { log: memoryLogger(), defaultName: 'fashion' });
    assert.equal((await withDefault.resolve('production')).version, 1);
    await assert.rejects(reg.resolve('fashion@staging'), (e: unknown) => isNotFound(e) && /fashion@staging does not exist/.test(e.message));
    await assert.rejects(reg.resolve('other'), (e: unknown) => isNotFound(e) && /other has no versions/.test(e.message));
    await assert.rejects(reg.resolve('fashion:9'), /fashion:9 does not exist/);
  });

  it('refuses a folder that is not a tfjs model, saying why', async () => {
    const { reg } = await fresh('bad');
    const bad = path.join(work, 'not-a-model');
    await mkdir(bad, { recursive: true });
    await writeFile(path.join(bad, 'model.json'), JSON.stringify({ format: 'graph-model', modelTopology: {} }));
    await assert.rejects(
      reg.push(bad, { name: 'fashion' }),
      (e: unknown) =>
        e instanceof ConfigurationError && /is not a tfjs model folder: model\.json is not a tfjs layers model/.test(e.message),
    );
    await rm(path.join(bad, 'model.json'));
    await assert.rejects(reg.push(bad, { name: 'fashion' }), /is not a tfjs model folder: no model\.json/);
    await assert.rejects(reg.push(modelA, { name: 'Fashion' }), /'F' is refused/);
  });

  it('pull of a corrupted blob fails naming the blob and leaves nothing in place', async () => {
    const { reg, dir } = await fresh('corrupt');
    const v = await reg.push(modelA, { name: 'fashion' });
    const weights = v.layers.find((l) => l.title === 'weights.bin')!;
    const blob = path.join(dir, 'blobs', 'sha256', weights.digest.slice(7));
    const bytes = await readFile(blob);
    bytes[10] = bytes[10] ^ 0xff;
    await writeFile(blob, bytes);
    const dest = path.join(work, 'pulled-corrupt');
    await assert.rejects(
      reg.pull('fashion:1', dest),
      (e: unknown) => e instanceof ModelshipError && e.message.includes(`blob ${weights.digest} (weights.bin) is corrupt`),
    );
    await assert.rejects(stat(dest), /ENOENT/);
    assert.deepEqual(
      (await readdir(work)).filter((f) => f.startsWith('.pulled-corrupt')),
      [],
    );
  });

  it('refuses a pulled layer whose file name would leave the destination', async () => {
    const dir = path.join(work, 'evil');
    const store = new LayoutStore(dir, memoryLogger());
    const layer = new TextEncoder().encode('pwned');
    const config = new TextEncoder().encode('{"kind":"modelship.model.config","metrics":{}}');
    const desc = (b: Uint8Array) => ({ digest: `sha256:${sha256(b)}`, size: b.length });
    await store.putBlob('fashion', { ...desc(layer), label: 'layer', bytes: layer });
    await store.putBlob('fashion', { ...desc(config), label: 'config', bytes: config });
    const m = encodeManifest({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.modelship.model.v1',
      config: { mediaType: 'application/vnd.modelship.model.config.v1+json', ...desc(config) },
      layers: [{ mediaType: 'text/plain', ...desc(layer), annotations: { 'org.opencontainers.image.title': '../escaped.txt' } }],
    });
    await store.createVersion('fashion', m);
    const reg = await openRegistry(dir, { log: memoryLogger() });
    await assert.rejects(reg.pull('fashion:1', path.join(work, 'evil-pull')), /unsafe or missing file name "\.\.\/escaped\.txt"/);
    await assert.rejects(stat(path.join(work, 'escaped.txt')), /ENOENT/);
    await assert.rejects(stat(path.join(work, 'evil-pull')), /ENOENT/);
  });

  it('refuses to pull over a folder that is not a model folder', async () => {
    const { reg } = await fresh('dest');
    await reg.push(modelA, { name: 'fashion' });
    const dest = path.join(work, 'precious');
    await mkdir(dest, { recursive: true });
    await writeFile(path.join(dest, 'notes.txt'), 'keep me');
    await assert.rejects(reg.pull('fashion:1', dest), /other content/);
    assert.equal(await readFile(path.join(dest, 'notes.txt'), 'utf8'), 'keep me');
    // A model folder is replaced whole.
    const again = path.join(work, 'replace-me');
    await reg.pull('fashion:1', again);
    await writeFile(path.join(again, 'stale.txt'), 'old');
    await reg.pull('fashion:1', again);
    await assert.rejects(stat(path.join(again, 'stale.txt')), /ENOENT/);
  });

  const treeOf = async (dir: string): Promise<string[]> => (await readdir(dir, { recursive: true }).catch(() => [])).map(String).sort();
  const refusedBlobCases: { name: string; setup: (reg: Registry) => Promise<void>; left: (before: string[]) => string[] }[] = [
    {
      // The layout's skeleton stays (an empty registry), the .partial/ this attempt made does not.
      name: 'in a fresh registry: no .partial/ and no blob left',
      setup: async () => {},
      left: () => ['blobs', path.join('blobs', 'sha256'), 'oci-layout'],
    },
    {
      name: 'in a registry holding a version: the tree is as before (its .partial/ kept, empty)',
      setup: async (reg) => void (await reg.push(modelA, { name: 'fashion' })),
      left: (before) => before,
    },
  ];
  for (const [i, c] of refusedBlobCases.entries()) {
    it(`a blob that changed after it was hashed is refused ${c.name}`, async () => {
      const { reg, dir } = await fresh(`partial-${i}`);
      await c.setup(reg);
      const before = await treeOf(dir);
      const store = new LayoutStore(dir, memoryLogger());
      const file = path.join(work, 'changed.bin');
      await writeFile(file, 'abc');
      await assert.rejects(
        store.putBlob('fashion', { digest: `sha256:${sha256('xyz')}`, size: 3, label: 'weights.bin', file }),
        /weights\.bin changed while it was being registered/,
      );
      assert.deepEqual(await treeOf(dir), c.left(before));
    });
  }

  it('16 concurrent register processes, one SIGKILLed midway, leave a valid index with every finished version', async () => {
    const dir = path.join(work, 'concurrent');
    const models = await Promise.all(Array.from({ length: 16 }, (_, i) => variantOf(modelA, path.join(work, `conc-${i}`), 100 + i)));
    const victim = 5;
    const runs = models.map((m, i) => {
      const child = spawn(NODE, [CHILD, dir, m, 'fashion'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
        if (i === victim && err.includes('Registering')) child.kill('SIGKILL');
      });
      return new Promise<{ i: number; code: number | null; signal: string | null; out: string; err: string }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ i, code, signal, out, err })),
      );
    });
    const results = await Promise.all(runs);
    const killed = results[victim];
    assert.equal(killed.signal, 'SIGKILL');
    const finished = results.filter((r) => r.i !== victim);
    for (const r of finished) assert.equal(r.code, 0, `child ${r.i}: ${r.err}`);
    const reported = finished.map((r) => JSON.parse(r.out) as { version: number; digest: string; created: boolean });
    const idx = await readIndex(dir);
    const tags = versionTags(idx, 'fashion');
    for (const r of reported) {
      assert.equal(r.created, true);
      assert.equal(tags.get(r.version), r.digest, `version ${r.version} is in index.json with its digest`);
    }
    assert.equal(new Set(reported.map((r) => r.version)).size, 15, 'distinct versions');
    assert.equal(new Set([...tags.values()]).size, tags.size, 'no digest under two versions');
    assert.ok(tags.size === 15 || tags.size === 16, `index holds ${tags.size} versions`);
    assert.deepEqual(
      [...tags.keys()].sort((a, b) => a - b),
      Array.from({ length: tags.size }, (_, i) => i + 1),
    );
    // Every file in blobs/sha256 is a whole blob named by its digest (partial writes live elsewhere).
    for (const f of await readdir(path.join(dir, 'blobs', 'sha256'))) {
      assert.match(f, /^[0-9a-f]{64}$/);
      assert.equal(sha256(await readFile(path.join(dir, 'blobs', 'sha256', f))), f);
    }
    // The registry still works after the kill.
    const reg = await openRegistry(dir, { log: memoryLogger() });
    assert.equal((await reg.push(models[victim], { name: 'fashion' })).digest.length, 71);
  });

  it('recovers the lock of a process killed while holding it', async () => {
    const { reg, dir } = await fresh('stale-lock');
    await reg.push(modelA, { name: 'fashion' });
    const holder = spawn(NODE, [LOCK_HOLDER, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout.on('data', (c: Buffer) => c.toString().includes('locked') && resolve()));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const v = await reg.push(modelB, { name: 'fashion' });
    assert.equal(v.version, 2);
    assert.equal(versionTags(await readIndex(dir), 'fashion').size, 2);
  });
});
