/**
 * Runs the CLI in this process, as `modelship <argv>` would, and captures what it writes: stdout,
 * stderr, and the step outputs it prints as `name=value` lines.
 */
import { PassThrough } from 'node:stream';
import { main, type CliIo } from '../../shared/cli/main.ts';
import { memoryLogger } from '../../shared/util/index.ts';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  /** The `name=value` lines of stdout (a step's outputs). */
  readonly outputs: Record<string, string>;
}

export async function runCli(argv: readonly string[], io: Pick<CliIo, 'cwd'> & Partial<Omit<CliIo, 'stdout' | 'stderr'>>): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main([...argv], { env: {}, ...io, stdout, stderr });
  const outputs: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([a-z-]+)=(.*)$/.exec(line);
    if (m) outputs[m[1]] = m[2];
  }
  return { code, out, err, outputs };
}

/** No SIGINT/SIGTERM listener per run (the test process has its own). */
export const noInterrupt = { interrupt: () => new AbortController().signal };

/** The CLI with its log kept in memory (not written to stderr): what it logged, beside what it printed. */
export interface LoggedRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The log lines, joined. */
  readonly log: string;
  readonly outputs: Record<string, string>;
}

export async function runCliLogged(
  argv: readonly string[],
  cwd: string,
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<LoggedRun> {
  const log = memoryLogger();
  const r = await runCli(argv, { cwd, env, log });
  return { code: r.code, stdout: r.out, stderr: r.err, log: log.lines.join('\n'), outputs: r.outputs };
}

/** `modelship pipeline`'s closing table, step → its note. */
export function pipelineTable(err: string): Record<string, string> {
  const out: Record<string, string> = {};
  const tail = err.slice(err.lastIndexOf('pipeline done'));
  for (const m of tail.matchAll(/^ {2}([a-z-]+) +[\d.]+ s {2}(.*)$/gm)) out[m[1]] = m[2];
  return out;
}
