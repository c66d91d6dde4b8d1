/**
 * The deterministic split: each example goes where the hash of (seed, its content digest) falls.
 * Adding examples never moves old ones, the same data and seed always give the same split, and
 * identical examples always land in the same split (no train/test leakage through duplicates).
 */
import { hash } from 'node:crypto';
import { ConfigurationError } from '../util/index.ts';
import { GIVEN_TEST, GIVEN_TRAIN, GIVEN_VALIDATION } from './types.ts';

export type Ratios = readonly [number, number, number];

/** Parses `80/10/10`: three non-negative whole numbers summing to 100, train/validation/test. */
export function parseSplit(raw: string, inputName = 'split'): Ratios {
  const parts = raw.trim().split('/');
  const nums = parts.map((p) => (/^\s*\d+\s*$/.test(p) ? Number(p) : NaN));
  if (parts.length !== 3 || nums.some((n) => !Number.isInteger(n))) {
    throw new ConfigurationError(
      `input '${inputName}' must be three whole percentages train/validation/test like 80/10/10; got '${raw.trim()}'.`,
      `Write ${inputName}: 80/10/10 (they must add up to 100).`,
    );
  }
  const sum = nums[0] + nums[1] + nums[2];
  if (sum !== 100) {
    throw new ConfigurationError(
      `input '${inputName}' adds up to ${sum}, not 100: '${raw.trim()}'.`,
      `Make the three percentages add up to 100, e.g. 80/10/10.`,
    );
  }
  if (nums[0] === 0)
    throw new ConfigurationError(`input '${inputName}' gives train 0%: '${raw.trim()}'.`, 'Give train a share, e.g. 80/10/10.');
  return [nums[0], nums[1], nums[2]];
}

/** A number in [0, 1) from sha256(seed ‖ digest): the first 48 bits over 2^48. */
export function splitPoint(seed: number, digest: Uint8Array): number {
  return splitPoints(seed)(digest);
}

/** splitPoint for one seed, reusing one buffer: for every example of a data set. */
export function splitPoints(seed: number): (digest: Uint8Array) => number {
  const prefix = Buffer.from(`modelship-split:${seed}:`);
  const buf = Buffer.alloc(prefix.length + 32);
  prefix.copy(buf);
  return (digest) => {
    const input = digest.length === 32 ? (buf.set(digest, prefix.length), buf) : Buffer.concat([prefix, digest]);
    return hash('sha256', input, 'buffer').readUIntBE(0, 6) / 2 ** 48;
  };
}

/**
 * Where one example goes. Without a given split: by `ratios`. With one: the given split, except
 * that given train examples are carved into validation (ratios[1]%) when the source has no
 * validation split of its own, and into test (ratios[2]%) when it has no test split.
 */
export function assignSplit(
  point: number,
  ratios: Ratios,
  given: number | undefined,
  carve: Carve = { validation: true, test: false },
): number {
  if (given === undefined) {
    if (point < ratios[0] / 100) return GIVEN_TRAIN;
    if (point < (ratios[0] + ratios[1]) / 100) return GIVEN_VALIDATION;
    return GIVEN_TEST;
  }
  if (given !== GIVEN_TRAIN) return given;
  const v = carve.validation ? ratios[1] : 0;
  const t = carve.test ? ratios[2] : 0;
  if (point < v / 100) return GIVEN_VALIDATION;
  if (point < (v + t) / 100) return GIVEN_TEST;
  return GIVEN_TRAIN;
}

/** Which splits are carved from a given train split (those the source does not give). */
export interface Carve {
  readonly validation: boolean;
  readonly test: boolean;
}
