/** The data domain: prepare a data set (setup-data) and read a prepared one. */
export { histogram, PIXEL_BINS, FEATURE_BINS } from './stats.ts';
export { setupData, detectFormat, parseImageSize, validOutput, writeDataset, cacheKeyOf } from './prepare.ts';
export type { DataCache, SetupDataDeps, SetupDataOptions, SetupDataResult } from './prepare.ts';
export { loadManifest, readSplit, readTensor } from './load.ts';
export type { LoadedDataset, SplitTensors, TensorArray } from './load.ts';
export * from './manifest.ts';
export { parseSplit, splitPoint, assignSplit } from './split.ts';
export type { Ratios } from './split.ts';
export { hashFile, sha256Hasher, countingHasher, parseChecksum, HASH_READ_SIZE } from './hash.ts';
export type { Hasher, FileDigest } from './hash.ts';
export { extractArchive, archiveKind, MAX_ARCHIVE_BYTES, MAX_ARCHIVE_ENTRIES } from './extract.ts';
export type { ExtractLimits } from './extract.ts';
export { FASHION_MNIST_CLASSES } from './readers/idx.ts';
export { REGRESSION_RULE, REGRESSION_MIN_DISTINCT, decideTask } from './readers/csv.ts';
export { decodeImage, MAX_IMAGE_PIXELS, type ImageTarget } from './readers/image-folder.ts';
