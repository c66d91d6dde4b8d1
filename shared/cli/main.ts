/**
 * The second door: `modelship <step>` runs the same step definitions as the actions, with the
 * same option names; `modelship pipeline` runs the loop; `modelship registry …` manages models.
 * Logs go to stderr, outputs (name=value) to stdout. Exit codes: 0 ok, 1 failed, 2 bad usage.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigurationError, consoleLogger, formatFailure, type Logger } from '../util/index.ts';
import {
  defaultServices,
  resolveInputs,
  steps,
  type AnyStep,
  type OutputValue,
  type StepResult,
  type StepServices,
} from '../steps/index.ts';
import { parseStepArgs, stepHelp, suggest } from './args.ts';
import { runPipeline, pipelineHelp } from './pipeline.ts';

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly log?: Logger;
  readonly now?: () => Date;
  /** Replaces any of the services the door builds (tests). */
  readonly services?: Partial<StepServices>;
}

type Subcommand = (
  argv: string[],
  io: { log: Logger; stdout: NodeJS.WritableStream; cwd: string; env: Readonly<Record<string, string | undefined>> },
) => Promise<number>;

/** Commands contributed by domains (registry, comment), loaded only when asked for. */
const subcommands: Readonly<Record<string, { summary: string; verbs?: readonly string[]; load: () => Promise<Subcommand> }>> = {
  registry: {
    summary: 'list|show|pull|promote|rollback|diff models in a registry',
    load: async () => (await import('./registry.ts')).registryCommand,
  },
  comment: {
    summary: "upsert evaluate-gate's PR comment from a report.json (phase two of the fork-safe pattern)",
    load: async () => (await import('./comment.ts')).commentCommand,
  },
  deploy: {
    summary: 'status|stop|proxy: the processes of a local deployment (target local)',
    verbs: ['status', 'stop', 'proxy'],
    load: async () => (await import('./deploy.ts')).deployCommand,
  },
  monitor: {
    summary: "rules|dashboard: Prometheus alerting rules and a Grafana dashboard from monitor-check's SLO table",
    verbs: ['rules', 'dashboard'],
    load: async () => (await import('./monitor.ts')).monitorCommand,
  },
  feedback: {
    summary: "export|stats: the model server's feedback store, as a data set folder setup-data reads",
    verbs: ['export', 'stats'],
    load: async () => (await import('./feedback.ts')).feedbackCommand,
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
    `  ${'pipeline'.padEnd(width)}run the whole loop with modelship.yml (setup-data → … → deploy-rollout → monitor-check); --retrain learns from production's feedback`,
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
    const sub = subcommands[command];
    // `modelship monitor rules` is the subcommand; `modelship monitor --prometheus …` the step.
    if (sub && rest[0] !== undefined && !rest[0].startsWith('-') && sub.verbs?.includes(rest[0]))
      return await (
        await sub.load()
      )(rest, { log, stdout: io.stdout, cwd: io.cwd, env: io.env });
    const step = steps[aliases[command] ?? command];
    if (step) return await runStepCommand(step, rest, io, log);
    if (command === 'pipeline') {
      if (rest.includes('--help') || rest.includes('-h')) {
        io.stdout.write(`${pipelineHelp()}\n`);
        return 0;
      }
      const services = stepServices(io, log);
      const outcome = await runPipeline(rest, services, (s, inputs) => runStep(s, inputs, services, io));
      return outcome.ok ? 0 : 1;
    }
    if (sub) return await (await sub.load())(rest, { log, stdout: io.stdout, cwd: io.cwd, env: io.env });
    const near = suggest(command, [...Object.keys(steps), ...Object.keys(aliases), 'pipeline', ...Object.keys(subcommands)]);
    throw new ConfigurationError(
      `unknown command '${command}'.${near ? ` Did you mean '${near}'?` : ''}`,
      `Run 'modelship --help' for the commands.`,
    );
  } catch (err) {
    io.stderr.write(`${formatFailure(`modelship ${command}`, err)}\n`);
    return err instanceof ConfigurationError ? 2 : 1;
  }
}

function stepServices(io: CliIo, log: Logger): StepServices {
  return { ...defaultServices({ env: io.env, cwd: io.cwd, log, ...(io.now ? { now: io.now } : {}) }), ...io.services };
}

async function runStepCommand(step: AnyStep, argv: readonly string[], io: CliIo, log: Logger): Promise<number> {
  const args = parseStepArgs(argv, step.inputs, step.name);
  if (args.help) {
    io.stdout.write(`${stepHelp(step.name, step.description, step.inputs, step.outputs)}\n`);
    return 0;
  }
  const result = await runStep(step, args.values, stepServices(io, log), io);
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

/**
 * Parses the raw options like the action runner does (secret inputs not given as options come from
 * the environment variable they declare), runs the step, keeps its summary as a file.
 */
async function runStep(
  step: AnyStep,
  raw: Readonly<Record<string, string>>,
  services: StepServices,
  io: CliIo,
): Promise<StepResult<string>> {
  const given: Record<string, string> = { ...raw };
  for (const [name, d] of Object.entries(step.inputs)) {
    const fromEnv = d.env !== undefined ? io.env[d.env] : undefined;
    if (given[name] === undefined && fromEnv) given[name] = fromEnv;
    if (d.secret && given[name]) services.log.secret(given[name]);
  }
  const { inputs, config } = await resolveInputs(step, given, io.cwd);
  const result = await step.run(inputs, { ...services, config });
  if (result.summary) {
    const file = path.join(io.cwd, '.modelship', 'summaries', `${step.name}.md`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, result.summary);
    services.log.info(`summary: ${path.relative(io.cwd, file)}`);
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
