/**
 * Defect 3: concurrent alias moves lose no update. Reading where an alias points, writing its tag
 * and appending its history are one transaction: locally under the registry's index lock (tested
 * with concurrent CLI processes: register --alias, registry promote and registry rollback), and on
 * an OCI registry by the optimistic check on the history tag (tested against docker-registry).
 * After N concurrent moves the history is a chain (each move's `from` is the previous move's `to`)
 * and the tag is its last `to`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openRegistry } from '../../shared/registry/index.ts';
import type { AliasLogEntry, Registry } from '../../shared/registry/types.ts';
import { silentLogger } from '../../shared/util/log.ts';
import { makeModelDir, startRegistry, variantOf, type RunningRegistry } from '../registry/helpers.ts';
import { removeTempDirs, tempDir } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(here, '../../bin/modelship.js');

interface Run {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

function modelship(args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

/** Each move starts where the previous one ended, and the tag is where the last one ended. */
async function assertChain(reg: Registry, moves: number): Promise<readonly AliasLogEntry[]> {
  const log = await reg.aliasHistory('fashion', 'staging');
  assert.equal(log.length, moves, `${moves} moves recorded`);
  for (let i = 1; i < log.length; i++) {
    assert.equal(log[i].from?.digest, log[i - 1].to.digest, `move ${i + 1} starts where move ${i} ended`);
  }
  assert.equal((await reg.resolve('fashion@staging')).digest, log[log.length - 1].to.digest, 'the tag is the last move');
  return log;
}

let cwd: string;
let models: string[];

before(async () => {
  cwd = await tempDir();
  const base = await makeModelDir(path.join(cwd, 'm0'), 1);
  models = [base, ...(await Promise.all(Array.from({ length: 7 }, (_, i) => variantOf(base, path.join(cwd, `m${i + 1}`), 10 + i))))];
});
after(removeTempDirs);

describe('defect 3: concurrent alias moves (local registry, concurrent processes)', () => {
  it('8 concurrent register --alias staging form one chain, each from a different version, and rollback goes back one move', async () => {
    const runs = await Promise.all(
      models.map((m) => modelship(['register', '--model', m, '--name', 'fashion', '--alias', 'staging', '--registry', 'reg'], cwd)),
    );
    for (const r of runs) assert.equal(r.code, 0, r.err);
    const reg = await openRegistry(path.join(cwd, 'reg'), { log: silentLogger });
    const log = await assertChain(reg, 8);
    // What the runs reported is what was recorded: no two moved from the same version.
    const froms = runs.map((r) => /fashion@staging: (\(new\)|v\d+) → v\d+/.exec(r.err)?.[1]);
    assert.equal(new Set(froms).size, 8, `distinct starting points: ${froms.join(', ')}`);
    assert.deepEqual(froms.sort(), log.map((e) => (e.from ? `v${e.from.version}` : '(new)')).sort());
    const back = await modelship(['registry', 'rollback', 'fashion', 'staging', '--registry', 'reg'], cwd);
    assert.equal(back.code, 0, back.err);
    assert.equal((await reg.resolve('fashion@staging')).digest, log[7].from?.digest, 'rollback returns to where the last move came from');
    await assertChain(reg, 9);
  });

  it('promote and rollback at the same time keep the chain', async () => {
    const runs = await Promise.all([
      modelship(['registry', 'promote', 'fashion:1', 'staging', '--registry', 'reg'], cwd),
      modelship(['registry', 'rollback', 'fashion', 'staging', '--registry', 'reg'], cwd),
      modelship(['registry', 'promote', 'fashion:2', 'staging', '--registry', 'reg'], cwd),
      modelship(['registry', 'rollback', 'fashion', 'staging', '--registry', 'reg'], cwd),
      modelship(['registry', 'promote', 'fashion:3', 'staging', '--registry', 'reg'], cwd),
    ]);
    for (const r of runs) assert.equal(r.code, 0, r.err);
    await assertChain(await openRegistry(path.join(cwd, 'reg'), { log: silentLogger }), 14);
  });
});

describe('defect 3: concurrent alias moves (OCI registry, docker-registry on loopback)', () => {
  let registry: RunningRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry.stop();
  });

  it('3 concurrent moves by separate clients form one chain; a lost race plans again on the winner', async () => {
    const location = `oci://${registry.host}/models`;
    const open = (): Promise<Registry> => openRegistry(location, { log: silentLogger });
    const first = await open();
    for (const m of models.slice(0, 3)) await first.push(m, { name: 'fashion' });
    const clients = await Promise.all([open(), open(), open()]);
    const moves = await Promise.all(clients.map((c, i) => c.setAlias('fashion', 'staging', i + 1)));
    assert.equal(new Set(moves.map((m) => m.from?.version ?? 0)).size, 3, 'each move started from a different place');
    await assertChain(await open(), 3);
  });
});
