import path from 'node:path';
import { input } from '../config/index.ts';
import { sha256File } from '../util/index.ts';
import { defineStep } from './spec.ts';

export const evaluateGateStep = defineStep({
  name: 'evaluate-gate',
  description:
    'Score a model on held-out data, compare it with thresholds and with the production model, fail on regression and upsert a PR comment with the metric diff.',
  configSection: 'gate',
  permissions: {
    'pull-requests: write': 'the PR comment (comment: auto skips it, and says so, when the token cannot write: fork PRs)',
    'packages: read': 'a baseline in a private GHCR package (registry: oci://ghcr.io/…)',
  },
  example: {
    model: '${{ steps.train.outputs.model-dir }}',
    dataset: '${{ steps.data.outputs.dataset-dir }}',
    baseline: 'production',
    thresholds: 'accuracy >= 0.90\nlog_loss <= 0.35',
    'max-regression': 'accuracy: 1pp',
  },
  configRename: {},
  inputs: {
    model: input.string({ description: 'The candidate model folder (the model-dir output of train).', required: true }),
    dataset: input.string({
      description: 'The data set (dataset-dir or manifest of setup-data); its test split is scored.',
      required: true,
    }),
    baseline: input.string({
      description:
        'What to compare with: a model folder, a registry reference (production, fashion@production, fashion:3, oci://…) or none.',
      fallback: 'production',
    }),
    registry: input.string({
      description: 'The registry that holds the baseline: a local folder or oci://host/repo.',
      fallback: '.modelship/registry',
    }),
    'registry-username': input.optional({
      description: 'User name for an OCI registry that needs one (for ghcr.io: the workflow actor).',
      default: '${{ github.actor }}',
    }),
    'registry-password': input.secret({
      description: 'Password or token for the baseline registry (for a private ghcr.io package: the workflow token with packages: read).',
      default: '${{ github.token }}',
      env: 'MODELSHIP_REGISTRY_PASSWORD',
    }),
    name: input.name({
      description: 'The model name (registry repository and PR comment key). Default: modelship.yml name, else the model metadata.',
    }),
    thresholds: input.rules({ description: 'Absolute rules, one a line: accuracy >= 0.90, log_loss <= 0.35.', kinds: ['threshold'] }),
    'max-regression': input.rules({
      description: 'Largest allowed drop against the baseline, one a line: accuracy: 0.01, f1_macro: 2%, accuracy: 1pp.',
      kinds: ['regression'],
    }),
    significance: input.number({
      description: 'Significance level of the paired test that tells a real change from noise.',
      min: 0,
      exclusiveMin: true,
      max: 0.5,
      fallback: '0.05',
    }),
    comment: input.choice(['auto', 'true', 'false'], {
      description: 'Upsert a PR comment: auto (on pull requests when the token can write), true (always; fail if it cannot) or false.',
      fallback: 'auto',
    }),
    'github-token': input.secret({
      description: 'Token for the PR comment (needs pull-requests: write).',
      default: '${{ github.token }}',
      env: 'GITHUB_TOKEN',
    }),
    'fail-on-gate': input.bool({ description: 'Fail the step when the gate does not pass.', fallback: 'true' }),
    'report-dir': input.string({ description: 'Where to write report.json and report.md.', fallback: '.modelship/report' }),
    'memory-budget': input.size({
      description: 'Largest size of the test split held in memory, e.g. 4GiB; a larger one is refused before it is read.',
      fallback: '2GiB',
      min: '1MiB',
    }),
    config: input.optional({ description: 'Path to modelship.yml (default: modelship.yml in the working directory, when present).' }),
  },
  outputs: {
    passed: 'true when every rule passed.',
    report: 'Path to report.json.',
    'report-digest': 'sha256:<hex> of report.json; verify checks a downloaded copy against it.',
    markdown: 'Path to report.md (the PR comment and job summary body).',
    'comment-url': 'URL of the upserted PR comment, when one was written.',
    metrics: 'The candidate metrics as JSON.',
  },
  async run(inputs, ctx) {
    const [{ evaluateGate }, { publishComment, runInfo }] = await Promise.all([
      import('../evaluate/index.ts'),
      import('../github/index.ts'),
    ]);
    const context = await ctx.github.context();
    const r = await evaluateGate({
      model: inputs.model,
      dataset: inputs.dataset,
      baseline: inputs.baseline,
      registry: inputs.registry,
      ...(inputs.registryUsername ? { registryUsername: inputs.registryUsername } : {}),
      ...(inputs.registryPassword ? { registryPassword: inputs.registryPassword } : {}),
      ...(inputs.name ? { name: inputs.name } : {}),
      thresholds: inputs.thresholds,
      maxRegression: inputs.maxRegression,
      significance: inputs.significance,
      reportDir: inputs.reportDir,
      memoryBudget: inputs.memoryBudget,
      run: runInfo(context),
      log: ctx.log,
      cwd: ctx.cwd,
      now: ctx.now,
    });
    const token = inputs.githubToken;
    const client = token ? await ctx.github.client(token) : undefined;
    const comment = await ctx.log.group('PR comment', () =>
      publishComment({
        mode: inputs.comment,
        token,
        context,
        name: r.report.name,
        markdown: r.markdown,
        log: ctx.log,
        ...(client ? { client } : {}),
      }),
    );
    const failures: string[] = [];
    if (!r.decision.passed && inputs.failOnGate) {
      const failed = r.report.rules.filter((x) => x.verdict === 'fail').map((x) => `${x.rule} (${x.reason})`);
      failures.push(`the gate did not pass: ${failed.join('; ')}`);
    }
    if (comment.failure) failures.push(comment.failure);
    return {
      outputs: {
        passed: r.decision.passed,
        report: r.reportPath,
        'report-digest': `sha256:${(await sha256File(path.resolve(ctx.cwd, r.reportPath))).hex}`,
        markdown: r.markdownPath,
        'comment-url': comment.url ?? '',
        metrics: JSON.stringify(r.report.candidate.metrics.scalars),
      },
      summary: r.markdown,
      ...(failures.length ? { failure: failures.join('; ') } : {}),
    };
  },
});
