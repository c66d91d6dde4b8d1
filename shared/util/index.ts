/** The ground every domain stands on: one error path, logging, atomic files, formatting, the seeded PRNG. */
export { ConfigurationError, ModelshipError, errorMessage, formatFailure } from './errors.ts';
export {
  buildDirAtomic,
  fileKind,
  folder,
  isInside,
  listInside,
  notRegular,
  openInside,
  openRegularFile,
  readFileInside,
  readTextInside,
  sha256,
  HASH_READ_SIZE,
  sha256File,
  sha256Handle,
  sha256Inside,
  statInside,
  writeFileAtomic,
  writeJsonAtomic,
  type Folder,
  type FolderListing,
} from './fs.ts';
export { formatBytes, shortDigest } from './format.ts';
export { lineOf, withLineNumbers, type Lines } from './lines.ts';
export { consoleLogger, memoryLogger, silentLogger, type Logger } from './log.ts';
export { Prng, mulberry32, shuffledOrder, streamSeed, withMathRandom } from './prng.ts';
export type { Provenance } from './provenance.ts';
