/**
 * What a reader hands to the preparation step: every example decoded into one flat array, with
 * labels, the given split where the source has one, and the source files it used.
 */
import type { DatasetFormat, FileRecord, Task } from './manifest.ts';
import type { Logger } from '../util/index.ts';

/** A file of the source, already hashed. */
export interface SourceFile {
  /** Path relative to the source root, with '/' separators. */
  readonly rel: string;
  readonly abs: string;
  readonly sha256: string;
  readonly size: number;
}

export interface SourceTree {
  /** The folder the data lives in (for a single-file source: its folder). */
  readonly root: string;
  /** How to name the source to people, e.g. `data/` as the user wrote it. */
  readonly label: string;
  readonly files: readonly SourceFile[];
  /** Every folder under root (relative, '/' separated), empty ones included. */
  readonly dirs: readonly string[];
}

/** Index of a given split per example: 0 train, 1 validation, 2 test. */
export const GIVEN_TRAIN = 0;
export const GIVEN_VALIDATION = 1;
export const GIVEN_TEST = 2;

export interface ReadResult {
  readonly format: DatasetFormat;
  readonly task: Task;
  /** Ordered class names (index = label); empty for regression. */
  readonly classes: readonly string[];
  /** Shape of one example. */
  readonly inputShape: readonly number[];
  readonly features?: readonly string[];
  readonly count: number;
  /** count × prod(inputShape) values: uint8 pixels or float32 features. */
  readonly x: Uint8Array | Float32Array;
  /** Class index (int32) or regression target (float32). */
  readonly y: Int32Array | Float32Array;
  /** Per example GIVEN_*; undefined when the source has no split of its own. */
  readonly given?: Uint8Array;
  /** The source files the examples came from (path, sha256, size, label). */
  readonly files: readonly FileRecord[];
  /** For sources with one file per example: the index in `files` of each example. */
  readonly exampleFile?: Int32Array;
}

export interface ReaderOptions {
  readonly labelColumn?: string;
  /**
   * Largest prepared size (x and labels) in bytes: a reader estimates it from headers before it
   * decodes anything, refuses above it (limits.ts checkMemoryBudget), and then decodes into buffers
   * of exactly that size.
   */
  readonly memoryBudget?: number;
  /** [width, height] to resize images to. */
  readonly imageSize?: readonly [number, number];
  readonly log: Logger;
}

/**
 * A source format: how to recognise it in a source tree, and how to read it. Readers live in
 * `readers/`, one file each, listed in `readers/index.ts` in the order `format: auto` tries them.
 */
export interface Reader {
  readonly format: DatasetFormat;
  /** True when the tree holds this format (for `format: auto`). */
  detect(tree: SourceTree): boolean;
  read(tree: SourceTree, opts: ReaderOptions): Promise<ReadResult>;
}
