/**
 * The one seeded PRNG of modelship (mulberry32): its whole state is one 32-bit integer, so
 * checkpoints can record it and a resumed run continues the exact same random stream, and the
 * gate's bootstrap gives the same intervals everywhere.
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  getState(): number {
    return this.state;
  }

  static fromState(state: number): Prng {
    const p = new Prng(0);
    p.state = state >>> 0;
    return p;
  }
}

/** A seeded generator of floats in [0, 1), as a function. */
export function mulberry32(seed: number): () => number {
  const rng = new Prng(seed);
  return () => rng.next();
}

/** Derives an independent stream seed from a run seed and a stream number. */
export function streamSeed(seed: number, stream: number): number {
  let z = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
  return (z ^ (z >>> 15)) >>> 0;
}

/** The order 0..n-1, shuffled in place by Fisher–Yates with `rng`. */
export function shuffledOrder(n: number, rng: Prng): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i];
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/**
 * Runs `fn` with `Math.random` drawn from `rng`. tfjs seeds the random ops that take no seed
 * (dropout masks among them) from `Math.random`, so this makes them reproducible.
 */
export async function withMathRandom<T>(rng: Prng, fn: () => Promise<T>): Promise<T> {
  const original = Math.random;
  Math.random = () => rng.next();
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}
