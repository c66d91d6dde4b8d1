import { isMainThread, workerData } from 'node:worker_threads';
import { input } from './inputs.ts';
import { defineStep, type StepContext } from './spec.ts';
import { trainingSummary } from '../report/training.ts';
import type { TrainOptions, TrainResult } from '../train/options.ts';
import { ConfigurationError } from '../util/errors.ts';

export const trainStep = defineStep({
  name: 'train',
  description: 'Train a TensorFlow.js model from a config; write the model, its history and a model card.',
  configSection: 'train',
  inputs: {
    dataset: input.string({ description: 'The data set: the dataset-dir or manifest output of setup-data.', required: true }),
    config: input.optional({ description: 'Path to modelship.yml (default: modelship.yml in the working directory, when present).' }),
    architecture: input.string({
      description: 'A built-in architecture (cnn for images, mlp for tabular data) or a path to an ES module that builds a tfjs model.',
      fallback: 'cnn',
    }),
    epochs: input.int({ description: 'Training epochs.', min: 1, max: 10000, fallback: '15' }),
    'batch-size': input.int({ description: 'Examples per gradient step.', min: 1, max: 65536, fallback: '128' }),
    'learning-rate': input.number({
      description: 'Peak Adam learning rate (reached after a warm-up over the first 5% of the steps, then decayed by a cosine).',
      min: 0,
      exclusiveMin: true,
      max: 10,
      fallback: '0.003',
    }),
    seed: input.int({ description: 'Seed for weight initialisation and shuffling.', min: 0, fallback: '42' }),
    backend: input.choice(['auto', 'node', 'wasm', 'cpu'], {
      description: 'TensorFlow.js backend: auto (node, then wasm, then cpu), node, wasm or cpu.',
      fallback: 'auto',
    }),
    'early-stopping-patience': input.int({
      description:
        'Stop after this many epochs without a better validation loss and keep the weights of the best epoch (0 turns it off: all epochs run, the last weights are kept, as the learning rate decays to the end).',
      min: 0,
      fallback: '0',
    }),
    'resume-from': input.optional({ description: 'A checkpoint folder (or a model-dir of an interrupted run) to continue from.' }),
    target: input.choice(['local', 'kubernetes'], {
      description: 'Where to train: local (this runner) or kubernetes (a Job in the current kubeconfig context).',
      fallback: 'local',
    }),
    'output-dir': input.string({ description: 'Where to write the model folder.', fallback: '.modelship/model' }),
    name: input.optional({
      description: 'The model name recorded in its metadata (and used by register and evaluate-gate). Default: modelship.yml name.',
    }),
  },
  outputs: {
    'model-dir': 'The model folder (model.json, weights, metadata, history.json, model-card.md).',
    history: 'Path to history.json.',
    backend: 'The backend actually used (node, wasm or cpu).',
    'val-accuracy': 'Validation accuracy after the best epoch.',
    'final-loss': 'Training loss after the last epoch.',
    'duration-seconds': 'Wall time of training, in seconds.',
  },
  async run(inputs, ctx) {
    const options: TrainOptions = {
      dataset: inputs.dataset,
      ...(inputs.config ? { config: inputs.config } : {}),
      architecture: inputs.architecture,
      epochs: given(inputs.epochs, 'epochs'),
      batchSize: given(inputs.batchSize, 'batch-size'),
      learningRate: given(inputs.learningRate, 'learning-rate'),
      seed: given(inputs.seed, 'seed'),
      backend: inputs.backend,
      earlyStoppingPatience: given(inputs.earlyStoppingPatience, 'early-stopping-patience'),
      ...(inputs.resumeFrom ? { resumeFrom: inputs.resumeFrom } : {}),
      outputDir: inputs.outputDir,
      // In a Kubernetes training pod there is no modelship.yml; the Job passes the name along.
      ...((inputs.name ?? ctx.env['MODELSHIP_MODEL_NAME']) ? { name: inputs.name ?? ctx.env['MODELSHIP_MODEL_NAME'] } : {}),
    };
    const result = inputs.target === 'kubernetes' ? await trainRemotely(options, ctx) : await trainLocally(options, ctx);
    return {
      outputs: {
        'model-dir': result.modelDir,
        history: result.historyPath,
        backend: result.backend,
        'val-accuracy': result.valAccuracy !== undefined ? result.valAccuracy.toFixed(4) : '',
        'final-loss': result.finalLoss.toFixed(4),
        'duration-seconds': result.durationSeconds.toFixed(1),
      },
      summary: trainingSummary(result.metadata, result.history, {
        backendReason: result.backendReason,
        trainCount: result.trainCount,
        valCount: result.valCount,
        stoppedEarly: result.stoppedEarly,
        resumed: result.resumedAfterEpoch,
        modelDir: result.modelDir,
      }),
    };
  },
});

// Data-parallel training (shared/train/parallel.ts) starts its replica thread on the bundle itself
// when it runs from the bundle; this module is evaluated as the bundle loads, so the replica starts here.
if (!isMainThread && (workerData as { modelshipReplica?: boolean } | null)?.modelshipReplica) void import('../train/replica.ts');

/** Inputs with a fallback always have a value after parsing; this makes that a checked fact. */
function given(value: number | undefined, name: string): number {
  if (value === undefined) throw new ConfigurationError(`input '${name}' has no value.`, `Set '${name}'.`);
  return value;
}

type TrainFn = (options: TrainOptions, ctx: StepContext) => Promise<TrainResult>;

async function trainLocally(options: TrainOptions, ctx: StepContext): Promise<TrainResult> {
  // Loaded on use, so that steps which do not train never load TensorFlow.js.
  const { train } = await import('../train/loop.ts');
  return ctx.log.group('train', () => train(options, ctx));
}

/** `target: kubernetes` runs the same training as a Job (shared/train/kubernetes.ts). */
async function trainRemotely(options: TrainOptions, ctx: StepContext): Promise<TrainResult> {
  // Loaded on use: @kubernetes/client-node needs Node >= 22.19 and is not needed for local training.
  const { trainOnKubernetes } = await import('../train/kubernetes.ts');
  const train: TrainFn = trainOnKubernetes;
  return train(options, ctx);
}
