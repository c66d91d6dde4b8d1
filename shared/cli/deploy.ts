/**
 * `modelship deploy status|stop|proxy`: the local target's processes. `status` shows what serves
 * where (versions, weights, health); `stop` ends them; `proxy` is the traffic-splitting proxy
 * process the local target starts (it prints one ready line). `modelship deploy --ref …` runs the
 * deploy-rollout step itself.
 */
import { localStatus, startProxy, stopLocal } from '../rollout/index.ts';
import { ConfigurationError, type Logger } from '../util/index.ts';
import { parseOptions } from './args.ts';

export interface DeployIo {
  readonly log: Logger;
  readonly stdout: NodeJS.WritableStream;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signals?: Pick<NodeJS.Process, 'once' | 'off'>;
}

export function deployHelp(): string {
  return [
    'modelship deploy status|stop [--name NAME] · modelship deploy proxy [--host H] [--port P] [--admin-port P]',
    '',
    '  status   what the local deployment NAME serves: processes, versions, weights, health',
    "  stop     end the local deployment's processes (proxy and servers) and clear its state",
    '  proxy    run the traffic-splitting proxy (the local target starts it; routes come from its admin API)',
    '',
    'NAME is the deployment name (default: the model name in modelship.yml).',
    "To deploy, run 'modelship deploy-rollout --ref fashion@staging --target local' (or 'modelship deploy --ref …').",
  ].join('\n');
}

const port = (text: string | undefined, option: string, fallback: number): number => {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ConfigurationError(
      `deploy proxy: ${option} must be a port from 0 to 65535, got '${text}'.`,
      `Write ${option} 8500, or 0 for a free port.`,
    );
  return n;
};

export async function deployCommand(argv: string[], io: DeployIo): Promise<number> {
  const { values, positionals, help } = parseOptions(
    argv,
    { valued: ['name', 'host', 'port', 'admin-port', 'config'], positionals: true },
    'deploy',
  );
  const verb = positionals.shift();
  if (help || verb === undefined) {
    io.stdout.write(`${deployHelp()}\n`);
    return help ? 0 : 2;
  }
  if (positionals.length)
    throw new ConfigurationError(`deploy ${verb}: unexpected argument '${positionals[0]}'.`, "See 'modelship deploy --help'.");
  if (verb === 'proxy') {
    const proxy = await startProxy({
      host: values['host'] ?? '127.0.0.1',
      port: port(values['port'], '--port', 0),
      adminPort: port(values['admin-port'], '--admin-port', 0),
    });
    io.stdout.write(`modelship proxy ready url=${proxy.url} admin=${proxy.adminUrl}\n`);
    const signals = io.signals ?? process;
    await new Promise<void>((resolve) => {
      const stop = (): void => resolve();
      signals.once('SIGTERM', stop);
      signals.once('SIGINT', stop);
    });
    await proxy.close();
    return 0;
  }
  const name = values['name'] ?? (await defaultName(values['config'], io.cwd));
  if (verb === 'status') {
    const s = await localStatus(io.cwd, name);
    if (!s.state) {
      io.stdout.write(`nothing is deployed locally as ${name} (no ${s.dir}/state.json)\n`);
      return 0;
    }
    const row = (role: 'proxy' | 'stable' | 'canary'): string | undefined => {
      const rec = s.state![role];
      if (!rec) return undefined;
      const v = 'version' in rec ? ` ${rec.version.name}:${rec.version.version}` : '';
      const w =
        role === 'canary' && 'weight' in rec ? ` ${rec.weight}%` : role === 'stable' ? ` ${100 - (s.state!.canary?.weight ?? 0)}%` : '';
      return `${role.padEnd(7)}${v}${w}  ${rec.url}  pid ${rec.pid} ${s.alive[role] ? 'running' : 'NOT RUNNING'}  log ${rec.log}`;
    };
    io.stdout.write(`${[`${name} (${s.dir})`, row('proxy'), row('stable'), row('canary')].filter(Boolean).join('\n')}\n`);
    return 0;
  }
  if (verb === 'stop') {
    const n = await stopLocal(io.cwd, name, io.log);
    io.stdout.write(`stopped ${n} process${n === 1 ? '' : 'es'} of ${name}\n`);
    return 0;
  }
  throw new ConfigurationError(`deploy: unknown command '${verb}'.`, 'Use status, stop or proxy.');
}

async function defaultName(config: string | undefined, cwd: string): Promise<string> {
  const [{ loadConfig }, { allSteps, configSchema }] = await Promise.all([import('../config/index.ts'), import('../steps/index.ts')]);
  const { config: c } = await loadConfig(config, cwd, configSchema(allSteps));
  if (!c.name) throw new ConfigurationError('deploy: which deployment? No --name, and modelship.yml has no name.', 'Pass --name fashion.');
  return c.name;
}
