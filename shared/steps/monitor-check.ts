import { input } from '../config/index.ts';
import { ConfigurationError } from '../util/index.ts';
import { defineStep } from './spec.ts';

export const monitorCheckStep = defineStep({
  name: 'monitor-check',
  description: 'Ask Prometheus about latency, errors and drift against SLOs; trigger retraining by workflow_dispatch.',
  configSection: 'monitor',
  permissions: { 'actions: write': 'on-breach: dispatch (workflow_dispatch, and the list of runs for the cool-down)' },
  example: {
    prometheus: 'http://prometheus.example.com:9090',
    slos: 'p95_latency_ms <= 100\nerror_rate <= 0.01',
    reference: '${{ steps.data.outputs.manifest }}',
    'on-breach': 'dispatch',
    'retrain-workflow': 'retrain.yml',
  },
  inputs: {
    prometheus: input.url({ description: 'Prometheus base URL, e.g. http://prometheus:9090.' }),
    endpoint: input.list({
      description:
        "Model server URL(s) to scrape (/metrics) when there is no Prometheus, one a line or comma-separated. Default: http://127.0.0.1:8501 (modelship serve's address).",
      commas: true,
    }),
    slos: input.list({ description: 'SLO rules, one a line: p95_latency_ms <= 100, error_rate <= 0.01. Default: those two.' }),
    'drift-limits': input.list({
      description: 'Drift rules, one a line: prediction_psi <= 0.2, input_psi <= 0.2 (the default when reference is given).',
    }),
    reference: input.optional({ description: "setup-data's manifest.json (or dataset-dir), or a model folder: the drift reference." }),
    window: input.duration({
      description:
        'The time window the check covers, e.g. 1h. Default 1h with Prometheus; 30s with endpoint (the wait between two scrapes).',
      min: '1s',
    }),
    name: input.name({ description: 'The model name (selects its series). Default: modelship.yml name.' }),
    version: input.optional({ description: 'The model version to check (its series). Default: every version of the model together.' }),
    'no-data': input.choice(['fail', 'warn', 'pass'], {
      description: 'What an empty result (no series, too few predictions) does: fail, warn or pass. Never counted as zero.',
      fallback: 'fail',
    }),
    'on-breach': input.choice(['fail', 'dispatch', 'report'], {
      description: 'On a breach: fail the step, dispatch retrain-workflow (and pass), or only report.',
      fallback: 'fail',
    }),
    'retrain-workflow': input.optional({ description: 'Workflow file to dispatch on a breach, e.g. retrain.yml.' }),
    'retrain-ref': input.string({ description: 'Git ref the retraining workflow runs on.', default: '${{ github.ref_name }}' }),
    'retrain-inputs': input.optional({
      description: 'Extra workflow_dispatch inputs as a JSON object; a null drops one of rule, value, limit, window, model, version.',
    }),
    cooldown: input.duration({ description: 'No dispatch within this long of the last run of retrain-workflow, e.g. 6h.', fallback: '6h' }),
    'drift-min-count': input.int({
      description: 'Fewest predictions (and examples) in the window to judge drift; fewer is no data.',
      min: 0,
      fallback: '500',
    }),
    'feedback-min-count': input.int({
      description:
        'Fewest labelled predictions (feedback sent to :feedback) in the window to judge live_accuracy and live_error_rate; fewer is no data.',
      min: 1,
      fallback: '100',
    }),
    queries: input.list({ description: 'Named PromQL, one a line: name: query ($selector and $window are filled in). Usable in slos.' }),
    'github-token': input.secret({
      description: 'Token for workflow_dispatch and for listing its runs (needs actions: write).',
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
    drift: 'Each drift score as JSON (null where there was no data).',
  },
  async run(inputs, ctx) {
    const [{ monitorCheck }, { monitorSummary, monitorText }, { githubRetrainer }] = await Promise.all([
      import('../monitor/index.ts'),
      import('../report/index.ts'),
      import('./retrain.ts'),
    ]);
    if (!inputs.name) throw new ConfigurationError("input 'name' is required.", "Set 'name' in the step's 'with:' or in modelship.yml.");
    const context = await ctx.github.context();
    // The domain decides and reports; starting the workflow is published here, through GitHub.
    const retrain =
      inputs.githubToken && context.repository ? githubRetrainer(await ctx.github.client(inputs.githubToken), context.repository) : null;
    const r = await monitorCheck(
      {
        ...(inputs.prometheus ? { prometheus: inputs.prometheus } : {}),
        endpoints: inputs.endpoint,
        slos: inputs.slos,
        driftLimits: inputs.driftLimits,
        ...(inputs.reference ? { reference: inputs.reference } : {}),
        ...(inputs.window !== undefined ? { windowMs: inputs.window } : {}),
        name: inputs.name,
        ...(inputs.version ? { version: inputs.version } : {}),
        noData: inputs.noData,
        onBreach: inputs.onBreach,
        ...(inputs.retrainWorkflow ? { retrainWorkflow: inputs.retrainWorkflow } : {}),
        retrainRef: inputs.retrainRef,
        ...(inputs.retrainInputs ? { retrainInputs: inputs.retrainInputs } : {}),
        cooldownMs: inputs.cooldown,
        minCount: inputs.driftMinCount,
        minFeedback: inputs.feedbackMinCount,
        queries: inputs.queries,
        reportDir: '.modelship/monitor',
      },
      { retrain, now: ctx.now, log: ctx.log, cwd: ctx.cwd },
    );
    // The same summary for whoever reads the log: a terminal (`modelship monitor`) or the job's log.
    ctx.log.info(monitorText(r.report).trimEnd());
    const j = r.report.judgement;
    return {
      outputs: {
        healthy: j.healthy,
        breaches: JSON.stringify(
          j.breaches.map((b) => ({ rule: b.rule, metric: b.metric, value: b.value, limit: b.limit, reason: b.reason })),
        ),
        report: r.reportPath,
        dispatched: r.report.dispatch.state === 'dispatched',
        drift: JSON.stringify(r.drift),
      },
      summary: monitorSummary(r.report),
      ...(r.failure ? { failure: r.failure } : {}),
    };
  },
});
