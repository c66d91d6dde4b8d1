/**
 * Local training: a custom loop of optimizer steps (`parallel.ts`: on one thread, or data-parallel
 * on two) with seeded shuffling, augmentation and dropout, the default recipe (warm-up and cosine
 * decay of the rate per step, label smoothing, augmentation of images), a progress line within long
 * epochs, validation after every epoch, early stopping with the best weights kept, a checkpoint
 * after every epoch, resume from a checkpoint, and a clean stop on SIGINT/SIGTERM.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SplitTensors } from '../data/index.ts';
import { accuracyOf, logLoss, regressionMetrics } from '../evaluate/index.ts';
import {
  type EpochRecord,
  HISTORY_FILE,
  initBackend,
  loadArchitecture,
  MODEL_SCHEMA_VERSION,
  modelFromFiles,
  type ModelMetadata,
  predictProbabilities,
  type Preprocessing,
  saveModel,
  serializeModel,
  type TrainParams,
} from '../model/index.ts';
import { modelCard } from '../report/index.ts';
import { ConfigurationError, ModelshipError, Prng, shuffledOrder, streamSeed, withMathRandom, type Provenance } from '../util/index.ts';
import { FusedAdamOptimizer } from './adam.ts';
import { augmentBatch, defaultAugmentation, describeAugmentation } from './augment.ts';
import { CHECKPOINT_DIR, readCheckpoint, restoreOptimizer, setWeightsFromBytes, writeCheckpoint, type Checkpoint } from './checkpoint.ts';
import { gatherBatch, loadTrainingData } from './data.ts';
import { fineTuneStart } from './init.ts';
import { TrainingInterrupted, type TrainContext, type TrainOptions, type TrainResult } from './options.ts';
import { createTrainer, trainThreads, type StepResult } from './parallel.ts';
import { earlyStopping, epochLine, formatDuration, headerLine, progressLine, recipeLine } from './progress.ts';
import { defaultSchedule, learningRateAt } from './schedule.ts';
import { LABEL_SMOOTHING, type LossSpec } from './step.ts';

function paramsOf(o: TrainOptions): TrainParams {
  return {
    architecture: o.architecture,
    epochs: o.epochs,
    batchSize: o.batchSize,
    learningRate: o.learningRate,
    seed: o.seed,
    earlyStoppingPatience: o.earlyStoppingPatience,
  };
}

/** Checks a checkpoint belongs to this run (same data, architecture, batch size, rate, seed). */
function checkResumable(ck: Checkpoint, params: TrainParams, digest: string): void {
  const s = ck.state;
  const differs: string[] = [];
  if (s.datasetDigest !== digest) differs.push(`data set digest ${s.datasetDigest} vs ${digest}`);
  for (const key of ['architecture', 'batchSize', 'learningRate', 'seed'] as const) {
    if (s.params[key] !== params[key]) differs.push(`${key} ${String(s.params[key])} vs ${String(params[key])}`);
  }
  if (differs.length > 0) {
    throw new ConfigurationError(
      `resume-from '${ck.dir}' was made by a different run (${differs.join('; ')}).`,
      'Resume with the same data set and params, or train from scratch without resume-from.',
    );
  }
  if (s.epoch >= params.epochs) {
    throw new ConfigurationError(
      `resume-from '${ck.dir}' has already completed ${s.epoch} epochs; epochs is ${params.epochs}.`,
      'Raise epochs to train further, or drop resume-from.',
    );
  }
}

interface Evaluation {
  readonly loss: number;
  readonly acc?: number;
}

/** Keras clips probabilities to [1e-7, 1 − 1e-7] in its crossentropy; validation loss is computed the same way. */
const KERAS_EPSILON = 1e-7;

/** Validation loss (crossentropy or MSE, as Keras computes them) and accuracy, through the shared predict path and metrics. */
async function evaluateSplit(
  model: tfl.LayersModel,
  split: SplitTensors,
  meta: Pick<ModelMetadata, 'preprocessing' | 'inputShape' | 'classes'>,
): Promise<Evaluation> {
  const out = await predictProbabilities(model, meta, split.x, split.count);
  const k = meta.classes.length;
  const labels = split.y.subarray(0, split.count);
  if (k === 0) return { loss: regressionMetrics(out, labels).mse };
  return { loss: logLoss(out, labels, k, KERAS_EPSILON), acc: accuracyOf(out, labels, k) };
}

/** Listens for SIGINT/SIGTERM (and an AbortSignal) while training; `stop` is the first one seen. */
function stopListener(options: TrainOptions, log: TrainContext['log']): { readonly stop: () => string | undefined; dispose(): void } {
  let seen: string | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (!seen) log.warning(`${sig} received: stopping after the current batch and keeping the last checkpoint.`);
    seen ??= sig;
  };
  const handle = options.handleSignals !== false;
  if (handle) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const onAbort = (): void => {
    seen ??= 'abort';
  };
  options.signal?.addEventListener('abort', onAbort);
  if (options.signal?.aborted) seen = 'abort';
  return {
    stop: () => seen,
    dispose: () => {
      if (handle) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      options.signal?.removeEventListener('abort', onAbort);
    },
  };
}

function gitInfo(p: Provenance | undefined): ModelMetadata['git'] {
  if (!p) return {};
  return {
    ...(p.commit ? { commit: p.commit } : {}),
    ...(p.commit && p.dirty !== undefined ? { dirty: p.dirty } : {}),
    ...(p.ref ? { ref: p.ref } : {}),
    ...(p.repository ? { repository: p.repository } : {}),
    ...(p.runUrl ? { runUrl: p.runUrl } : {}),
  };
}

async function libraryVersions(backend: string, base: Readonly<Record<string, string>>): Promise<Record<string, string>> {
  const versions: Record<string, string> = {
    ...base,
    'tfjs-core': tf.version_core,
    'tfjs-layers': tfl.version_layers,
    node: process.versions.node,
  };
  if (backend === 'wasm') {
    try {
      const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as { version_wasm?: string };
      if (wasm.version_wasm) versions['tfjs-backend-wasm'] = wasm.version_wasm;
    } catch {
      // the backend started, so this cannot fail in practice; the version is then just not recorded
    }
  }
  return versions;
}

/** Least time between two progress lines within an epoch (MODELSHIP_PROGRESS_SECONDS overrides it). */
const PROGRESS_INTERVAL_MS = 5000;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Trains a model on a prepared data set and writes the model folder (see the module comment). */
export async function train(options: TrainOptions, ctx: TrainContext): Promise<TrainResult> {
  const { log } = ctx;
  const startedAt = ctx.now();
  const params = paramsOf(options);
  const backend = await initBackend(options.backend, log);
  const loaded = await loadTrainingData(path.resolve(ctx.cwd, options.dataset), {
    ...(options.memoryBudget !== undefined ? { memoryBudget: options.memoryBudget } : {}),
    log,
  });
  const manifest = loaded.dataset.manifest;
  const classification = manifest.task === 'classification';
  const classes = classification ? manifest.classes : [];
  const outputDir = path.resolve(ctx.cwd, options.outputDir);
  const checkpointDir = path.join(outputDir, CHECKPOINT_DIR);

  // Fine-tuning (init-from, see init.ts): the earlier model's weights, and its preprocessing.
  const init = await fineTuneStart(options, manifest, ctx);
  const data = init ? { ...loaded, preprocessing: init.metadata.preprocessing } : loaded;
  const resume = options.resumeFrom ? await readCheckpoint(path.resolve(ctx.cwd, options.resumeFrom)) : undefined;
  if (resume) checkResumable(resume, params, manifest.digest);

  const model = resume
    ? await modelFromFiles(resume.files)
    : init
      ? init.model
      : await loadArchitecture(
          options.architecture,
          { inputShape: manifest.inputShape, numClasses: classes.length, seed: options.seed },
          ctx.cwd,
        );
  const optimizer = new FusedAdamOptimizer(options.learningRate);
  model.compile({
    optimizer,
    loss: classification ? 'sparseCategoricalCrossentropy' : 'meanSquaredError',
    metrics: classification ? ['acc'] : [],
  });
  if (resume?.optimizer) await restoreOptimizer(optimizer, resume.optimizer);
  const weightSpecs = (await serializeModel(model)).modelJson.weightsManifest.flatMap((g) => g.weights);

  const shuffleRng = resume ? Prng.fromState(resume.state.rng.shuffle) : new Prng(streamSeed(options.seed, 1));
  const dropoutRng = resume ? Prng.fromState(resume.state.rng.dropout) : new Prng(streamSeed(options.seed, 2));
  const history: EpochRecord[] = resume ? [...resume.state.history] : [];
  let best = resume?.state.best;
  let epochsSinceBest = resume?.state.epochsSinceBest ?? 0;
  let bestWeights = resume?.bestWeights;
  const firstStartedAt = resume?.state.startedAt ?? startedAt.toISOString();
  let elapsed = resume?.state.elapsedSeconds ?? 0;
  const startEpoch = resume?.state.epoch ?? 0;

  const trainCount = data.train.count;
  const valCount = data.validation?.count ?? 0;
  const meta = { preprocessing: data.preprocessing, inputShape: manifest.inputShape, classes };
  log.info(headerLine({ architecture: options.architecture, backend: backend.name, reason: backend.reason, trainCount, valCount }));
  if (resume) log.info(`resuming after epoch ${startEpoch} from ${resume.dir}`);
  if (!data.validation && options.earlyStoppingPatience > 0) log.warning('the data set has no validation split: early stopping is off.');

  const yPer = trainCount > 0 ? data.train.y.length / trainCount : 1;
  const stepsPerEpoch = Math.ceil(trainCount / options.batchSize);
  const schedule = defaultSchedule(options.learningRate, options.epochs, stepsPerEpoch);
  const spec: LossSpec = { task: classification ? 'classification' : 'regression', labelSmoothing: classification ? LABEL_SMOOTHING : 0 };
  const augmentation = defaultAugmentation(manifest.inputShape);
  const wanted = backend.name === 'wasm' ? trainThreads(ctx.env ?? {}) : 1;
  const { trainer, note } = await createTrainer(model, optimizer, spec, manifest.inputShape, yPer, {
    replicas: wanted,
    maxBatch: options.batchSize,
    dropoutRng,
  });
  if (note) log.warning(note);
  log.info(
    recipeLine({
      learningRate: options.learningRate,
      warmupSteps: schedule.warmupSteps,
      totalSteps: schedule.totalSteps,
      labelSmoothing: spec.labelSmoothing,
      augmentation: describeAugmentation(augmentation),
      replicas: trainer.replicas,
    }),
  );

  const progressSeconds = Number(ctx.env?.['MODELSHIP_PROGRESS_SECONDS']);
  const progressInterval = Number.isFinite(progressSeconds) && progressSeconds >= 0 ? progressSeconds * 1000 : PROGRESS_INTERVAL_MS;
  const listener = stopListener(options, log);
  let stoppedEarly = false;
  try {
    await withMathRandom(dropoutRng, async () => {
      for (let epoch = startEpoch + 1; epoch <= options.epochs; epoch++) {
        const t0 = performance.now();
        const order = shuffledOrder(trainCount, shuffleRng);
        // Augmentation draws from a stream of its own per epoch, so a resumed run draws the same.
        const augmentRng = new Prng(streamSeed(options.seed, 100 + epoch));
        const augment = (raw: Parameters<typeof augmentBatch>[0], n: number): void =>
          augmentBatch(raw, n, manifest.inputShape, augmentation, augmentRng);
        let lossSum = 0;
        let accSum = 0;
        let lastReport = t0;
        for (let start = 0, b = 0; start < trainCount; start += options.batchSize, b++) {
          await yieldToEventLoop();
          const sig = listener.stop();
          if (sig) throw new TrainingInterrupted(sig, epoch, epoch > startEpoch + 1 ? checkpointDir : resume?.dir);
          // Adam reads its (protected) rate at every step; tfjs has no schedule API for it.
          (optimizer as unknown as { learningRate: number }).learningRate = learningRateAt(schedule, (epoch - 1) * stepsPerEpoch + b);
          const idx = order.subarray(start, Math.min(trainCount, start + options.batchSize));
          const batch = gatherBatch(data.train, idx, data.preprocessing, augment);
          let out: StepResult;
          try {
            out = await trainer.step(batch.x, batch.y, idx.length);
          } catch (err) {
            throw kernelHint(err, backend.name);
          }
          lossSum += out.loss * idx.length;
          if (out.acc !== undefined) accSum += out.acc * idx.length;
          const now = performance.now();
          if (now - lastReport >= progressInterval) {
            lastReport = now;
            const done = start + idx.length;
            const rate = done / ((now - t0) / 1000);
            const previous = history.slice(startEpoch);
            const perEpoch = previous.length > 0 ? previous.reduce((a, r) => a + r.seconds, 0) / previous.length : trainCount / rate;
            const epochLeft = (trainCount - done) / rate;
            log.info(
              progressLine({
                epoch,
                epochs: options.epochs,
                done,
                total: trainCount,
                loss: lossSum / done,
                ...(classification ? { acc: accSum / done } : {}),
                samplesPerSecond: rate,
                etaSeconds: epochLeft + perEpoch * (options.epochs - epoch),
              }),
            );
          }
        }
        const trainSeconds = (performance.now() - t0) / 1000;
        const loss = lossSum / trainCount;
        if (!Number.isFinite(loss)) {
          throw new ModelshipError(
            `training diverged in epoch ${epoch}: the loss is ${loss}.`,
            'Lower learning-rate (e.g. by 10×) and train again.',
          );
        }
        const val = data.validation ? await evaluateSplit(model, data.validation, meta) : undefined;
        const seconds = (performance.now() - t0) / 1000;
        elapsed += seconds;
        const record: EpochRecord = {
          epoch,
          loss,
          ...(classification ? { acc: accSum / trainCount } : {}),
          ...(val ? { valLoss: val.loss } : {}),
          ...(val?.acc !== undefined ? { valAcc: val.acc } : {}),
          samplesPerSecond: trainCount / trainSeconds,
          seconds,
        };
        history.push(record);
        const decision = earlyStopping(best, epochsSinceBest, epoch, val?.loss, data.validation ? options.earlyStoppingPatience : 0);
        best = decision.best;
        epochsSinceBest = decision.epochsSinceBest;
        const files = await serializeModel(model);
        if (decision.improved) bestWeights = files.weights;
        await writeCheckpoint(checkpointDir, {
          state: {
            kind: 'modelship.checkpoint',
            schemaVersion: 1,
            epoch,
            history,
            params,
            datasetDigest: manifest.digest,
            backend: backend.name,
            rng: { shuffle: shuffleRng.getState(), dropout: dropoutRng.getState() },
            ...(best ? { best } : {}),
            epochsSinceBest,
            startedAt: firstStartedAt,
            elapsedSeconds: elapsed,
          },
          files,
          ...(bestWeights ? { bestWeights } : {}),
          optimizer,
        });
        const done = history.slice(startEpoch);
        const avg = done.reduce((a, r) => a + r.seconds, 0) / done.length;
        log.info(epochLine(record, options.epochs, avg * (options.epochs - epoch)));
        if (decision.stop) {
          stoppedEarly = true;
          log.info(
            `early stopping: no better val_loss for ${epochsSinceBest} epoch${epochsSinceBest > 1 ? 's' : ''}; keeping the weights of epoch ${best!.epoch}.`,
          );
          break;
        }
        const sig = listener.stop();
        if (sig && epoch < options.epochs) throw new TrainingInterrupted(sig, epoch + 1, checkpointDir);
      }
    });
  } finally {
    listener.dispose();
    await trainer.dispose();
  }

  const last = history[history.length - 1];
  // With early stopping on, the weights of the best val_loss epoch; off (patience 0), the run's last
  // weights: the rate schedule decays to the end, and there the validation loss of a model trained
  // with label smoothing is a noisy guide (it can bottom out epochs before the accuracy peaks).
  const keepBest = data.validation !== undefined && options.earlyStoppingPatience > 0;
  if (keepBest && best && bestWeights && best.epoch !== last.epoch) setWeightsFromBytes(model, weightSpecs, bestWeights);
  const keptEpoch = keepBest && best ? best.epoch : last.epoch;
  const kept = history.find((r) => r.epoch === keptEpoch);
  const finishedAt = ctx.now();
  const metadata: ModelMetadata = {
    schemaVersion: MODEL_SCHEMA_VERSION,
    kind: 'modelship.model',
    ...(options.name ? { name: options.name } : {}),
    task: manifest.task,
    inputShape: manifest.inputShape,
    classes,
    preprocessing: data.preprocessing satisfies Preprocessing,
    reference: {
      classDistribution: manifest.statistics.classDistribution,
      histogram: manifest.statistics.histogram,
      channels: manifest.statistics.channels,
      ...(manifest.statistics.features ? { features: manifest.statistics.features } : {}),
      dtype: manifest.splits.train.x.dtype,
    },
    dataset: {
      digest: manifest.digest,
      splits: { train: manifest.splits.train.digest, ...(data.validation ? { validation: manifest.splits.validation.digest } : {}) },
    },
    params,
    ...(init ? { initFrom: init.lineage } : {}),
    backend: backend.name,
    backendReason: backend.reason,
    versions: await libraryVersions(backend.name, backend.versions),
    git: gitInfo(ctx.provenance),
    metrics: {
      ...(kept?.valAcc !== undefined ? { valAccuracy: kept.valAcc } : {}),
      ...(kept?.valLoss !== undefined ? { valLoss: kept.valLoss } : {}),
      finalLoss: last.loss,
      ...(keepBest && best ? { bestEpoch: best.epoch } : {}),
      epochsRun: history.length,
    },
    training: {
      startedAt: firstStartedAt,
      finishedAt: finishedAt.toISOString(),
      durationSeconds: elapsed,
      samplesPerSecond: history.reduce((a, r) => a + r.samplesPerSecond, 0) / history.length,
      trainCount,
      valCount,
    },
  };
  const card = modelCard(metadata, history, { backendReason: backend.reason, trainCount, valCount, stoppedEarly, resumed: startEpoch });
  await saveModel(model, outputDir, metadata, { history, modelCard: card });
  model.dispose();
  optimizer.dispose();
  log.info(`model written to ${outputDir} (${history.length} epochs in ${formatDuration(elapsed)})`);
  return {
    modelDir: outputDir,
    historyPath: path.join(outputDir, HISTORY_FILE),
    backend: backend.name,
    backendReason: backend.reason,
    ...(metadata.metrics.valAccuracy !== undefined ? { valAccuracy: metadata.metrics.valAccuracy } : {}),
    finalLoss: last.loss,
    durationSeconds: elapsed,
    metadata,
    history,
    stoppedEarly,
    resumedAfterEpoch: startEpoch,
    trainCount,
    valCount,
  };
}

/** A missing gradient kernel on a backend becomes an error that says what to do. */
function kernelHint(err: unknown, backend: string): unknown {
  const message = err instanceof Error ? err.message : String(err);
  const m = /Kernel '(\w+)' not registered for backend '(\w+)'/.exec(message);
  if (!m) return err;
  return new ModelshipError(
    `the ${backend} backend cannot train this model: it has no '${m[1]}' kernel.`,
    backend === 'cpu'
      ? 'Use a simpler architecture.'
      : 'Use backend: cpu (slower), or an architecture made of layers this backend can train.',
    { cause: err },
  );
}
