/**
 * The second door: `modelship <step>` runs the same step definitions as the actions, with the
 * same option names; `modelship pipeline` runs the loop; `modelship registry …` manages models.
 * Logs go to stderr, outputs (name=value) to stdout. Exit codes: 0 ok, 1 failed, 2 bad usage.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigurationError, formatFailure } from '../util/errors.ts';
import { consoleLogger, type Logger } from '../util/log.ts';
import { steps } from '../steps/index.ts';
import { resolveInputs } from '../steps/resolve.ts';
import type { AnyStep, OutputValue, StepContext, StepResult } from '../steps/spec.ts';
import { parseStepArgs, stepHelp } from './args.ts';
import { runPipeline, pipelineHelp } from './pipeline.ts';

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly log?: Logger;
  readonly now?: () => Date;
}

type Subcommand = (
  argv: string[],
  io: { log: Logger; stdout: NodeJS.WritableStream; cwd: string; env: Readonly<Record<string, string | undefined>> },
) => Promise<number>;

/** Commands contributed by domains (registry, comment), loaded only when asked for. */
const subcommands: Readonly<Record<string, { summary: string; load: () => Promise<Subcommand> }>> = {
  registry: {
    summary: 'list|show|pull|promote|rollback|diff models in a registry',
    load: async () => (await import('./registry.ts')).registryCommand,
  },
  comment: {
    summary: "upsert evaluate-gate's PR comment from a report.json (phase two of the fork-safe pattern)",
    load: async () => (await import('./comment.ts')).commentCommand,
  },
  serve: {
    summary: 'serve models: TF Serving REST API, Open Inference Protocol, /metrics',
    load: async () => (await import('./serve.ts')).serveCommand,
  },
};

/** Short names people type. */
const aliases: Readonly<Record<string, string>> = {
  evaluate: 'evaluate-gate',
  data: 'setup-data',
  deploy: 'deploy-rollout',
  monitor: 'monitor-check',
};

export function usage(): string {
  const width = 16;
  return [
    'modelship: continuous delivery for ML models.',
    '',
    'Usage: modelship <command> [--option value …]   (modelship <command> --help for its options)',
    '',
    'Steps (the same as the GitHub Actions, with the same option names):',
    ...Object.values(steps).map((s) => `  ${s.name.padEnd(width)}${s.description}`),
    `  (short names: ${Object.entries(aliases)
      .map(([a, n]) => `${a} = ${n}`)
      .join(', ')})`,
    '',
    'Loops and tools:',
    `  ${'pipeline'.padEnd(width)}run the loop (setup-data → train → evaluate-gate → register) with modelship.yml`,
    ...Object.entries(subcommands).map(([name, s]) => `  ${name.padEnd(width)}${s.summary}`),
  ].join('\n');
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const log = io.log ?? consoleLogger(io.stderr, io.env['MODELSHIP_DEBUG'] === '1');
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(`${usage()}\n`);
    return command === undefined ? 2 : 0;
  }
  try {
    const step = steps[aliases[command] ?? command];
    if (step) return await runStepCommand(step, rest, io, log);
    if (command === 'pipeline') {
      if (rest.includes('--help') || rest.includes('-h')) {
        io.stdout.write(`${pipelineHelp()}\n`);
        return 0;
      }
      const ctx = stepContext(io, log);
      const outcome = await runPipeline(rest, ctx, (s, inputs) => runStep(s, inputs, ctx, io));
      return outcome.ok ? 0 : 1;
    }
    const sub = subcommands[command];
    if (sub) return await (await sub.load())(rest, { log, stdout: io.stdout, cwd: io.cwd, env: io.env });
    throw new ConfigurationError(`unknown command '${command}'.`, `Run 'modelship --help' for the commands.`);
  } catch (err) {
    io.stderr.write(`${formatFailure(`modelship ${command}`, err)}\n`);
    return err instanceof ConfigurationError ? 2 : 1;
  }
}

function stepContext(io: CliIo, log: Logger): StepContext {
  return { log, env: io.env, cwd: io.cwd, now: io.now ?? (() => new Date()), via: 'cli' };
}

async function runStepCommand(step: AnyStep, argv: readonly string[], io: CliIo, log: Logger): Promise<number> {
  const args = parseStepArgs(argv, step.inputs, step.name);
  if (args.help) {
    io.stdout.write(`${stepHelp(step.name, step.description, step.inputs, step.outputs)}\n`);
    return 0;
  }
  const ctx = stepContext(io, log);
  const result = await runStep(step, args.values, ctx, io);
  for (const name of Object.keys(step.outputs)) {
    const value = (result.outputs as Record<string, OutputValue | undefined>)[name];
    if (value !== undefined) io.stdout.write(`${name}=${String(value)}\n`);
  }
  if (result.failure) {
    io.stderr.write(`${step.name} failed: ${result.failure}\n`);
    return 1;
  }
  return 0;
}

/** Parses the raw options like the action runner does, runs the step, keeps its summary as a file. */
async function runStep(step: AnyStep, raw: Readonly<Record<string, string>>, ctx: StepContext, io: CliIo): Promise<StepResult<string>> {
  const inputs = await resolveInputs(step, raw, io.cwd);
  const result = await step.run(inputs, ctx);
  if (result.summary) {
    const file = path.join(io.cwd, '.modelship', 'summaries', `${step.name}.md`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, result.summary);
    ctx.log.info(`summary: ${path.relative(io.cwd, file)}`);
  }
  return result;
}

/** True when this module is the process entry (not imported by a test). */
export function isEntry(metaUrl: string): boolean {
  return process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(metaUrl);
}

if (isEntry(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  });
}
