/**
 * The bounds setup-data works within, each an input the user can raise and each named in the
 * refusal: how large a download may be, how far an archive may expand (in total, in entries and
 * relative to its own size), and how much memory the prepared data set may take.
 *
 * The defaults fit real data sets (Fashion-MNIST: 70,000 examples, 55 MB prepared, archives of a
 * few MB expanding about 2×; ImageNet-scale folders need the inputs raised) and the smallest
 * hosted runner (7 GB of memory, 14 GB of disk), with room for training beside the data.
 */
import { ConfigurationError, formatBytes } from '../util/index.ts';

export interface DataLimits {
  /** Largest download, in bytes. */
  readonly maxDownloadSize: number;
  /** Largest total size an archive may expand to, in bytes. */
  readonly maxExpandedSize: number;
  /** Most entries (files, folders, links) an archive may have. */
  readonly maxEntries: number;
  /** Largest expansion: expanded size over archive size (counted once the expansion passes RATIO_GRACE_BYTES). */
  readonly maxExpansionRatio: number;
  /** Largest prepared data set held in memory (examples × example bytes, labels included). */
  readonly memoryBudget: number;
}

export const DEFAULT_DATA_LIMITS: DataLimits = {
  maxDownloadSize: 10 * 2 ** 30,
  maxExpandedSize: 10 * 2 ** 30,
  // Fashion-MNIST as PNG files is 70,000 entries; an archive of 200,000 empty files is refused at once.
  maxEntries: 100_000,
  // As Apache POI's ZipSecureFile (a minimum inflate ratio of 0.01): real archives stay far below.
  maxExpansionRatio: 100,
  // 36× Fashion-MNIST (55 MB); 13 colour images resized to 8192×8192 (2.4 GiB) are refused.
  memoryBudget: 2 * 2 ** 30,
};

/** The input that sets each limit (kebab-case, as in action.yml and modelship.yml). */
export const LIMIT_INPUTS: Readonly<Record<keyof DataLimits, string>> = {
  maxDownloadSize: 'max-download-size',
  maxExpandedSize: 'max-expanded-size',
  maxEntries: 'max-entries',
  maxExpansionRatio: 'max-expansion-ratio',
  memoryBudget: 'memory-budget',
};

/** An archive may expand this far whatever its ratio (a small archive of very compressible text). */
export const RATIO_GRACE_BYTES = 64 * 2 ** 20;

/** The value to suggest when a limit is raised: the next power of two above what was needed. */
export function suggestSize(needed: number): string {
  return formatBytes(2 ** Math.ceil(Math.log2(Math.max(needed, 1)))).replace(' ', '');
}

/**
 * Refuses a prepared data set larger than the memory budget, before anything is decoded.
 * `detail` says how the estimate was made ("13 images × 8192×8192×3 bytes").
 */
export function checkMemoryBudget(bytes: number, budget: number, detail: string, smaller: string): void {
  if (bytes <= budget) return;
  const input = LIMIT_INPUTS.memoryBudget;
  throw new ConfigurationError(
    `the prepared data set would take ${formatBytes(bytes)} in memory (${detail}), above input '${input}' (${formatBytes(budget)}); nothing was decoded.`,
    `${smaller}, or raise ${input} (e.g. ${input}: ${suggestSize(bytes)}) on a runner with that much memory.`,
  );
}
