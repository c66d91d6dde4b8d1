/**
 * `modelship monitor rules|dashboard`: the monitoring assets generated from monitor-check's SLO
 * table. `rules` writes Prometheus alerting rules for the SLOs (from --slos, else modelship.yml's
 * monitor.slos, else the defaults); `dashboard` writes the Grafana dashboard. Both print to stdout
 * without --out. (`modelship monitor` with options runs the monitor-check step itself.)
 */
import path from 'node:path';
import { loadConfig, parseDuration, rawValue, splitLines } from '../config/index.ts';
import { allSteps, configSchema } from '../steps/index.ts';
import { alertingRulesYaml, DEFAULT_SLOS, grafanaDashboardJson, parseSloRules, promDuration } from '../monitor/index.ts';
import { ConfigurationError, type Logger, writeFileAtomic } from '../util/index.ts';
import { parseOptions } from './args.ts';

export interface MonitorIo {
  readonly log: Logger;
  readonly stdout: NodeJS.WritableStream;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function monitorHelp(): string {
  return [
    "modelship monitor: Prometheus alerting rules and a Grafana dashboard from monitor-check's SLO table.",
    '',
    'Usage:',
    '  modelship monitor rules [--slos RULE …] [--name MODEL] [--window 5m] [--for 5m] [--severity warning] [--out FILE]',
    '  modelship monitor dashboard [--out FILE]',
    '',
    'Options:',
    `  --slos RULE     an SLO line such as 'p95_latency_ms <= 100' (repeat it; default: monitor.slos in modelship.yml, else ${DEFAULT_SLOS.join(', ')})`,
    '  --name MODEL    alert for one model only (default: every model; alerts carry model and version labels)',
    '  --window D      the rate window of each query (default 5m)',
    '  --for D         how long a breach holds before the alert fires (default 5m)',
    '  --severity S    the severity label (default warning)',
    '  --out FILE      write the file (atomically) instead of printing it',
    '  --config F      modelship.yml to read monitor.slos from',
    '',
    'Examples:',
    '  modelship monitor rules --slos "p95_latency_ms <= 100" --slos "error_rate <= 0.01" --out monitoring/alerts.yml',
    '  promtool check rules monitoring/alerts.yml',
    '  modelship monitor dashboard --out monitoring/grafana-dashboard.json',
  ].join('\n');
}

async function emit(text: string, out: string | undefined, io: MonitorIo): Promise<void> {
  if (!out) {
    io.stdout.write(text);
    return;
  }
  const file = path.resolve(io.cwd, out);
  await writeFileAtomic(file, text);
  io.log.info(`wrote ${path.relative(io.cwd, file) || file}`);
}

/** `monitoring <verb> …`; returns the exit code. */
export async function monitorCommand(argv: string[], io: MonitorIo): Promise<number> {
  const { values, positionals, help } = parseOptions(
    argv,
    { valued: ['slos', 'name', 'window', 'for', 'severity', 'out', 'config'], positionals: true },
    'monitor rules',
  );
  const verb = positionals.shift();
  if (help || verb === undefined) {
    io.stdout.write(`${monitorHelp()}\n`);
    return help ? 0 : 2;
  }
  if (positionals.length)
    throw new ConfigurationError(`monitor ${verb}: unexpected argument '${positionals[0]}'.`, "See 'modelship monitor --help'.");
  if (verb === 'dashboard') {
    await emit(grafanaDashboardJson(), values['out'], io);
    return 0;
  }
  if (verb !== 'rules') throw new ConfigurationError(`monitor: unknown command '${verb}'.`, 'Use rules or dashboard.');
  const { config } = await loadConfig(values['config'], io.cwd, configSchema(allSteps));
  const fromFile = config.sections['monitor']?.['slos'];
  const lines =
    values['slos']?.split('\n') ?? (fromFile === undefined ? [...DEFAULT_SLOS] : splitLines(rawValue(fromFile, 'list') ?? '', false));
  const rules = parseSloRules(lines, [], values['slos'] ? '--slos' : 'monitor.slos');
  const windowArg = values['window'] ?? '5m';
  const forArg = values['for'] ?? '5m';
  const text = alertingRulesYaml({
    rules,
    ...(values['name'] ? { model: values['name'] } : {}),
    window: promDuration(seconds(windowArg, '--window')),
    for: promDuration(seconds(forArg, '--for')),
    ...(values['severity'] ? { severity: values['severity'] } : {}),
  });
  await emit(text, values['out'], io);
  return 0;
}

/** A whole number of seconds from a duration option. */
function seconds(text: string, option: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1000 || ms % 1000 !== 0)
    throw new ConfigurationError(
      `monitor rules: ${option} must be a duration in whole seconds such as 90s, 5m or 1h; got '${text}'.`,
      `Write e.g. ${option} 5m.`,
    );
  return ms / 1000;
}
