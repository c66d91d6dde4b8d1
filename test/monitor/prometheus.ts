/**
 * Debian's Prometheus on loopback for tests: a temporary config (scrape interval 1 s) and storage
 * folder, a free port, and waits on its HTTP API (never a fixed sleep). Prometheus scrapes for the
 * first time ~5–6 s after it starts, so `waitForScrapes` polls until enough scrapes are stored.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../registry/helpers.ts';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export interface RunningPrometheus {
  readonly url: string;
  readonly dir: string;
  /** Polls until Prometheus has stored at least `n` scrapes of every target (bounded by `timeoutMs`). */
  waitForScrapes(n: number, timeoutMs?: number): Promise<void>;
  /** An instant query's result (an empty list while Prometheus cannot answer). */
  query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Polls `q` until `done(result)` holds (bounded by `timeoutMs`). */
  waitFor(
    q: string,
    done: (r: { metric: Record<string, string>; value: [number, string] }[]) => boolean,
    timeoutMs?: number,
  ): Promise<void>;
  /** Prometheus's own log (for failure messages). */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** `ruleFiles`: alerting rule files Prometheus evaluates every second (absolute paths). */
export async function startPrometheus(
  targets: readonly string[],
  opts: { ruleFiles?: readonly string[] } = {},
): Promise<RunningPrometheus> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'modelship-prometheus-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    ...(opts.ruleFiles?.length ? ['rule_files:', ...opts.ruleFiles.map((f) => `  - '${f}'`)] : []),
    'scrape_configs:',
    '  - job_name: modelship',
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: [${targets.map((t) => `'${new URL(t).host}'`).join(', ')}]`,
    '',
  ].join('\n');
  await writeFile(path.join(dir, 'prometheus.yml'), config);
  const logFile = path.join(dir, 'prometheus.log');
  const out = createWriteStream(logFile);
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Should the test process end without its after hooks, Prometheus ends with it.
  const orphan = (): void => void child.kill('SIGKILL');
  process.once('exit', orphan);
  const url = `http://127.0.0.1:${port}`;
  const log = async (): Promise<string> => readFile(logFile, 'utf8').catch(() => '');
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    process.off('exit', orphan);
    out.end();
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      const text = await log();
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}: ${text}`);
    }
    const ok = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      const text = await log();
      await stop();
      throw new Error(`prometheus was not ready within 15 s: ${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`).then(
      (x) => x.json() as Promise<{ data?: { result?: { metric: Record<string, string>; value: [number, string] }[] } }>,
      () => ({ data: { result: [] } }),
    );
    return r.data?.result ?? [];
  };
  return {
    url,
    dir,
    log,
    stop,
    query,
    async waitFor(q, done, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const r = await query(q);
        if (done(r)) return;
        if (Date.now() > until)
          throw new Error(`Prometheus: ${q} did not reach the awaited result in ${timeoutMs} ms: ${JSON.stringify(r)}`);
        await new Promise((res) => setTimeout(res, 250));
      }
    },
    async waitForScrapes(n, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      const q = `min(count_over_time(up{job="modelship"}[1m]))`;
      for (;;) {
        const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`).then(
          (x) => x.json() as Promise<{ data: { result: { value: [number, string] }[] } }>,
        );
        const count = Number(r.data.result[0]?.value[1] ?? 0);
        if (count >= n) return;
        if (Date.now() > until) throw new Error(`Prometheus stored ${count} scrapes in ${timeoutMs} ms; ${n} were awaited. ${await log()}`);
        await new Promise((res) => setTimeout(res, 250));
      }
    },
  };
}
