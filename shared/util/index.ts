/** The ground every domain stands on: one error path, logging, atomic files, formatting, the seeded PRNG. */
export { ConfigurationError, ModelshipError, errorMessage, formatFailure } from './errors.ts';
export { buildDirAtomic, isInside, sha256, sha256File, writeFileAtomic, writeJsonAtomic } from './fs.ts';
export { formatBytes, shortDigest } from './format.ts';
export { consoleLogger, memoryLogger, silentLogger, type Logger } from './log.ts';
export { Prng, mulberry32, shuffledOrder, streamSeed, withMathRandom } from './prng.ts';
export type { Provenance } from './provenance.ts';
