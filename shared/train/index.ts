/** The training domain: `train(options, ctx)` and what it is built from. */
export { train, TrainingInterrupted } from './loop.ts';
export type { TrainContext, TrainOptions, TrainResult } from './options.ts';
export { CHECKPOINT_DIR, findCheckpoint, readCheckpoint, type Checkpoint, type CheckpointState } from './checkpoint.ts';
export { choosePreprocessing, gatherBatch, loadTrainingData, type TrainingData } from './data.ts';
export { Prng, shuffledOrder, streamSeed } from './prng.ts';
export { earlyStopping, epochLine, formatDuration, headerLine, progressLine, recipeLine } from './progress.ts';
export { defaultSchedule, learningRateAt, type Schedule } from './schedule.ts';
export { augmentBatch, defaultAugmentation, type Augmentation } from './augment.ts';
