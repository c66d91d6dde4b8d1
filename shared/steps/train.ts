import path from 'node:path';
import { input } from '../config/index.ts';
import { modelFilesDigest } from '../model/index.ts';
import { trainingSummary } from '../report/index.ts';
import { kubernetesSettingsSchema, train, trainOnKubernetes, type KubernetesSection, type TrainOptions } from '../train/index.ts';
import { ConfigurationError } from '../util/index.ts';
import { defineStep } from './spec.ts';

export const trainStep = defineStep({
  name: 'train',
  description: 'Train a TensorFlow.js model from a config; write the model, its history and a model card.',
  configSection: 'train',
  configExtra: { kubernetes: kubernetesSettingsSchema },
  installsTfjsNode: true,
  example: { dataset: '${{ steps.data.outputs.dataset-dir }}', epochs: '5', 'output-dir': '.modelship/model' },
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
    'init-from': input.optional({
      description:
        "Fine-tune: start from the weights of this model, a registry reference (production, fashion@production, fashion:3, oci://…) or a model folder. Its architecture, input shape and classes must be this run's; fine-tune-epochs and fine-tune-learning-rate then apply.",
    }),
    'fine-tune-epochs': input.int({ description: 'Epochs when fine-tuning (init-from).', min: 1, max: 10000, fallback: '3' }),
    'fine-tune-learning-rate': input.number({
      description: 'Adam learning rate when fine-tuning (init-from). Default: a tenth of learning-rate.',
      min: 0,
      exclusiveMin: true,
      max: 10,
    }),
    registry: input.optional({
      description:
        "The registry init-from's references are in: a local folder or oci://host/repo. Default: registry.url in modelship.yml, else .modelship/registry.",
    }),
    'registry-username': input.optional({
      description: 'User name for an OCI registry that needs one (for ghcr.io: the workflow actor).',
      default: '${{ github.actor }}',
    }),
    'registry-password': input.secret({
      description: 'Password or token for the init-from registry (for a private ghcr.io package: the workflow token with packages: read).',
      default: '${{ github.token }}',
      env: 'MODELSHIP_REGISTRY_PASSWORD',
    }),
    target: input.choice(['local', 'kubernetes'], {
      description: 'Where to train: local (this runner) or kubernetes (a Job in the current kubeconfig context).',
      fallback: 'local',
    }),
    'output-dir': input.string({ description: 'Where to write the model folder.', fallback: '.modelship/model' }),
    'memory-budget': input.size({
      description:
        'Largest size of the train and validation splits held in memory, e.g. 4GiB; a larger data set is refused before it is read.',
      fallback: '2GiB',
      min: '1MiB',
    }),
    name: input.name({
      description:
        'The model name recorded in its metadata (and used by register and evaluate-gate): lower-case letters, digits and single . _ - between them. Default: modelship.yml name.',
    }),
  },
  outputs: {
    'model-dir': 'The model folder (model.json, weights, metadata, history.json, model-card.md).',
    'model-digest':
      'sha256:<hex> of the model files (model.json, its weights, modelship.json): the candidate digest evaluate-gate records; verify checks a downloaded copy against it.',
    history: 'Path to history.json.',
    backend: 'The backend actually used (node, wasm or cpu).',
    'val-accuracy': 'Validation accuracy after the best epoch.',
    'final-loss': 'Training loss after the last epoch.',
    'duration-seconds': 'Wall time of training, in seconds.',
  },
  async run(inputs, ctx) {
    const fineTune = inputs.initFrom !== undefined;
    if (fineTune && inputs.target === 'kubernetes') {
      throw new ConfigurationError(
        "input 'init-from' is not supported with target: kubernetes yet.",
        'Fine-tune on the runner (target: local), or train from scratch in the cluster (drop init-from).',
      );
    }
    const registry = inputs.registry ?? (ctx.config.sections['registry']?.['url'] as string | undefined);
    const options: TrainOptions = {
      dataset: inputs.dataset,
      architecture: inputs.architecture,
      epochs: fineTune ? inputs.fineTuneEpochs : inputs.epochs,
      batchSize: inputs.batchSize,
      learningRate: fineTune ? (inputs.fineTuneLearningRate ?? Number((inputs.learningRate / 10).toPrecision(12))) : inputs.learningRate,
      seed: inputs.seed,
      backend: inputs.backend,
      earlyStoppingPatience: inputs.earlyStoppingPatience,
      ...(inputs.resumeFrom ? { resumeFrom: inputs.resumeFrom } : {}),
      ...(fineTune
        ? {
            initFrom: inputs.initFrom,
            ...(registry ? { registry } : {}),
            ...(inputs.registryUsername ? { registryUsername: inputs.registryUsername } : {}),
            ...(inputs.registryPassword ? { registryPassword: inputs.registryPassword } : {}),
          }
        : {}),
      outputDir: inputs.outputDir,
      ...(inputs.name ? { name: inputs.name } : {}),
      memoryBudget: inputs.memoryBudget,
    };
    const provenance = await ctx.github.provenance();
    const result =
      inputs.target === 'kubernetes'
        ? await trainOnKubernetes(
            { ...options, section: ctx.config.sections['train']?.['kubernetes'] as KubernetesSection | undefined },
            { log: ctx.log, cwd: ctx.cwd, now: ctx.now, kube: ctx.kube, ...(provenance.runUrl ? { runUrl: provenance.runUrl } : {}) },
          )
        : await ctx.log.group('train', () => train(options, { log: ctx.log, env: ctx.env, cwd: ctx.cwd, now: ctx.now, provenance }));
    return {
      outputs: {
        'model-dir': result.modelDir,
        'model-digest': await modelFilesDigest(path.resolve(ctx.cwd, result.modelDir)),
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
