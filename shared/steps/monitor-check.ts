import { input } from '../config/index.ts';
import { defineStep } from './spec.ts';
import { notBuilt } from './not-built.ts';

export const monitorCheckStep = defineStep({
  name: 'monitor-check',
  description: 'Ask Prometheus about latency, errors and drift against SLOs; trigger retraining by workflow_dispatch.',
  configSection: 'monitor',
  inputs: {
    prometheus: input.string({ description: 'Prometheus base URL, e.g. http://prometheus:9090.', required: false }),
    slos: input.list({ description: 'SLO rules, one a line: p95_latency_ms <= 100, error_rate <= 0.01.' }),
    'drift-limits': input.list({ description: 'Drift rules, one a line: prediction_psi <= 0.2, feature_psi <= 0.25.' }),
    reference: input.optional({ description: "setup-data's manifest.json, whose statistics are the drift reference." }),
    window: input.string({ description: 'The time window the queries cover, e.g. 1h.', fallback: '1h' }),
    name: input.optional({ description: 'The model name (selects its series). Default: modelship.yml name.' }),
    'retrain-workflow': input.optional({ description: 'Workflow file to dispatch on a breach, e.g. retrain.yml.' }),
    'retrain-ref': input.string({ description: 'Git ref the retraining workflow runs on.', default: '${{ github.ref_name }}' }),
    'github-token': input.secret({
      description: 'Token for workflow_dispatch (needs actions: write).',
      default: '${{ github.token }}',
      env: 'GITHUB_TOKEN',
    }),
    config: input.optional({ description: 'Path to modelship.yml (default: modelship.yml in the working directory, when present).' }),
  },
  outputs: {
    healthy: 'true when every SLO and drift rule holds.',
    breaches: 'The rules that failed, as JSON.',
    report: 'Path to the monitor report JSON.',
    dispatched: 'true when a retraining workflow was dispatched.',
  },
  run: () => notBuilt('monitor-check'),
});
