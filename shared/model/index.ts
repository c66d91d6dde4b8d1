/** The model domain: architectures, backends, the model folder (save/load) and prediction. */
export {
  BUILT_IN_ARCHITECTURES,
  buildArchitecture,
  buildCnn,
  buildMlp,
  loadArchitecture,
  type ArchitectureBuilder,
  type ArchitectureOptions,
} from './architectures.ts';
export { initBackend, type BackendInfo, type BackendPreference } from './backend.ts';
export {
  ALLOWED_LAYER_CLASSES,
  WEIGHTS_FILE,
  loadModel,
  modelFromFiles,
  readMetadata,
  readModelFiles,
  saveModel,
  serializeModel,
  writeModelFiles,
  type LoadedModel,
  type ModelFiles,
  type SaveExtras,
} from './io.ts';
export * from './metadata.ts';
export { PREDICT_BATCH_SIZE, applyPreprocessing, predictProbabilities, preprocess } from './predict.ts';
