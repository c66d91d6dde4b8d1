/**
 * Training reports, pure: the model card (model-card.md in the model folder) and the job summary
 * with the training curves as Mermaid `xychart-beta` charts.
 */
import type { EpochRecord, ModelMetadata } from '../model/index.ts';
import { code, count, escapeMarkdown, lineChart, table } from './markdown.ts';
import { shortDigest } from '../util/index.ts';

export interface TrainingFacts {
  /** Why this backend was chosen (e.g. "tfjs-node not installed"). */
  readonly backendReason: string;
  readonly trainCount: number;
  readonly valCount: number;
  readonly stoppedEarly: boolean;
  /** Epochs completed before this session resumed (0 for a fresh run). */
  readonly resumed: number;
}

function fixed(v: number | undefined, digits = 4): string {
  return v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
}

function seconds(s: number): string {
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Loss and accuracy per epoch, as Mermaid charts (accuracy only for classifiers), train and validation as two lines. */
export function trainingCharts(history: readonly EpochRecord[]): string {
  if (history.length === 0) return '';
  const x = history.map((r) => r.epoch);
  const hasVal = history.some((r) => r.valLoss !== undefined);
  const lossSeries = [{ name: 'train loss', values: history.map((r) => r.loss) }];
  if (hasVal) lossSeries.push({ name: 'validation loss', values: history.map((r) => r.valLoss ?? Number.NaN) });
  const charts = [lineChart({ title: 'loss per epoch', xLabels: x, series: lossSeries })];
  if (history.some((r) => r.acc !== undefined)) {
    const accSeries = [{ name: 'train accuracy', values: history.map((r) => r.acc ?? Number.NaN) }];
    if (history.some((r) => r.valAcc !== undefined))
      accSeries.push({ name: 'validation accuracy', values: history.map((r) => r.valAcc ?? Number.NaN) });
    charts.push(lineChart({ title: 'accuracy per epoch', xLabels: x, series: accSeries }));
  }
  return charts.join('\n\n');
}

function historyTable(history: readonly EpochRecord[]): string {
  const withAcc = history.some((r) => r.acc !== undefined);
  const header = ['epoch', 'loss', ...(withAcc ? ['acc'] : []), 'val_loss', ...(withAcc ? ['val_acc'] : []), 'samples/s', 'seconds'];
  const rows = history.map((r) => [
    String(r.epoch),
    fixed(r.loss),
    ...(withAcc ? [fixed(r.acc)] : []),
    fixed(r.valLoss),
    ...(withAcc ? [fixed(r.valAcc)] : []),
    count(Math.round(r.samplesPerSecond)),
    r.seconds.toFixed(1),
  ]);
  return table(
    header,
    rows,
    header.map((_, i) => (i === 0 ? 'left' : 'right')),
  );
}

function gitLine(git: ModelMetadata['git']): string | undefined {
  const parts: string[] = [];
  if (git.repository) parts.push(`repository ${code(git.repository)}`);
  if (git.ref) parts.push(`ref ${code(git.ref)}`);
  if (git.commit) parts.push(`commit ${code(git.commit.slice(0, 12))}`);
  if (git.runUrl && /^https:\/\/[^\s()<>]+$/.test(git.runUrl)) parts.push(`[workflow run](${git.runUrl})`);
  return parts.length > 0 ? parts.join(' · ') : undefined;
}

/** model-card.md: what the model is, what it was trained on, how, and how well. */
export function modelCard(metadata: ModelMetadata, history: readonly EpochRecord[], facts: TrainingFacts): string {
  const p = metadata.params;
  const m = metadata.metrics;
  const title = metadata.name ? escapeMarkdown(metadata.name) : `${escapeMarkdown(p.architecture)} model`;
  const classes =
    metadata.classes.length > 0 ? metadata.classes.map((c, i) => `${i} ${escapeMarkdown(c)}`).join(' · ') : 'none (regression: one output)';
  const prep = metadata.preprocessing;
  const prepText = [
    `x × ${prep.scale} + ${prep.offset}`,
    ...(prep.mean ? [`− mean (per channel)`] : []),
    ...(prep.std ? [`÷ std (per channel)`] : []),
  ].join(' ');
  const splits = Object.entries(metadata.dataset.splits)
    .map(([name, digest]) => `${name} ${code(shortDigest(digest))}`)
    .join(' · ');
  const lines = [
    `# Model card: ${title}`,
    '',
    `A ${escapeMarkdown(metadata.task)} model (${code(p.architecture)}) trained by modelship with TensorFlow.js.`,
    '',
    '## Data',
    '',
    table(
      ['', ''],
      [
        ['data set digest', code(metadata.dataset.digest)],
        ['splits used', splits],
        ['examples', `${count(facts.trainCount)} train · ${count(facts.valCount)} validation (the test split is not used in training)`],
        ['input shape', code(`[${metadata.inputShape.join(', ')}]`)],
        ['classes', classes],
        ['preprocessing', code(prepText)],
      ],
    ),
    '',
    '## Training',
    '',
    table(
      ['', ''],
      [
        ['architecture', code(p.architecture)],
        [
          'params',
          code(
            `epochs=${p.epochs} batch-size=${p.batchSize} learning-rate=${p.learningRate} seed=${p.seed} early-stopping-patience=${p.earlyStoppingPatience}`,
          ),
        ],
        [
          'optimizer, loss',
          `Adam (learning rate cosine-decayed to a tenth over the epochs), ${metadata.task === 'classification' ? 'sparse categorical crossentropy' : 'mean squared error'}`,
        ],
        ['backend', `${code(metadata.backend)} (${escapeMarkdown(facts.backendReason)})`],
        [
          'library versions',
          Object.entries(metadata.versions)
            .map(([k, v]) => code(`${k} ${v}`))
            .join(' '),
        ],
        [
          'epochs run',
          `${m.epochsRun}${facts.stoppedEarly ? ' (stopped early)' : ''}${facts.resumed > 0 ? ` (resumed after epoch ${facts.resumed})` : ''}`,
        ],
        ['duration', `${seconds(metadata.training.durationSeconds)} · ${count(Math.round(metadata.training.samplesPerSecond))} samples/s`],
        ['started, finished', `${metadata.training.startedAt} · ${metadata.training.finishedAt}`],
        ...(gitLine(metadata.git) ? [['source', gitLine(metadata.git)!]] : []),
      ],
    ),
    '',
    '## Results',
    '',
    table(
      ['metric', 'value'],
      [
        ...(m.bestEpoch !== undefined ? [['kept epoch (best val_loss)', String(m.bestEpoch)]] : []),
        ['validation loss', fixed(m.valLoss)],
        ...(metadata.task === 'classification' ? [['validation accuracy', fixed(m.valAccuracy)]] : []),
        ['final training loss', fixed(m.finalLoss)],
      ],
      ['left', 'right'],
    ),
    '',
    'Test-set metrics come from evaluate-gate, which scores the held-out test split.',
    '',
    '## History',
    '',
    historyTable(history),
    '',
    trainingCharts(history),
    '',
  ];
  return lines.join('\n');
}

/** The job summary of a training run. */
export function trainingSummary(
  metadata: ModelMetadata,
  history: readonly EpochRecord[],
  facts: TrainingFacts & { modelDir: string },
): string {
  const m = metadata.metrics;
  const headline = [
    metadata.task === 'classification' ? `val accuracy **${fixed(m.valAccuracy)}**` : `val loss **${fixed(m.valLoss)}**`,
    `${m.epochsRun} epoch${m.epochsRun === 1 ? '' : 's'}${facts.stoppedEarly ? ' (stopped early)' : ''}`,
    `backend ${code(metadata.backend)}`,
    `${seconds(metadata.training.durationSeconds)}`,
    `${count(Math.round(metadata.training.samplesPerSecond))} samples/s`,
  ].join(' · ');
  return [
    `### modelship train · ${code(metadata.params.architecture)}`,
    '',
    headline,
    '',
    trainingCharts(history),
    '',
    historyTable(history),
    '',
    `Data ${code(shortDigest(metadata.dataset.digest))} (${count(facts.trainCount)} train / ${count(facts.valCount)} val) · params ${code(
      `epochs=${metadata.params.epochs} batch-size=${metadata.params.batchSize} lr=${metadata.params.learningRate} seed=${metadata.params.seed}`,
    )} · model ${code(facts.modelDir)}`,
    '',
  ].join('\n');
}
