/**
 * Against a real OCI registry: Debian's docker-registry (distribution 2.8) on 127.0.0.1, started
 * here with a generated config (anonymous, and a second one with htpasswd auth), plus a loopback
 * stand-in in front of it for the bearer token flow, cut uploads and paginated tag lists.
 */
import assert from 'node:assert/strict';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { buildArtifact } from '../../shared/registry/artifact.ts';
import { DistributionStore } from '../../shared/registry/distribution.ts';
import { openRegistry, parseLocation, type RegistryLocation } from '../../shared/registry/index.ts';
import type { OpenOptions, Registry } from '../../shared/registry/types.ts';
import { ConfigurationError, ModelshipError } from '../../shared/util/errors.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { makeModelDir, registryBlobPath, startProxy, startRegistry, tempDir, variantOf, type RunningRegistry } from './helpers.ts';

let work: string;
let modelA: string;
let modelB: string;
let anon: RunningRegistry;
let secured: RunningRegistry;

const FAST = { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 };

before(async () => {
  work = await tempDir();
  modelA = await makeModelDir(path.join(work, 'model-a'), 1);
  modelB = await variantOf(modelA, path.join(work, 'model-b'), 2);
  const hash = bcrypt.hashSync('s3cret-pw', 5);
  [anon, secured] = await Promise.all([startRegistry(), startRegistry({ htpasswd: `alice:${hash}\n` })]);
});
after(async () => {
  await Promise.all([anon?.stop(), secured?.stop()]);
  await rm(work, { recursive: true, force: true });
});

function open(host: string, ns: string, opts: Partial<OpenOptions> = {}): Promise<Registry> {
  return openRegistry(`oci://${host}/${ns}`, { log: memoryLogger(), retry: FAST, ...opts });
}

describe('OCI distribution registry (docker-registry 2.8 on loopback)', () => {
  it('pushes an OCI artifact, resolves, pulls byte for byte, and is idempotent', async () => {
    const reg = await open(anon.host, 'acme/models');
    const v = await reg.push(modelA, { name: 'fashion' });
    assert.deepEqual([v.version, v.created], [1, true]);
    assert.equal(v.ref, `${anon.host}/acme/models/fashion:1@${v.digest}`);
    // The registry holds the manifest as pushed (raw API check).
    const res = await fetch(`http://${anon.host}/v2/acme/models/fashion/manifests/1`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(res.headers.get('docker-content-digest'), v.digest);
    const manifest = (await res.json()) as { artifactType: string; config: { mediaType: string } };
    assert.equal(manifest.artifactType, 'application/vnd.modelship.model.v1');
    assert.equal(manifest.config.mediaType, 'application/vnd.modelship.model.config.v1+json');

    const again = await reg.push(modelA, { name: 'fashion' });
    assert.deepEqual([again.version, again.digest, again.created, again.uploadedBytes], [1, v.digest, false, 0]);
    const b = await reg.push(modelB, { name: 'fashion' });
    assert.deepEqual([b.version, b.created], [2, true]);
    assert.ok(b.uploadedBytes < v.uploadedBytes, 'shared weight blobs are not uploaded again');

    const pulled = await reg.pull('fashion:1', path.join(work, 'pulled-remote'));
    for (const f of ['model.json', 'weights.bin', 'modelship.json', 'history.json', 'model-card.md']) {
      assert.deepEqual(await readFile(path.join(pulled.dir, f)), await readFile(path.join(modelA, f)), f);
    }
    // An inline oci:// reference for the same registry is accepted.
    assert.equal((await reg.resolve(`oci://${anon.host}/acme/models/fashion:2`)).digest, b.digest);
    await assert.rejects(reg.resolve('oci://ghcr.io/acme/models/fashion:2'), /names the registry oci:\/\/ghcr.io\/acme\/models/);
  });

  it('moves aliases as tags, keeps their history and rolls back', async () => {
    const reg = await open(anon.host, 'alias');
    const m3 = await variantOf(modelA, path.join(work, 'model-c'), 3);
    for (const m of [modelA, modelB, m3]) await reg.push(m, { name: 'fashion' });
    await reg.setAlias('fashion', 'production', 1);
    await reg.setAlias('fashion', 'production', 3);
    await reg.setAlias('fashion', 'staging', 2);
    const prod = await reg.resolve('fashion@production');
    assert.deepEqual([prod.version, prod.aliases], [3, ['production']]);
    const back = await reg.rollback('fashion', 'production');
    assert.deepEqual([back.from?.version, back.to.version], [3, 1]);
    assert.equal((await reg.resolve('fashion@production')).version, 1);
    // An evaluate-gate style baseline: a bare alias with the model name known.
    const withName = await open(anon.host, 'alias', { defaultName: 'fashion' });
    const base = await withName.resolve('production');
    assert.equal(base.version, 1);
    const pulled = await withName.pull(base, path.join(work, 'baseline'));
    assert.equal(pulled.resolved.digest, base.digest);
    const list = await reg.list('fashion');
    assert.deepEqual(
      list.map((v) => [v.version, v.aliases]),
      [
        [1, ['production']],
        [2, ['staging']],
        [3, []],
      ],
    );
  });

  it('follows paginated tag lists (Link rel="next")', async () => {
    const proxy = await startProxy(anon.host, { pageTags: 2 });
    try {
      const reg = await open(proxy.host, 'alias');
      assert.equal((await reg.resolve('fashion')).version, 3);
      assert.ok(proxy.seen.filter((s) => s.endsWith('/tags/list')).length >= 3, 'several pages were read');
    } finally {
      await proxy.stop();
    }
  });

  it('concurrent registers get distinct versions, none lost', async () => {
    const models = await Promise.all(Array.from({ length: 6 }, (_, i) => variantOf(modelA, path.join(work, `rc-${i}`), 200 + i)));
    const results = await Promise.all(models.map(async (m) => (await open(anon.host, 'race')).push(m, { name: 'fashion' })));
    const versions = results.map((r) => r.version);
    assert.equal(new Set(versions).size, 6, `distinct versions: ${versions.join(',')}`);
    assert.deepEqual(
      [...versions].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6],
    );
    const reg = await open(anon.host, 'race');
    for (const r of results) assert.equal((await reg.resolve(`fashion:${r.version}`)).digest, r.digest);
  });

  it('detects a lost race for a version number (another manifest lands on the tag just after ours) and takes the next', async () => {
    // The racer's model is uploaded beforehand under a non-version tag.
    const racer = await buildArtifact(modelB, { name: 'fashion', now: new Date() });
    const store = new DistributionStore(parseLocation(`oci://${anon.host}/hijack`, work) as Extract<RegistryLocation, { kind: 'oci' }>, {
      log: memoryLogger(),
    });
    for (const b of racer.blobs) await store.putBlob('fashion', b);
    await store.putManifest('fashion', racer.manifest, '_racer');
    const proxy = await startProxy(anon.host, {
      hijack: { tag: '1', fn: () => store.putManifest('fashion', racer.manifest, '1') },
    });
    try {
      const log = memoryLogger();
      const reg = await open(proxy.host, 'hijack', { log });
      const v = await reg.push(modelA, { name: 'fashion' });
      assert.equal(v.version, 2);
      assert.ok(
        log.lines.some((l) => /fashion:1 went to another registration/.test(l)),
        log.lines.join('\n'),
      );
      assert.equal((await reg.resolve('fashion:1')).digest, racer.manifest.digest);
      assert.equal((await reg.resolve('fashion:2')).digest, v.digest);
    } finally {
      await proxy.stop();
    }
  });

  it('pull of a blob corrupted on the registry disk fails naming it and leaves nothing', async () => {
    const reg = await open(anon.host, 'corrupt');
    const v = await reg.push(modelA, { name: 'fashion' });
    const weights = v.layers.find((l) => l.title === 'weights.bin')!;
    const file = registryBlobPath(anon.root, weights.digest);
    const bytes = await readFile(file);
    bytes[20] = bytes[20] ^ 0xff;
    await writeFile(file, bytes);
    const dest = path.join(work, 'pulled-corrupt');
    try {
      await assert.rejects(
        reg.pull('fashion:1', dest),
        (e: unknown) => e instanceof ModelshipError && e.message.includes(`blob ${weights.digest} (weights.bin) is corrupt`),
      );
      await assert.rejects(stat(dest), /ENOENT/);
    } finally {
      bytes[20] = bytes[20] ^ 0xff;
      await writeFile(file, bytes);
    }
  });

  it('retries an upload whose connection is cut, and creates no version when it never gets through', async () => {
    const proxy = await startProxy(anon.host, { cut: 1 });
    try {
      const log = memoryLogger();
      const reg = await open(proxy.host, 'cut', { log });
      const v = await reg.push(modelA, { name: 'fashion' });
      assert.equal(proxy.cuts, 1);
      assert.ok(
        log.lines.some((l) => /retrying in \d+ ms/.test(l)),
        log.lines.join('\n'),
      );
      assert.equal((await reg.resolve('fashion:1')).digest, v.digest);
      await reg.pull('fashion:1', path.join(work, 'pulled-after-cut'));
    } finally {
      await proxy.stop();
    }
    const always = await startProxy(anon.host, { cut: 1000 });
    try {
      const reg = await open(always.host, 'never', { log: memoryLogger() });
      await assert.rejects(
        reg.push(modelB, { name: 'fashion' }),
        (e: unknown) => e instanceof ModelshipError && /failed after 4 attempts/.test(e.message),
      );
      const tags = await fetch(`http://${anon.host}/v2/never/fashion/tags/list`);
      assert.equal(tags.status, 404, 'no version was created');
    } finally {
      await always.stop();
    }
  });

  it('basic auth (htpasswd): right credentials work, wrong or missing ones are refused with the scope', async () => {
    const ok = await open(secured.host, 'team', { username: 'alice', password: 's3cret-pw' });
    const v = await ok.push(modelA, { name: 'fashion' });
    await ok.setAlias('fashion', 'production', v.version);
    assert.equal((await ok.resolve('fashion@production')).version, 1);
    await ok.pull('fashion@production', path.join(work, 'pulled-secured'));

    const wrong = await open(secured.host, 'team', { username: 'alice', password: 'nope' });
    await assert.rejects(
      wrong.push(modelB, { name: 'fashion' }),
      (e: unknown) =>
        e instanceof ConfigurationError &&
        e.message.startsWith(`${secured.host} refused the password of user 'alice' for repository:team/fashion:push`) &&
        /must grant push on team\/fashion/.test(e.hint ?? ''),
    );
    const none = await open(secured.host, 'team');
    await assert.rejects(
      none.resolve('fashion:1'),
      (e: unknown) =>
        e instanceof ConfigurationError &&
        e.message.startsWith(`${secured.host} refused anonymous access for repository:team/fashion:pull`),
    );
    // The password reaches the registry from its caller only (the step's input), and is masked.
    const masked: string[] = [];
    const given = await openRegistry(`oci://${secured.host}/team`, {
      log: { ...memoryLogger(), secret: (s) => masked.push(s) },
      username: 'alice',
      password: 's3cret-pw',
      retry: FAST,
    });
    assert.equal((await given.resolve('fashion@production')).version, 1);
    assert.ok(masked.includes('s3cret-pw'));
  });

  it('the registry CLI works over the OCI transport with credentials from the environment', async () => {
    const { PassThrough } = await import('node:stream');
    const { registryCommand } = await import('../../shared/cli/registry.ts');
    const cli = async (...argv: string[]): Promise<string> => {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c: Buffer) => (out += c.toString()));
      // The user name from --username, or (as a cluster's init container passes it) the environment.
      const fromEnv = argv[0] === 'pull';
      const code = await registryCommand(
        [...argv, '--registry', `oci://${secured.host}/cli`, ...(fromEnv ? [] : ['--username', 'alice'])],
        {
          log: memoryLogger(),
          stdout,
          cwd: work,
          env: { MODELSHIP_REGISTRY_PASSWORD: 's3cret-pw', ...(fromEnv ? { MODELSHIP_REGISTRY_USERNAME: 'alice' } : {}) },
        },
      );
      assert.equal(code, 0);
      return out;
    };
    const reg = await open(secured.host, 'cli', { username: 'alice', password: 's3cret-pw' });
    await reg.push(modelA, { name: 'fashion' });
    await reg.push(modelB, { name: 'fashion' });
    assert.equal(await cli('promote', 'fashion:1', 'production'), 'fashion@production: (new) → v1\n');
    assert.equal(await cli('promote', 'fashion:2', 'production'), 'fashion@production: v1 → v2\n');
    assert.match(await cli('list', 'fashion'), new RegExp(`^fashion in ${secured.host}/cli\\n.*\\n2 .*production`));
    assert.equal(await cli('rollback', 'fashion', 'production'), 'fashion@production: v2 → v1 (rolled back)\n');
    assert.match(await cli('diff', 'fashion:1', 'fashion@production'), /param\s+fashion:1\s+fashion:1|params: identical/);
    assert.match(await cli('pull', 'fashion@production', 'cli-pulled'), new RegExp(`^pulled ${secured.host}/cli/fashion:1@sha256:`));
  });

  it('bearer token flow: token from the realm with basic credentials; a token without push is refused naming the scope', async () => {
    const proxy = await startProxy(anon.host, { bearer: { user: 'ci', password: 'ghs_token', grantPush: true } });
    const readOnly = await startProxy(anon.host, { bearer: { user: 'ci', password: 'ghs_token', grantPush: false } });
    try {
      const masked: string[] = [];
      const reg = await open(proxy.host, 'bearer', {
        username: 'ci',
        password: 'ghs_token',
        log: { ...memoryLogger(), secret: (s) => masked.push(s) },
      });
      const v = await reg.push(modelA, { name: 'fashion' });
      assert.equal(v.version, 1);
      assert.ok(proxy.seen.includes('GET /token'));
      assert.ok(
        masked.some((s) => s.startsWith('tok.')),
        'the token is masked',
      );
      const ro = await open(readOnly.host, 'bearer', { username: 'ci', password: 'ghs_token' });
      assert.equal((await ro.resolve('fashion:1')).digest, v.digest);
      await assert.rejects(
        ro.push(modelB, { name: 'fashion' }),
        (e: unknown) =>
          e instanceof ConfigurationError &&
          e.message.startsWith(
            `${readOnly.host} refused the password of user 'ci' for repository:bearer/fashion:push (DENIED: permission_denied`,
          ),
      );
      // Tokens that expire after a few requests are fetched again.
      const expiring = await startProxy(anon.host, { bearer: { user: 'ci', password: 'ghs_token', grantPush: true, tokenUses: 3 } });
      try {
        const reg2 = await open(expiring.host, 'bearer-expiring', { username: 'ci', password: 'ghs_token' });
        assert.equal((await reg2.push(modelA, { name: 'fashion' })).version, 1);
        assert.ok(expiring.seen.filter((x) => x === 'GET /token').length > 2, 'tokens were renewed');
      } finally {
        await expiring.stop();
      }
      const bad = await open(proxy.host, 'bearer', { username: 'ci', password: 'wrong' });
      await assert.rejects(
        bad.resolve('fashion:1'),
        /refused the password of user 'ci' for repository:bearer\/fashion:pull \(token endpoint answered 401\)/,
      );
    } finally {
      await Promise.all([proxy.stop(), readOnly.stop()]);
    }
  });
});
