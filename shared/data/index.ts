/**
 * The data domain: prepare a data set (setup-data) and read a prepared one. Preparing (readers,
 * sharp, archives) loads on first use; reading a prepared data set is light.
 */
import type * as Extract from './extract.ts';
import type * as ImageFolder from './readers/image-folder.ts';
import type * as Prepare from './prepare.ts';

export { histogram, PIXEL_BINS, FEATURE_BINS } from './stats.ts';
export type { DataCache, SetupDataDeps, SetupDataOptions, SetupDataResult } from './prepare.ts';
export { loadManifest, openDataset, readSplit, RUN_SETUP_DATA_AGAIN, splitBytes, verifyDataset } from './load.ts';
export type { LoadedDataset, OpenDatasetOptions, SplitTensors, TensorArray, VerifiedDataset } from './load.ts';
export {
  canonicalJson,
  contentOrder,
  datasetDigest,
  digestHeader,
  manifestDigestOf,
  RECORD_BYTES,
  sealManifest,
  splitDigest,
  writeRecords,
} from './digest.ts';
export { checkMemoryBudget, DEFAULT_DATA_LIMITS, LIMIT_INPUTS, RATIO_GRACE_BYTES, type DataLimits } from './limits.ts';
export * from './manifest.ts';
export { classFolderName, classFromFolderName, PROVENANCE_FILE } from './names.ts';
export { parseSplit, splitPoint, splitPoints, assignSplit } from './split.ts';
export type { Ratios } from './split.ts';
export { hashFile, sha256Hasher, countingHasher, parseChecksum, HASH_READ_SIZE } from './hash.ts';
export type { Hasher, FileDigest } from './hash.ts';
export type { ExtractLimits } from './extract.ts';
export type { ImageTarget } from './readers/image-folder.ts';

/** setup-data: fetch, verify, version, validate, split and cache a data set (see prepare.ts). */
export async function setupData(...a: Parameters<typeof Prepare.setupData>): ReturnType<typeof Prepare.setupData> {
  return (await import('./prepare.ts')).setupData(...a);
}

/** Extracts an archive into a folder, after checking every entry (see extract.ts). */
export async function extractArchive(...a: Parameters<typeof Extract.extractArchive>): ReturnType<typeof Extract.extractArchive> {
  return (await import('./extract.ts')).extractArchive(...a);
}

/** Decodes (and resizes) one image as setup-data does, for the model server's b64 inputs (see readers/image-folder.ts). */
export async function decodeImage(...a: Parameters<typeof ImageFolder.decodeImage>): ReturnType<typeof ImageFolder.decodeImage> {
  return (await import('./readers/image-folder.ts')).decodeImage(...a);
}
