/**
 * Test support for the registry: a small real tfjs model folder, variants of it, and a real OCI
 * registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1 with a generated config.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { saveModel } from '../../shared/model/io.ts';
import type { ModelMetadata } from '../../shared/model/metadata.ts';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export async function tempDir(prefix = 'modelship-registry-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export function metadataFor(seed: number, extra: Partial<ModelMetadata> = {}): ModelMetadata {
  return {
    schemaVersion: 1,
    kind: 'modelship.model',
    name: 'fashion',
    task: 'classification',
    inputShape: [4, 4, 1],
    classes: ['a', 'b', 'c'],
    preprocessing: { scale: 1 / 255, offset: 0 },
    dataset: { digest: `sha256:${'d'.repeat(64)}`, splits: { test: `sha256:${'e'.repeat(64)}` } },
    params: { architecture: 'mlp', epochs: 1, batchSize: 8, learningRate: 0.001, seed, earlyStoppingPatience: 0 },
    backend: 'cpu',
    versions: { '@tensorflow/tfjs-core': tf.version_core },
    git: { commit: 'a1b2c3d4e5f6' },
    metrics: { valAccuracy: 0.5 + seed / 1000, valLoss: 1 - seed / 1000, epochsRun: 1 },
    training: { startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:00.000Z', durationSeconds: 60, samplesPerSecond: 100 },
    ...extra,
  };
}

/** A small real tfjs layers model folder (dense 16 → 3), weights `units`-dependent in size. */
export async function makeModelDir(dir: string, seed = 1, units = 16): Promise<string> {
  const model = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [4, 4, 1] }),
      tfl.layers.dense({ units, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }),
      tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
  await saveModel(model, dir, metadataFor(seed), {
    history: [{ epoch: 1, loss: 1, acc: 0.5, valLoss: 1, valAcc: 0.5, samplesPerSecond: 100, seconds: 1 }],
    modelCard: `# fashion\n\nseed ${seed}\n`,
  });
  model.dispose();
  return dir;
}

/** A copy of a model folder whose metadata differs (so its digest differs; weights are shared). */
export async function variantOf(src: string, dest: string, seed: number): Promise<string> {
  await cp(src, dest, { recursive: true });
  const md = JSON.parse(await readFile(path.join(dest, 'modelship.json'), 'utf8')) as ModelMetadata;
  await writeFile(
    path.join(dest, 'modelship.json'),
    JSON.stringify({ ...md, params: { ...md.params, seed }, metrics: { ...md.metrics, valAccuracy: 0.5 + seed / 1000 } }),
  );
  return dest;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningRegistry {
  readonly port: number;
  readonly host: string;
  readonly root: string;
  stop(): Promise<void>;
}

/**
 * Starts docker-registry on 127.0.0.1 with filesystem storage in a temporary folder; with
 * `htpasswd` (file content) it requires basic auth.
 */
export async function startRegistry(opts: { htpasswd?: string } = {}): Promise<RunningRegistry> {
  const dir = await tempDir('modelship-oci-');
  const root = path.join(dir, 'storage');
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${root}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: modelship-test-${port}`,
  ];
  if (opts.htpasswd !== undefined) {
    await writeFile(path.join(dir, 'htpasswd'), opts.htpasswd);
    lines.push('auth:', '  htpasswd:', '    realm: modelship-test', `    path: ${path.join(dir, 'htpasswd')}`);
  }
  await writeFile(path.join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    host: `127.0.0.1:${port}`,
    root,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The on-disk path of a blob in docker-registry's filesystem storage. */
export function registryBlobPath(root: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return path.join(root, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

export interface ProxyOptions {
  /** Require a bearer token from /token (basic credentials user:password); grant push only when grantPush. */
  readonly bearer?: { readonly user: string; readonly password: string; readonly grantPush: boolean; readonly tokenUses?: number };
  /** Cut the connection in the middle of the first `cut` blob uploads (PUT …?digest=) larger than 256 bytes. */
  readonly cut?: number;
  /** Serve tags/list in pages of this size with Link headers. */
  readonly pageTags?: number;
  /** Called once after the first manifest PUT to `hijackTag` went through, before the client hears back (a racer's PUT landing just after ours). */
  readonly hijack?: { readonly tag: string; readonly fn: () => Promise<void> };
}

export interface RunningProxy {
  readonly host: string;
  /** Requests seen, as "METHOD path". */
  readonly seen: string[];
  cuts: number;
  stop(): Promise<void>;
}

/** An HTTP stand-in in front of a registry: bearer token auth as GHCR does it, cut uploads, paginated tags. */
export async function startProxy(upstream: string, opts: ProxyOptions = {}): Promise<RunningProxy> {
  const { createServer: createHttpServer, request: httpRequest } = await import('node:http');
  const seen: string[] = [];
  const state = { cuts: 0, hijacked: false };
  const uses = new Map<string, number>();
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    seen.push(`${req.method} ${url.pathname}`);
    const deny = (status: number, code: string, message: string, challengeScope?: string): void => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (challengeScope)
        headers['www-authenticate'] = `Bearer realm="http://${req.headers.host}/token",service="test-registry",scope="${challengeScope}"`;
      res.writeHead(status, headers).end(JSON.stringify({ errors: [{ code, message }] }));
    };
    if (opts.bearer && url.pathname === '/token') {
      const auth = req.headers.authorization ?? '';
      const [user, pass] = Buffer.from(auth.replace(/^Basic /, ''), 'base64')
        .toString()
        .split(':');
      if (user !== opts.bearer.user || pass !== opts.bearer.password) return deny(401, 'UNAUTHORIZED', 'bad credentials');
      const scope = url.searchParams.get('scope') ?? '';
      const actions = scope.split(':')[2]?.split(',') ?? [];
      const granted = actions.filter((a) => a === 'pull' || (a === 'push' && opts.bearer!.grantPush));
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ token: `tok.${granted.join('+')}.${randomToken()}` }));
      return;
    }
    if (opts.bearer && url.pathname.startsWith('/v2/')) {
      const repo = /^\/v2\/(.+?)\/(?:blobs|manifests|tags)\//.exec(url.pathname)?.[1] ?? '';
      const write = req.method !== 'GET' && req.method !== 'HEAD';
      const bearer = /^Bearer (tok\.([a-z+]*)\.\w+)$/.exec(req.headers.authorization ?? '');
      let token = bearer?.[2];
      if (bearer && opts.bearer.tokenUses !== undefined) {
        const used = (uses.get(bearer[1]) ?? 0) + 1;
        uses.set(bearer[1], used);
        if (used > opts.bearer.tokenUses) token = undefined; // expired
      }
      if (token === undefined)
        return deny(401, 'UNAUTHORIZED', 'authentication required', `repository:${repo}:${write ? 'pull,push' : 'pull'}`);
      if (write && !token.split('+').includes('push'))
        return deny(403, 'DENIED', 'permission_denied: The token provided does not match expected scopes.');
    }
    if (opts.pageTags && req.method === 'GET' && url.pathname.endsWith('/tags/list')) {
      const up = httpRequest({ host: '127.0.0.1', port: Number(upstream.split(':')[1]), path: url.pathname, method: 'GET' }, (ur) => {
        let body = '';
        ur.on('data', (c: Buffer) => (body += c.toString()));
        ur.on('end', () => {
          if (ur.statusCode !== 200) {
            res.writeHead(ur.statusCode ?? 500, ur.headers).end(body);
            return;
          }
          const all = ((JSON.parse(body) as { tags: string[] | null }).tags ?? []).sort();
          const last = url.searchParams.get('last');
          const start = last ? all.indexOf(last) + 1 : 0;
          const page = all.slice(start, start + opts.pageTags!);
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (start + opts.pageTags! < all.length)
            headers['link'] = `<${url.pathname}?last=${encodeURIComponent(page[page.length - 1])}&n=${opts.pageTags}>; rel="next"`;
          res.writeHead(200, headers).end(JSON.stringify({ name: url.pathname, tags: page }));
        });
      });
      up.end();
      return;
    }
    const cutThis =
      opts.cut !== undefined &&
      state.cuts < opts.cut &&
      req.method === 'PUT' &&
      url.searchParams.has('digest') &&
      Number(req.headers['content-length'] ?? 0) > 256;
    const up = httpRequest(
      { host: '127.0.0.1', port: Number(upstream.split(':')[1]), path: req.url, method: req.method, headers: req.headers },
      (ur) => {
        const hijack = opts.hijack;
        if (
          hijack &&
          !state.hijacked &&
          req.method === 'PUT' &&
          url.pathname.endsWith(`/manifests/${hijack.tag}`) &&
          ur.statusCode === 201
        ) {
          state.hijacked = true;
          ur.resume();
          ur.on('end', () => {
            void hijack.fn().then(() => res.writeHead(201, ur.headers).end());
          });
          return;
        }
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    if (cutThis) {
      state.cuts++;
      let got = 0;
      req.on('data', (c: Buffer) => {
        got += c.length;
        if (got > 128) {
          up.destroy();
          req.socket.destroy();
        }
      });
      return;
    }
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    seen,
    get cuts() {
      return state.cuts;
    },
    set cuts(v: number) {
      state.cuts = v;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

function randomToken(): string {
  return Math.random().toString(36).slice(2);
}
