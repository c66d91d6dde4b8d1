/**
 * The simulator on its own, for any Kubernetes client:
 *
 *   npm run k8s-sim -- --kubeconfig /tmp/sim.kubeconfig [--port 0] [--namespace default]
 *                      [--time-scale 1] [--gateway-api] [--token T] [--no-events]
 *
 * Prints `listening <url>` (and `kubeconfig <file>` once written), then serves until SIGINT or
 * SIGTERM. Pods of a plain image run and turn ready; faults are switched through the control
 * paths under /k8s-sim/ (see control.ts).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startSimulator } from './index.ts';

const USAGE = `usage: npm run k8s-sim -- [--kubeconfig <file>] [--port <n>] [--host <addr>] [--namespace <ns>]
                        [--time-scale <x>] [--gateway-api] [--token <t>] [--no-events]

  --kubeconfig   write a kubeconfig for the simulator to this file
  --port         port to listen on (default: a free one)
  --host         address to listen on (default 127.0.0.1)
  --namespace    the kubeconfig context's namespace (default "default")
  --time-scale   multiplies every duration the API gives in seconds (probes, deadlines, grace
                 periods); 0.01 makes a 10 s probe period 100 ms (default 1)
  --gateway-api  serve gateway.networking.k8s.io/v1 HTTPRoute (default off)
  --token        require "Authorization: Bearer <t>" on every request
  --no-events    do not record Events`;

async function main(): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  const parse = () =>
    parseArgs({
      options: {
        kubeconfig: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        namespace: { type: 'string', default: 'default' },
        'time-scale': { type: 'string' },
        'gateway-api': { type: 'boolean', default: false },
        token: { type: 'string' },
        'no-events': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  try {
    values = parse().values;
  } catch (err) {
    process.stderr.write(`k8s-sim: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  const timeScale = values['time-scale'] === undefined ? 1 : Number(values['time-scale']);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || !(timeScale > 0)) {
    process.stderr.write(`k8s-sim: --port must be 0..65535 and --time-scale a positive number\n${USAGE}\n`);
    return 2;
  }
  const sim = await startSimulator({
    port,
    ...(values.host ? { host: values.host } : {}),
    gatewayApi: values['gateway-api'],
    events: !values['no-events'],
    control: true,
    ...(values.token ? { token: values.token } : {}),
    timing: { timeScale },
  });
  process.stdout.write(`listening ${sim.url}\n`);
  if (values.kubeconfig) {
    const file = resolve(values.kubeconfig);
    await sim.writeKubeconfig(file, values.namespace);
    process.stdout.write(`kubeconfig ${file}\n`);
  }
  await new Promise<void>((done) => {
    const stop = (): void => done();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await sim.close();
  process.stdout.write('stopped\n');
  return 0;
}

process.exitCode = await main();
