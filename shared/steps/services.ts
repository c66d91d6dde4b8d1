/**
 * The services both doors hand to steps, built from an environment and a working directory. The
 * Actions door adds the Actions cache; tests replace any of them.
 */
import path from 'node:path';
import type { GithubService } from '../github/index.ts';
import type { Logger } from '../util/index.ts';
import type { StepServices } from './spec.ts';

export function defaultServices(opts: {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly log: Logger;
  readonly now?: () => Date;
  readonly dataCache?: StepServices['dataCache'];
  readonly cli?: readonly string[];
}): StepServices {
  const { env, cwd } = opts;
  return {
    log: opts.log,
    cwd,
    now: opts.now ?? (() => new Date()),
    env,
    ...(opts.dataCache ? { dataCache: opts.dataCache } : {}),
    github: lazyGithub(env, cwd),
    // From the sources: bin/modelship.js of this checkout (the bundle's door passes its own).
    cli: opts.cli ?? [process.execPath, path.resolve(import.meta.dirname, '..', '..', 'bin', 'modelship.js')],
    interrupt: processInterrupt,
    // @kubernetes/client-node loads only when a step asks for a cluster.
    kube: async (target = {}) => (await import('../k8s/index.ts')).KubeClient.connect(target, env, cwd),
  };
}

/** The GitHub service, with @actions/github loaded only when a step first asks for it. */
function lazyGithub(env: Readonly<Record<string, string | undefined>>, cwd: string): GithubService {
  let service: Promise<GithubService> | undefined;
  const get = (): Promise<GithubService> => (service ??= import('../github/index.ts').then((m) => m.githubService(env, cwd)));
  return {
    context: async () => (await get()).context(),
    provenance: async () => (await get()).provenance(),
    client: async (token) => (await get()).client(token),
  };
}

let interruption: AbortController | undefined;

/** SIGINT/SIGTERM as an AbortSignal, listened for from the first request on (once per process). */
function processInterrupt(): AbortSignal {
  if (!interruption) {
    const ctrl = new AbortController();
    interruption = ctrl;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (ctrl.signal.aborted) {
        // A second signal: stop listening and let it do what it does by default (end the process).
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        process.kill(process.pid, sig);
        return;
      }
      ctrl.abort(new Error(`interrupted by ${sig}`));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return interruption.signal;
}
