/**
 * The services both doors hand to steps, built from an environment and a working directory. The
 * Actions door adds the Actions cache; tests replace any of them.
 */
import { githubService } from '../github/index.ts';
import type { Logger } from '../util/index.ts';
import type { StepServices } from './spec.ts';

export function defaultServices(opts: {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly log: Logger;
  readonly now?: () => Date;
  readonly dataCache?: StepServices['dataCache'];
}): StepServices {
  const { env, cwd } = opts;
  return {
    log: opts.log,
    cwd,
    now: opts.now ?? (() => new Date()),
    env,
    ...(opts.dataCache ? { dataCache: opts.dataCache } : {}),
    github: githubService(env, cwd),
    // @kubernetes/client-node loads only when a step asks for a cluster.
    kube: async (target = {}) => (await import('../k8s/index.ts')).KubeClient.connect(target, env, cwd),
  };
}
