/**
 * The learning-rate schedule of the default recipe: a linear warm-up from near zero to the given
 * rate over the first steps, then cosine decay to a small fraction of it by the last step. Warm-up
 * keeps Adam's first, poorly estimated steps small (batch norm and a higher rate need it); the low
 * rate at the end settles the weights. A pure function of the step and the run length, so a
 * resumed run follows the same schedule.
 */

export interface Schedule {
  /** The rate the schedule peaks at (the learning-rate input). */
  readonly base: number;
  readonly totalSteps: number;
  readonly warmupSteps: number;
  /** The rate at the last step, as a fraction of base. */
  readonly finalFraction: number;
}

/** The share of all steps spent warming up, and the final rate as a fraction of the peak. */
export const WARMUP_FRACTION = 0.05;
export const FINAL_FRACTION = 0.01;

export function defaultSchedule(base: number, epochs: number, stepsPerEpoch: number): Schedule {
  const totalSteps = Math.max(1, epochs * stepsPerEpoch);
  // No warm-up for runs too short to decay after it.
  const warmupSteps = totalSteps >= 20 ? Math.round(totalSteps * WARMUP_FRACTION) : 0;
  return { base, totalSteps, warmupSteps, finalFraction: FINAL_FRACTION };
}

/** The rate for step `step` (0-based) of the run. */
export function learningRateAt(s: Schedule, step: number): number {
  if (step < s.warmupSteps) return (s.base * (step + 1)) / s.warmupSteps;
  const span = s.totalSteps - s.warmupSteps;
  const progress = span <= 1 ? 1 : Math.min(1, (step - s.warmupSteps) / (span - 1));
  return s.base * (s.finalFraction + (1 - s.finalFraction) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
