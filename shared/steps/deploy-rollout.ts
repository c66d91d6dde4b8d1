import { input } from '../config/index.ts';
import { defineStep } from './spec.ts';
import { notBuilt } from './not-built.ts';

export const deployRolloutStep = defineStep({
  name: 'deploy-rollout',
  description: 'Roll a registered model version out to Kubernetes (rolling or canary) with analysis and automatic rollback.',
  configSection: 'deploy',
  inputs: {
    ref: input.string({ description: 'The model version to deploy: fashion@staging, fashion:3 or an oci:// reference.', required: true }),
    registry: input.string({ description: 'The registry the reference resolves in.', fallback: '.modelship/registry' }),
    target: input.choice(['kubernetes', 'local'], {
      description: 'kubernetes (the current kubeconfig context) or local (model server processes on this machine).',
      fallback: 'kubernetes',
    }),
    strategy: input.choice(['rolling', 'canary'], { description: 'rolling or canary.', fallback: 'canary' }),
    namespace: input.string({ description: 'Kubernetes namespace.', fallback: 'default' }),
    steps: input.list({ description: 'Canary traffic weights in percent, e.g. 10, 50, 100.', commas: true }),
    analysis: input.list({ description: 'Rules checked at every step, one a line: error_rate <= 0.01, p95_latency_ms <= 100.' }),
    'analysis-interval': input.duration({ description: 'How long to observe each step, e.g. 60s or 5m.', fallback: '60s', min: '1s' }),
    prometheus: input.url({ description: 'Prometheus base URL for analysis (default: scrape the pods directly).' }),
    image: input.string({ description: 'The model server image.', fallback: 'ghcr.io/modelship/server:latest' }),
    replicas: input.int({ description: 'Replicas of the stable version.', min: 1, max: 1000, fallback: '2' }),
    timeout: input.duration({ description: 'Give up (and roll back) after this long, e.g. 15m.', fallback: '15m', min: '10s' }),
    config: input.optional({ description: 'Path to modelship.yml (default: modelship.yml in the working directory, when present).' }),
  },
  outputs: {
    status: 'promoted or rolled-back.',
    revision: 'The deployed model reference with digest.',
    url: 'The serving endpoint.',
  },
  run: () => notBuilt('deploy-rollout'),
});
