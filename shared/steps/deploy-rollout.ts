import { z } from 'zod';
import { input } from '../config/index.ts';
import { ConfigurationError } from '../util/index.ts';
import { defineStep } from './spec.ts';

/** modelship.yml's `deploy.kubernetes`: settings of the Kubernetes target that are not inputs. */
const kubernetesSection = z.strictObject({
  context: z.string().optional(),
  'registry-secret': z.string().optional(),
  cpu: z.string().optional(),
  memory: z.string().optional(),
  'progress-deadline-seconds': z.number().int().positive().optional(),
  'serve-args': z.array(z.string()).optional(),
  /** A PersistentVolumeClaim (ReadWriteMany) for the servers' feedback store; default an emptyDir per pod. */
  'feedback-claim': z.string().min(1).optional(),
});

/** modelship.yml's `deploy.local`: where the local target's proxy listens, and how long a server may take to be ready. */
const localSection = z.strictObject({
  host: z.string().optional(),
  port: z.number().int().min(0).max(65535).optional(),
  'ready-timeout-seconds': z.number().int().positive().optional(),
});

export const deployRolloutStep = defineStep({
  name: 'deploy-rollout',
  description:
    'Roll a registered model version out to Kubernetes or local servers (rolling or canary) with analysis and automatic rollback.',
  configSection: 'deploy',
  permissions: {
    'packages: read': 'resolve the version in a private GHCR package',
    'packages: write': 'move promote-alias (and action: rollback) in GHCR',
  },
  example: {
    ref: '${{ steps.register.outputs.ref }}',
    strategy: 'canary',
    steps: '10, 50, 100',
    analysis: 'error_rate <= 0.01\np95_latency_ms <= 100',
    'promote-alias': 'production',
    kubeconfig: '${{ secrets.KUBECONFIG }}',
  },
  configExtra: { kubernetes: kubernetesSection, local: localSection },
  inputs: {
    ref: input.string({ description: 'The model version to deploy: fashion@staging, fashion:3 or an oci:// reference.', required: true }),
    action: input.choice(['deploy', 'promote', 'abort', 'rollback'], {
      description:
        'deploy (roll ref out), promote or abort (finish a canary in progress), rollback (move promote-alias back and deploy the version it pointed at).',
      fallback: 'deploy',
    }),
    name: input.name({ description: "The deployment's name (Kubernetes objects, the local folder). Default: the model name." }),
    registry: input.string({ description: 'The registry the reference resolves in.', fallback: '.modelship/registry' }),
    'registry-username': input.optional({
      description: 'User name for an OCI registry that needs one (for ghcr.io: the workflow actor).',
      default: '${{ github.actor }}',
    }),
    'registry-password': input.secret({
      description: 'Password or token for the registry (for a private ghcr.io package: the workflow token with packages: read).',
      default: '${{ github.token }}',
      env: 'MODELSHIP_REGISTRY_PASSWORD',
    }),
    target: input.choice(['kubernetes', 'local'], {
      description: 'kubernetes (the cluster of kubeconfig) or local (model server processes on this machine behind a proxy).',
      fallback: 'kubernetes',
    }),
    strategy: input.choice(['rolling', 'canary'], { description: 'rolling or canary.', fallback: 'canary' }),
    namespace: input.string({ description: 'Kubernetes namespace.', fallback: 'default' }),
    kubeconfig: input.optional({
      description: 'A kubeconfig file, or its content. Default: in-cluster credentials, then KUBECONFIG, then ~/.kube/config.',
    }),
    steps: input.list({ description: 'Canary traffic weights in percent, e.g. 10, 50, 100 (the default).', commas: true }),
    analysis: input.list({
      description: 'Rules checked at every step, one a line: error_rate <= 0.01, p95_latency_ms <= 100, prediction_psi <= 0.2.',
    }),
    'analysis-interval': input.duration({ description: 'How long to observe each step, e.g. 60s or 5m.', fallback: '60s', min: '1s' }),
    'failure-limit': input.int({ description: 'Failed analysis measurements tolerated; one more rolls back.', min: 0, fallback: '0' }),
    'no-data': input.choice(['fail', 'warn', 'pass'], {
      description: 'What an analysis measurement with no data does: fail (counts as a failure), warn (moves on) or pass.',
      fallback: 'fail',
    }),
    prometheus: input.url({ description: "Prometheus base URL for analysis (default: scrape the canary's /metrics directly)." }),
    reference: input.optional({
      description: "setup-data's manifest.json or a model folder: the reference for drift rules in the analysis.",
    }),
    image: input.string({ description: 'The model server image (Kubernetes).', fallback: 'ghcr.io/modelship/server:latest' }),
    replicas: input.int({ description: 'Replicas of the stable version (Kubernetes).', min: 1, max: 1000, fallback: '2' }),
    timeout: input.duration({ description: 'Give up (and roll back) after this long, e.g. 15m.', fallback: '15m', min: '10s' }),
    'promote-alias': input.optional({
      description:
        'An alias (e.g. production) moved to the deployed version after a successful rollout, so the next gate compares against what serves.',
    }),
    config: input.optional({ description: 'Path to modelship.yml (default: modelship.yml in the working directory, when present).' }),
  },
  outputs: {
    status: 'promoted, rolled-back, unchanged or failed.',
    revision: 'The deployed model reference with its digest.',
    url: 'The serving endpoint.',
    previous: 'The version it replaced (its reference), when there was one.',
  },
  async run(inputs, ctx) {
    const [{ deployRollout, kubernetesTarget, kubeFetch }, { isOciLocation, openRegistry, parseReference }, { rolloutSummary }] =
      await Promise.all([import('../rollout/index.ts'), import('../registry/index.ts'), import('../report/index.ts')]);
    const ref = parseReference(inputs.ref, { where: "input 'ref'" });
    const registry = await openRegistry(ref.registry ?? inputs.registry, {
      log: ctx.log,
      cwd: ctx.cwd,
      ...(inputs.registryUsername ? { username: inputs.registryUsername } : {}),
      ...(inputs.registryPassword ? { password: inputs.registryPassword } : {}),
    });
    const name = inputs.name ?? ref.name;
    let target;
    let scrapeFetch;
    if (inputs.target === 'kubernetes') {
      const registryUrl = ref.registry ?? inputs.registry;
      if (!isOciLocation(registryUrl))
        throw new ConfigurationError(
          `target kubernetes cannot pull from the local registry folder '${registryUrl}': the cluster does not see it.`,
          'Register the model in an OCI registry the cluster can reach (registry: oci://ghcr.io/acme/models), or use target: local.',
        );
      const section = (ctx.config.sections['deploy']?.['kubernetes'] ?? {}) as z.infer<typeof kubernetesSection>;
      const kubeconfig = inputs.kubeconfig;
      const client = await ctx.kube({
        ...(kubeconfig
          ? /^\s*(apiVersion|kind|clusters)\s*:/m.test(kubeconfig)
            ? { kubeconfigContent: kubeconfig }
            : { kubeconfig }
          : {}),
        ...(section.context ? { context: section.context } : {}),
        namespace: inputs.namespace,
      });
      target = await kubernetesTarget({
        client,
        namespace: inputs.namespace,
        name,
        image: inputs.image,
        registry: registryUrl,
        registrySecret: section['registry-secret'] ?? 'modelship-registry',
        cpu: section.cpu ?? '1',
        memory: section.memory ?? '1Gi',
        progressDeadlineSeconds: section['progress-deadline-seconds'] ?? 600,
        ...(section['serve-args'] ? { serveArgs: section['serve-args'] } : {}),
        ...(section['feedback-claim'] ? { feedbackClaim: section['feedback-claim'] } : {}),
        replicas: inputs.replicas,
        strategy: inputs.strategy,
        log: ctx.log,
      });
      scrapeFetch = await kubeFetch(client);
    } else {
      const { localTarget } = await import('../rollout/index.ts');
      const local = (ctx.config.sections['deploy']?.['local'] ?? {}) as z.infer<typeof localSection>;
      target = await localTarget({
        name,
        registry: ref.registry ?? inputs.registry,
        cwd: ctx.cwd,
        strategy: inputs.strategy,
        log: ctx.log,
        env: ctx.env,
        cli: ctx.cli,
        ...(local.port !== undefined ? { port: local.port } : {}),
        ...(local.host !== undefined ? { host: local.host } : {}),
        ...(local['ready-timeout-seconds'] !== undefined ? { readyTimeoutMs: local['ready-timeout-seconds'] * 1000 } : {}),
      });
    }
    const steps = inputs.steps.map((w) => {
      const n = Number(w.replace(/%$/, ''));
      if (!Number.isFinite(n))
        throw new ConfigurationError(
          `input 'steps' has '${w}', which is not a weight.`,
          'Give weights in percent, e.g. steps: 10, 50, 100.',
        );
      return n;
    });
    try {
      const r = await deployRollout(
        {
          action: inputs.action,
          ref: inputs.ref,
          strategy: inputs.strategy,
          steps,
          analysis: inputs.analysis,
          intervalMs: inputs.analysisInterval,
          timeoutMs: inputs.timeout,
          failureLimit: inputs.failureLimit,
          noData: inputs.noData,
          ...(inputs.prometheus ? { prometheus: inputs.prometheus } : {}),
          ...(inputs.reference ? { reference: inputs.reference } : {}),
          ...(inputs.promoteAlias ? { promoteAlias: inputs.promoteAlias } : {}),
        },
        { registry, target, log: ctx.log, now: ctx.now, cwd: ctx.cwd, signal: ctx.interrupt(), ...(scrapeFetch ? { scrapeFetch } : {}) },
      );
      return {
        outputs: {
          status: r.status,
          revision: r.version?.ref ?? '',
          url: r.url ?? '',
          previous: r.previous?.ref ?? '',
        },
        summary: rolloutSummary(r),
        ...(r.status === 'rolled-back' && inputs.action === 'deploy' ? { failure: `the rollout was rolled back: ${r.reason}` } : {}),
        ...(r.status === 'failed' ? { failure: r.reason } : {}),
      };
    } finally {
      await target.close();
    }
  },
});
