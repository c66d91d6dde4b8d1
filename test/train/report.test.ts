import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EpochRecord, ModelMetadata } from '../../shared/model/metadata.ts';
import { modelCard, trainingCharts, trainingSummary } from '../../shared/report/training.ts';

const history: EpochRecord[] = [
  { epoch: 1, loss: 0.512, acc: 0.815, valLoss: 0.391, valAcc: 0.861, samplesPerSecond: 1712, seconds: 34 },
  { epoch: 2, loss: 0.341, acc: 0.877, valLoss: 0.322, valAcc: 0.884, samplesPerSecond: 1730, seconds: 33 },
];
const metadata: ModelMetadata = {
  schemaVersion: 1,
  kind: 'modelship.model',
  name: 'fashion',
  task: 'classification',
  inputShape: [28, 28, 1],
  classes: ['T-shirt/top', 'Trouser', '<script>'],
  preprocessing: { scale: 1 / 255, offset: 0 },
  dataset: { digest: 'sha256:3f9a1c2b00000000', splits: { train: 'sha256:aaaa', validation: 'sha256:bbbb' } },
  params: { architecture: 'cnn', epochs: 2, batchSize: 64, learningRate: 0.001, seed: 42, earlyStoppingPatience: 3 },
  backend: 'wasm',
  versions: { 'tfjs-core': '4.22.0' },
  git: { commit: 'a1b2c3d4e5f60000', repository: 'acme/fashion', runUrl: 'https://github.com/acme/fashion/actions/runs/1' },
  metrics: { valAccuracy: 0.884, valLoss: 0.322, finalLoss: 0.341, bestEpoch: 2, epochsRun: 2 },
  training: { startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:07.000Z', durationSeconds: 67, samplesPerSecond: 1721 },
};
const facts = { backendReason: 'tfjs-node not installed', trainCount: 54000, valCount: 6000, stoppedEarly: false, resumed: 0 };

describe('training report', () => {
  it('charts loss and accuracy per epoch as Mermaid xychart-beta, train and validation named under each chart', () => {
    const charts = trainingCharts(history).replace(/^%%\{init: .*\}%%\n/gm, '');
    assert.equal(
      charts,
      [
        '```mermaid',
        'xychart-beta',
        '  title "loss per epoch"',
        '  x-axis [1, 2]',
        '  y-axis 0.3125 --> 0.5215',
        '  line [0.512, 0.341]',
        '  line [0.391, 0.322]',
        '```',
        '',
        '<sub>blue: train loss · orange: validation loss</sub>',
        '',
        '```mermaid',
        'xychart-beta',
        '  title "accuracy per epoch"',
        '  x-axis [1, 2]',
        '  y-axis 0.8115 --> 0.8874',
        '  line [0.815, 0.877]',
        '  line [0.861, 0.884]',
        '```',
        '',
        '<sub>blue: train accuracy · orange: validation accuracy</sub>',
      ].join('\n'),
    );
    assert.equal(trainingCharts(history).match(/"plotColorPalette":"#1f6feb, #cf6a1a"/g)?.length, 2);
    assert.equal(trainingCharts([]), '');
  });

  it('the model card names data, params, backend, versions, source and results, with class names escaped', () => {
    const card = modelCard(metadata, history, facts);
    assert.match(card, /^# Model card: fashion\n/);
    assert.ok(card.includes('`sha256:3f9a1c2b00000000`'));
    assert.ok(card.includes('`epochs=2 batch-size=64 learning-rate=0.001 seed=42 early-stopping-patience=3`'));
    assert.ok(card.includes('`wasm` (tfjs-node not installed)'));
    assert.ok(card.includes('`tfjs-core 4.22.0`'));
    assert.ok(card.includes('commit `a1b2c3d4e5f6`'));
    assert.ok(card.includes('[workflow run](https://github.com/acme/fashion/actions/runs/1)'));
    assert.ok(card.includes('2 &lt;script&gt;'), 'class names are escaped');
    assert.ok(!card.includes('<script>'));
    assert.ok(card.includes('| validation accuracy | 0.8840 |'));
    assert.ok(card.includes('54,000 train · 6,000 validation'));
  });

  it('the job summary leads with the result and carries the curves', () => {
    const s = trainingSummary(metadata, history, { ...facts, stoppedEarly: true, modelDir: '/tmp/model' });
    assert.match(
      s,
      /^### modelship train · `cnn`\n\nval accuracy \*\*0\.8840\*\* · 2 epochs \(stopped early\) · backend `wasm` · 1 min 7 s · 1,721 samples\/s\n/,
    );
    assert.ok(s.includes('xychart-beta'));
    assert.ok(s.includes('| 2 | 0.3410 | 0.8770 | 0.3220 | 0.8840 | 1,730 | 33.0 |'));
  });
});
