/**
 * Runs a step the way the Actions runner runs an action: INPUT_* variables, fresh GITHUB_OUTPUT
 * and GITHUB_STEP_SUMMARY files, workflow commands (`::error::…`) captured from stdout. The
 * environment and exit code are restored afterwards, whatever happens.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runAction } from '../../shared/action/run.ts';
import type { AnyStep } from '../../shared/steps/spec.ts';
import { memoryLogger, type Logger } from '../../shared/util/log.ts';

export interface RunnerResult {
  /** What the step wrote to GITHUB_OUTPUT, parsed. */
  readonly outputs: Record<string, string>;
  /** What the step wrote to GITHUB_STEP_SUMMARY. */
  readonly summary: string;
  /** Workflow commands printed on stdout (::error::, ::add-mask::, ::group:: …). */
  readonly commands: string;
  /** Lines the step logged through the logger. */
  readonly log: string;
  /** True when the step failed (core.setFailed set the exit code). */
  readonly failed: boolean;
}

export interface RunnerOptions {
  /** Extra environment (GITHUB_EVENT_PATH, GITHUB_API_URL …). */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** A logger to record with (default: a memory logger whose lines become `log`). */
  readonly log?: Logger & { lines?: string[] };
  /** Runs inside the door's error path before the inputs are read (as the bundle entry unpacks MODELSHIP_INPUTS). */
  readonly prepare?: () => void;
}

// @actions/core resolves the summary file once per process: one file, truncated before each run.
const scratch = mkdtempSync(path.join(tmpdir(), 'modelship-runner-'));
const summaryFile = path.join(scratch, 'summary.md');
let runs = 0;

/** Parses the `name<<delimiter / value / delimiter` blocks @actions/core writes to GITHUB_OUTPUT. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^([^\n<]+)<<(\S+)\n([\s\S]*?)\n?\2$/gm)) out[m[1]] = m[3]!;
  return out;
}

export async function runAsRunner(
  step: AnyStep,
  inputs: Readonly<Record<string, string>>,
  opts: RunnerOptions = {},
): Promise<RunnerResult> {
  const outputFile = path.join(scratch, `output-${++runs}.txt`);
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const savedEnv = { ...process.env };
  const savedExit = process.exitCode;
  const realWrite = process.stdout.write.bind(process.stdout);
  const commands: string[] = [];
  for (const k of Object.keys(process.env))
    if (k.startsWith('INPUT_') || k.startsWith('GITHUB_') || k.startsWith('ACTIONS_')) delete process.env[k];
  Object.assign(process.env, { GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: summaryFile }, opts.env);
  for (const [k, v] of Object.entries(inputs)) process.env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  process.exitCode = undefined;
  // Keep the workflow commands; pass everything else (the test runner's own protocol) through.
  process.stdout.write = (chunk: string | Uint8Array, ...rest: never[]) => {
    const text = typeof chunk === 'string' ? chunk : '';
    if (text.startsWith('::')) {
      commands.push(text);
      return true;
    }
    return realWrite(chunk, ...rest);
  };
  const log = opts.log ?? memoryLogger();
  let failed: boolean;
  try {
    await runAction(step, {
      log,
      env: { ...process.env },
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.prepare ? { prepare: opts.prepare } : {}),
    });
  } finally {
    process.stdout.write = realWrite;
    failed = process.exitCode === 1;
    process.exitCode = savedExit;
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
  }
  return {
    outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
    summary: readFileSync(summaryFile, 'utf8'),
    commands: commands.join(''),
    log: (log.lines ?? []).join('\n'),
    failed,
  };
}
