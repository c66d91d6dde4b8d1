/**
 * The model domain: the model folder's contract (metadata.ts), the shared input pipeline
 * (preprocess.ts), and — loaded on first use, since they bring TensorFlow.js — architectures,
 * backends, saving and loading, and batched prediction.
 */
import type * as Architectures from './architectures.ts';
import type * as Backend from './backend.ts';
import type * as Io from './io.ts';
import type * as Predict from './predict.ts';

export * from './metadata.ts';
export { modelFilesDigest, modelFolderDigest, type ModelFolderDigest } from './digest.ts';
export { PREDICT_BATCH_SIZE, applyPreprocessing, preprocess } from './preprocess.ts';
export type { ArchitectureBuilder, ArchitectureOptions } from './architectures.ts';
export type { BackendInfo, BackendPreference } from './backend.ts';
export type { LoadedModel, ModelFiles, SaveExtras } from './io.ts';

/** A built-in architecture by name, or an ES module that builds one (see architectures.ts). */
export async function loadArchitecture(
  ...a: Parameters<typeof Architectures.loadArchitecture>
): ReturnType<typeof Architectures.loadArchitecture> {
  return (await import('./architectures.ts')).loadArchitecture(...a);
}

/** Chooses and starts the TensorFlow.js backend once per process, saying why (see backend.ts). */
export async function initBackend(...a: Parameters<typeof Backend.initBackend>): ReturnType<typeof Backend.initBackend> {
  return (await import('./backend.ts')).initBackend(...a);
}

/** Loads a model folder, checking it before tfjs sees it (see io.ts). */
export async function loadModel(...a: Parameters<typeof Io.loadModel>): ReturnType<typeof Io.loadModel> {
  return (await import('./io.ts')).loadModel(...a);
}

export async function readMetadata(...a: Parameters<typeof Io.readMetadata>): ReturnType<typeof Io.readMetadata> {
  return (await import('./io.ts')).readMetadata(...a);
}

export async function readModelFiles(...a: Parameters<typeof Io.readModelFiles>): ReturnType<typeof Io.readModelFiles> {
  return (await import('./io.ts')).readModelFiles(...a);
}

export async function writeModelFiles(...a: Parameters<typeof Io.writeModelFiles>): ReturnType<typeof Io.writeModelFiles> {
  return (await import('./io.ts')).writeModelFiles(...a);
}

export async function modelFromFiles(...a: Parameters<typeof Io.modelFromFiles>): ReturnType<typeof Io.modelFromFiles> {
  return (await import('./io.ts')).modelFromFiles(...a);
}

export async function serializeModel(...a: Parameters<typeof Io.serializeModel>): ReturnType<typeof Io.serializeModel> {
  return (await import('./io.ts')).serializeModel(...a);
}

export async function saveModel(...a: Parameters<typeof Io.saveModel>): ReturnType<typeof Io.saveModel> {
  return (await import('./io.ts')).saveModel(...a);
}

/** Class probabilities for raw examples, through the shared preprocessing, in batches (see predict.ts). */
export async function predictProbabilities(
  ...a: Parameters<typeof Predict.predictProbabilities>
): ReturnType<typeof Predict.predictProbabilities> {
  return (await import('./predict.ts')).predictProbabilities(...a);
}
export { ADAM_KERNEL, type AdamAttrs } from './kernels/contract.ts';
