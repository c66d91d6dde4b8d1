/**
 * Where the cluster is: an explicit kubeconfig file, else $KUBECONFIG (a list of files, merged as
 * kubectl does), else ~/.kube/config, else the in-cluster service account. No silent fallback to
 * localhost: with nothing found, a ConfigurationError says how to point modelship at a cluster.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigurationError, errorMessage } from '../util/index.ts';

export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubeTarget {
  /** A kubeconfig file; relative paths are resolved against `cwd`. */
  readonly kubeconfig?: string;
  /** A kubeconfig's content (a workflow secret), instead of a file. */
  readonly kubeconfigContent?: string;
  /** A context of that kubeconfig (default: its current-context). */
  readonly context?: string;
  /** The namespace (default: the context's namespace, else `default`). */
  readonly namespace?: string;
}

export interface LoadedKubeConfig {
  readonly kc: KubeConfig;
  readonly namespace: string;
  /** The API server URL. */
  readonly server: string;
  /** Where the configuration came from, for the log: a file, `$KUBECONFIG`, or `in-cluster`. */
  readonly source: string;
}

function loadFile(kc: KubeConfig, file: string, origin: string): void {
  try {
    kc.loadFromFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigurationError(
      code === 'ENOENT'
        ? `${origin} '${file}' does not exist.`
        : `${origin} '${file}' cannot be read as a kubeconfig: ${errorMessage(err).split('\n')[0]}`,
      'Point it at a valid kubeconfig (for example the one helm/kind-action or azure/k8s-set-context writes).',
    );
  }
}

export function loadKubeConfig(
  target: KubeTarget = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): LoadedKubeConfig {
  const kc = new KubeConfig();
  let source: string;
  const home = env.HOME ?? env.USERPROFILE;
  if (target.kubeconfigContent) {
    try {
      kc.loadFromString(target.kubeconfigContent);
    } catch (err) {
      throw new ConfigurationError(
        `input 'kubeconfig' holds text that is not a kubeconfig: ${errorMessage(err).split('\n')[0]}`,
        'Pass a kubeconfig file, or its whole YAML content (e.g. from a secret).',
      );
    }
    source = "input 'kubeconfig'";
  } else if (target.kubeconfig) {
    const file = path.resolve(cwd, target.kubeconfig);
    loadFile(kc, file, 'kubeconfig');
    source = file;
  } else if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(path.delimiter).filter((f) => f !== '');
    loadFile(kc, path.resolve(cwd, files[0]), 'KUBECONFIG file');
    // As kubectl merges: the first file to set a name (or current-context) wins.
    for (const f of files.slice(1)) {
      const more = new KubeConfig();
      loadFile(more, path.resolve(cwd, f), 'KUBECONFIG file');
      const has = <T extends { name: string }>(list: T[], x: T): boolean => list.some((y) => y.name === x.name);
      kc.loadFromOptions({
        clusters: [...kc.getClusters(), ...more.getClusters().filter((c) => !has(kc.getClusters(), c))],
        users: [...kc.getUsers(), ...more.getUsers().filter((u) => !has(kc.getUsers(), u))],
        contexts: [...kc.getContexts(), ...more.getContexts().filter((c) => !has(kc.getContexts(), c))],
        currentContext: kc.getCurrentContext() || more.getCurrentContext(),
      });
    }
    source = '$KUBECONFIG';
  } else if (home && existsSync(path.join(home, '.kube', 'config'))) {
    source = path.join(home, '.kube', 'config');
    loadFile(kc, source, 'kubeconfig');
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
    source = 'in-cluster';
  } else {
    throw new ConfigurationError(
      'no Kubernetes configuration found: no kubeconfig given, KUBECONFIG is not set, ~/.kube/config does not exist, and this is not a pod in a cluster.',
      'Give a kubeconfig, or set up the cluster first (helm/kind-action, azure/k8s-set-context, aws eks update-kubeconfig).',
    );
  }
  if (target.context) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(target.context))
      throw new ConfigurationError(
        `Kubernetes context '${target.context}' is not in ${source}.`,
        names.length > 0 ? `Use one of: ${names.join(', ')}.` : 'The kubeconfig has no contexts.',
      );
    kc.setCurrentContext(target.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new ConfigurationError(
      `the kubeconfig from ${source} has no current cluster (current-context '${kc.getCurrentContext() || '(none)'}').`,
      'Set current-context in the kubeconfig or give a context.',
    );
  const ctx = kc.getContextObject(kc.getCurrentContext());
  const namespace = target.namespace || ctx?.namespace?.trim() || 'default';
  return { kc, namespace, server: cluster.server, source };
}
