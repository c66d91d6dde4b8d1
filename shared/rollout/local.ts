/**
 * The local target (the embedded default): real `modelship serve` processes on this machine behind
 * the traffic-splitting proxy (proxy.ts), all started detached so they keep serving after the
 * command returns. Their pids, ports and logs are under `.modelship/deploy/<name>/`, in
 * `state.json`, written atomically under a lock. A recorded process that is gone (a reboot, a
 * kill) is detected and said; a port already taken is explained.
 *
 * A version goes out as the canary process at its weight; promotion moves all traffic to it and
 * then stops the old stable process, which finishes its requests in flight first (the server
 * drains on SIGTERM); an abort moves all traffic back to stable at once and stops the canary.
 */
import { spawn } from 'node:child_process';
import { open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { ConfigurationError, ModelshipError, errorMessage, writeJsonAtomic, type Logger } from '../util/index.ts';
import type { Backend } from './proxy.ts';
import type { Readiness, RolloutTarget, ServedVersion, Serving } from './target.ts';

export const STATE_FILE = 'state.json';

export interface ProcessRecord {
  readonly pid: number;
  readonly url: string;
  readonly admin?: string;
  readonly log: string;
}

export interface LocalState {
  readonly kind: 'modelship.deploy.local';
  readonly name: string;
  readonly registry: string;
  readonly proxy?: ProcessRecord;
  readonly stable?: ProcessRecord & { readonly version: ServedVersion };
  readonly canary?: ProcessRecord & { readonly version: ServedVersion; readonly weight: number };
  /** The deploy-rollout process running a rollout now, if any. */
  readonly owner?: number;
  readonly updated: string;
}

export interface LocalTargetOptions {
  readonly name: string;
  readonly registry: string;
  readonly cwd: string;
  readonly strategy: 'rolling' | 'canary';
  readonly log: Logger;
  /** The command that runs modelship's CLI (node and its entry), for the server and proxy processes. */
  readonly cli: readonly string[];
  /** The environment the processes get (MODELSHIP_ALLOW_FAULT_INJECTION=1 lets tests slow a server down). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The proxy's address (default 127.0.0.1, a free port). */
  readonly host?: string;
  readonly port?: number;
  /** How long a server may take to load and answer its warm-up prediction. */
  readonly readyTimeoutMs?: number;
  readonly now?: () => Date;
}

export const deployDir = (cwd: string, name: string): string => path.resolve(cwd, '.modelship', 'deploy', name);

/** True when `pid` is a running process that is modelship's (its command line says so). */
export async function isModelshipProcess(pid: number | undefined): Promise<boolean> {
  if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return /modelship|serve|proxy/.test(cmd.replace(/\0/g, ' '));
  } catch {
    return true; // no /proc (macOS): a live pid is taken at its word
  }
}

export async function readState(dir: string): Promise<LocalState | undefined> {
  try {
    const s = JSON.parse(await readFile(path.join(dir, STATE_FILE), 'utf8')) as LocalState;
    return s.kind === 'modelship.deploy.local' ? s : undefined;
  } catch {
    return undefined;
  }
}

/** The last lines of a log file (for why a process did not come up). */
export async function logTail(file: string, lines = 8): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines);
  } catch {
    return [];
  }
}

/** Reads `<word> ready url=… admin=…` from a process's log as it appears (or says why it will not). */
async function waitForReadyLine(
  file: string,
  word: string,
  child: { exited: () => number | null | undefined; offset: number },
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ url: string; admin?: string } | { error: string }> {
  const deadline = Date.now() + timeoutMs;
  const re = new RegExp(`^modelship ${word} ready .*?url=(\\S+)(?:.*? admin=(\\S+))?`, 'm');
  for (;;) {
    // Only what this process wrote: the log keeps earlier runs above it.
    const text = (await readFile(file).catch(() => Buffer.alloc(0))).subarray(child.offset).toString('utf8');
    const m = re.exec(text);
    if (m) return { url: m[1], ...(m[2] ? { admin: m[2] } : {}) };
    const code = child.exited();
    if (code !== undefined) return { error: `it exited (${code === null ? 'killed' : `code ${code}`}) before it was ready` };
    if (signal?.aborted) return { error: 'interrupted before it was ready' };
    if (Date.now() > deadline) return { error: `it was not ready after ${Math.round(timeoutMs / 1000)} s` };
    await sleep(50);
  }
}

/** Stops a process: SIGTERM (a server drains its requests in flight), then SIGKILL after `graceMs`. */
export async function stopProcess(pid: number | undefined, graceMs = 30_000): Promise<void> {
  if (!(await isModelshipProcess(pid))) return;
  try {
    process.kill(pid!, 'SIGTERM');
  } catch {
    return;
  }
  const end = Date.now() + graceMs;
  while (Date.now() < end) {
    try {
      process.kill(pid!, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
  try {
    process.kill(pid!, 'SIGKILL');
  } catch {
    // gone between the check and the kill
  }
}

async function putRoutes(admin: string, backends: readonly Backend[]): Promise<void> {
  const res = await fetch(`${admin}/routes`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ backends }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new ModelshipError(`the proxy refused the routes: HTTP ${res.status} ${await res.text()}`);
}

export async function localTarget(o: LocalTargetOptions): Promise<RolloutTarget> {
  const { log } = o;
  const dir = deployDir(o.cwd, o.name);
  const now = o.now ?? (() => new Date());
  const readyTimeoutMs = o.readyTimeoutMs ?? 120_000;
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  // A rollout of this deployment in progress elsewhere: it is asked to stop (it aborts its canary), then this one goes on.
  const running = (await readState(dir))?.owner;
  if (running && running !== process.pid && (await isModelshipProcess(running))) {
    log.warning(`a deploy of ${o.name} is in progress (pid ${running}): asking it to stop first; it puts its traffic back on stable.`);
    try {
      process.kill(running, 'SIGTERM');
    } catch {
      // it ended meanwhile
    }
  }
  let release: (() => Promise<void>) | undefined;
  try {
    release = await lockfile.lock(dir, { retries: { retries: 120, minTimeout: 100, maxTimeout: 500 }, stale: 15_000, realpath: false });
  } catch (err) {
    throw new ModelshipError(
      `another deploy of ${o.name} holds ${dir} (${errorMessage(err)}).`,
      `Wait for it, or stop it: modelship deploy stop --name ${o.name}.`,
    );
  }

  let state: LocalState = (await readState(dir)) ?? {
    kind: 'modelship.deploy.local',
    name: o.name,
    registry: o.registry,
    updated: now().toISOString(),
  };
  const save = async (next: Omit<LocalState, 'kind' | 'name' | 'updated'>): Promise<void> => {
    state = { kind: 'modelship.deploy.local', name: o.name, ...next, updated: now().toISOString() };
    await writeJsonAtomic(path.join(dir, STATE_FILE), state);
  };
  const strip = <T extends object, K extends keyof T>(obj: T, ...keys: K[]): Omit<T, K | 'kind' | 'name' | 'updated'> => {
    const copy = { ...obj } as Record<string, unknown>;
    for (const k of [...keys, 'kind', 'name', 'updated'] as string[]) delete copy[k];
    return copy as Omit<T, K | 'kind' | 'name' | 'updated'>;
  };

  // Processes recorded but gone: say so, and forget them.
  for (const role of ['proxy', 'stable', 'canary'] as const) {
    const rec = state[role];
    if (rec && !(await isModelshipProcess(rec.pid))) {
      log.warning(
        `the ${role} process (pid ${rec.pid}, ${rec.url}) recorded in ${path.join(dir, STATE_FILE)} is not running any more (stopped, killed, or the machine restarted); it is started again as needed.`,
      );
      await save(strip(state, role));
    }
  }
  await save({ ...strip(state), owner: process.pid });

  const spawnLogged = async (
    args: readonly string[],
    logName: string,
  ): Promise<{ pid: number; log: string; offset: number; exited: () => number | null | undefined }> => {
    const logFile = path.join(dir, logName);
    const fh = await open(logFile, 'a');
    const offset = (await fh.stat()).size;
    const [cmd, ...pre] = o.cli;
    const child = spawn(cmd, [...pre, ...args], {
      cwd: o.cwd,
      detached: true,
      stdio: ['ignore', fh.fd, fh.fd],
      env: { ...process.env, ...o.env },
    });
    await fh.close();
    let exit: number | null | undefined;
    child.on('exit', (code, sig) => {
      exit = code ?? (sig ? null : 0);
    });
    child.unref();
    if (child.pid === undefined) throw new ModelshipError(`could not start ${args[0]}: no process id (see ${logFile}).`);
    return { pid: child.pid, log: logFile, offset, exited: () => exit };
  };

  const ensureProxy = async (): Promise<ProcessRecord> => {
    if (state.proxy) {
      const ok = await fetch(`${state.proxy.admin}/routes`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return state.proxy;
      log.warning(`the proxy (pid ${state.proxy.pid}) does not answer on ${state.proxy.admin}: starting a new one.`);
      await stopProcess(state.proxy.pid, 2000);
    }
    const host = o.host ?? '127.0.0.1';
    const port = o.port ?? 0;
    const p = await spawnLogged(['deploy', 'proxy', '--host', host, '--port', String(port), '--admin-port', '0'], 'proxy.log');
    const ready = await waitForReadyLine(p.log, 'proxy', p, 15_000);
    if ('error' in ready) {
      const lines = await logTail(p.log);
      const taken = lines.some((l) => /EADDRINUSE/.test(l));
      if (taken)
        throw new ConfigurationError(
          `the proxy cannot listen on ${host}:${port}: the port is already taken by another process.`,
          `Stop what listens there, or set deploy.local.port in modelship.yml (0 picks a free port).`,
        );
      throw new ModelshipError(`the proxy did not start: ${ready.error}. Its log (${p.log}): ${lines.join(' | ')}`);
    }
    const rec: ProcessRecord = { pid: p.pid, url: ready.url, ...(ready.admin ? { admin: ready.admin } : {}), log: p.log };
    await save({ ...strip(state), proxy: rec });
    return rec;
  };

  const routeTo = async (backends: Backend[]): Promise<void> => {
    const proxy = await ensureProxy();
    await putRoutes(proxy.admin!, backends);
  };

  const startServer = async (
    version: ServedVersion,
    role: 'stable' | 'canary',
    signal?: AbortSignal,
  ): Promise<{ ok: true; rec: ProcessRecord } | { ok: false; reason: string }> => {
    const args = [
      'serve',
      '--model',
      `${version.name}:${version.version}@${version.digest}`,
      '--registry',
      o.registry,
      '--name',
      version.name,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--admin-port',
      '0',
      '--cache-dir',
      path.join(dir, 'models'),
      ...(o.env['MODELSHIP_ALLOW_FAULT_INJECTION'] === '1' ? ['--allow-fault-injection'] : []),
    ];
    const p = await spawnLogged(args, `server-v${version.version}.log`);
    log.info(`${role} ${version.name}:${version.version}: modelship serve started (pid ${p.pid}, log ${path.relative(o.cwd, p.log)})`);
    const ready = await waitForReadyLine(p.log, 'serve', p, readyTimeoutMs, signal);
    if ('error' in ready) {
      await stopProcess(p.pid, 2000);
      const all = (await logTail(p.log, 40)).filter((l) => l.trim() !== '');
      // The server's own failure line (and its hint) says it best; otherwise the last lines.
      const failed = all.findLastIndex((l) => / failed: /.test(l));
      const lines = (failed >= 0 ? all.slice(failed, failed + 2) : all.slice(-5)).map((l) => l.trim());
      return {
        ok: false,
        reason: `the server of ${version.name}:${version.version} is not ready: ${ready.error}${lines.length ? `; its last lines: ${lines.join(' | ')}` : ''}`,
      };
    }
    return { ok: true, rec: { pid: p.pid, url: ready.url, ...(ready.admin ? { admin: ready.admin } : {}), log: p.log } };
  };

  const backendOf = (role: string, rec: ProcessRecord & { version: ServedVersion }, weight: number): Backend => ({
    role,
    url: rec.url,
    version: String(rec.version.version),
    weight,
  });

  const abortCanary = async (): Promise<void> => {
    const canary = state.canary;
    if (!canary) return;
    if (state.stable) await routeTo([backendOf('stable', state.stable, 100)]);
    else if (state.proxy) await routeTo([]);
    await save(strip(state, 'canary'));
    await stopProcess(canary.pid);
  };

  // The proxy first: a port already taken is a configuration problem, said before anything starts.
  try {
    await ensureProxy();
  } catch (err) {
    await release?.();
    throw err;
  }

  return {
    kind: 'local',
    where: path.relative(o.cwd, dir) || dir,
    serving(): Promise<Serving> {
      return Promise.resolve({
        ...(state.stable ? { stable: state.stable.version } : {}),
        ...(state.canary ? { canary: { ...state.canary.version, weight: state.canary.weight } } : {}),
        ...(state.proxy ? { url: state.proxy.url } : {}),
      });
    },
    async setWeight(version, weight, signal): Promise<Readiness> {
      let canary = state.canary;
      if (!canary || canary.version.digest !== version.digest) {
        if (canary) await abortCanary();
        const started = await startServer(version, 'canary', signal);
        if (!started.ok) return { ready: false, reason: started.reason };
        canary = { ...started.rec, version, weight: 0 };
        await save({ ...strip(state), canary });
      }
      const stable = state.stable;
      // With no stable version (the first deploy), the canary takes everything whatever the weight.
      const w = stable ? weight : 100;
      await routeTo([...(stable ? [backendOf('stable', stable, 100 - w)] : []), backendOf('canary', canary, w)]);
      await save({ ...strip(state), canary: { ...canary, weight: w } });
      const health = await fetch(`${canary.url}/v2/health/ready`, { signal: AbortSignal.timeout(5000) }).then(
        (r) => r.ok,
        () => false,
      );
      return health
        ? { ready: true }
        : { ready: false, reason: `the server of ${version.name}:${version.version} stopped answering /v2/health/ready` };
    },
    async promote(version) {
      const canary = state.canary;
      if (!canary || canary.version.digest !== version.digest)
        throw new ModelshipError(`promote: ${version.name}:${version.version} is not the canary at ${dir}.`);
      const old = state.stable;
      // All traffic to the new version first; the old one then finishes what it has in flight and exits.
      await routeTo([backendOf('stable', canary, 100)]);
      await save({
        ...strip(state, 'canary'),
        stable: { pid: canary.pid, url: canary.url, ...(canary.admin ? { admin: canary.admin } : {}), log: canary.log, version },
      });
      if (old) await stopProcess(old.pid);
    },
    abort: abortCanary,
    canaryEndpoints: () => Promise.resolve(state.canary ? [state.canary.url] : state.stable ? [state.stable.url] : []),
    canarySelector: (v) => ({ model: v.name, version: String(v.version) }),
    async close() {
      await save(strip(state, 'owner')).catch(() => undefined);
      await release?.();
      release = undefined;
    },
  };
}

/** What `modelship deploy status` shows: each process, alive or not, with its version and weight. */
export async function localStatus(cwd: string, name: string): Promise<{ dir: string; state?: LocalState; alive: Record<string, boolean> }> {
  const dir = deployDir(cwd, name);
  const state = await readState(dir);
  const alive: Record<string, boolean> = {};
  for (const role of ['proxy', 'stable', 'canary'] as const) if (state?.[role]) alive[role] = await isModelshipProcess(state[role].pid);
  return { dir, ...(state ? { state } : {}), alive };
}

/** `modelship deploy stop`: ends every process of a local deployment and clears its state. */
export async function stopLocal(cwd: string, name: string, log: Logger): Promise<number> {
  const dir = deployDir(cwd, name);
  const state = await readState(dir);
  if (!state) return 0;
  let stopped = 0;
  for (const role of ['proxy', 'canary', 'stable'] as const) {
    const rec = state[role];
    if (rec && (await isModelshipProcess(rec.pid))) {
      await stopProcess(rec.pid);
      log.info(`stopped the ${role} process (pid ${rec.pid})`);
      stopped++;
    }
  }
  if (await stat(path.join(dir, STATE_FILE)).catch(() => undefined)) await rm(path.join(dir, STATE_FILE), { force: true });
  return stopped;
}
