/**
 * `modelship monitoring rules|dashboard`: the monitoring assets generated from monitor-check's SLO
 * table. `rules` writes Prometheus alerting rules for the SLOs (from --slos, else modelship.yml's
 * monitor.slos, else the defaults); `dashboard` writes the Grafana dashboard. Both print to stdout
 * without --out.
 *
 * (Registered as `monitoring`: the alias `monitor` = monitor-check is resolved before subcommands,
 * so `modelship monitor rules` would run the step. `monitorCommand` takes the verb first, so the
 * CLI door can route `monitor rules` here once it distinguishes the two.)
 */
import path from 'node:path';
import { loadConfig } from '../config/load.ts';
import { alertingRulesYaml, DEFAULT_SLOS, grafanaDashboardJson, parseDuration, parseSloRules, promDuration } from '../monitor/index.ts';
import { ConfigurationError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/fs.ts';
import type { Logger } from '../util/log.ts';
import { parseOptions } from './args.ts';

export interface MonitorIo {
  readonly log: Logger;
  readonly stdout: NodeJS.WritableStream;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function monitorHelp(): string {
  return [
    "modelship monitoring: Prometheus alerting rules and a Grafana dashboard from monitor-check's SLO table.",
    '',
    'Usage:',
    '  modelship monitoring rules [--slos RULE …] [--name MODEL] [--window 5m] [--for 5m] [--severity warning] [--out FILE]',
    '  modelship monitoring dashboard [--out FILE]',
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
    '  modelship monitoring rules --slos "p95_latency_ms <= 100" --slos "error_rate <= 0.01" --out monitoring/alerts.yml',
    '  promtool check rules monitoring/alerts.yml',
    '  modelship monitoring dashboard --out monitoring/grafana-dashboard.json',
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
    'monitoring',
  );
  const verb = positionals.shift();
  if (help || verb === undefined) {
    io.stdout.write(`${monitorHelp()}\n`);
    return help ? 0 : 2;
  }
  if (positionals.length)
    throw new ConfigurationError(`monitoring ${verb}: unexpected argument '${positionals[0]}'.`, "See 'modelship monitoring --help'.");
  if (verb === 'dashboard') {
    await emit(grafanaDashboardJson(), values['out'], io);
    return 0;
  }
  if (verb !== 'rules') throw new ConfigurationError(`monitoring: unknown command '${verb}'.`, 'Use rules or dashboard.');
  const { config } = await loadConfig(values['config'], io.cwd);
  const fromFile = config.monitor?.slos;
  const lines =
    values['slos']?.split('\n') ??
    (fromFile === undefined ? [...DEFAULT_SLOS] : typeof fromFile === 'string' ? fromFile.split('\n') : fromFile);
  const rules = parseSloRules(lines, [], values['slos'] ? '--slos' : 'monitor.slos');
  const windowArg = values['window'] ?? '5m';
  const forArg = values['for'] ?? '5m';
  const text = alertingRulesYaml({
    rules,
    ...(values['name'] ? { model: values['name'] } : {}),
    window: promDuration(parseDuration(windowArg, '--window')),
    for: promDuration(parseDuration(forArg, '--for')),
    ...(values['severity'] ? { severity: values['severity'] } : {}),
  });
  await emit(text, values['out'], io);
  return 0;
}
