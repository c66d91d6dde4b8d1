/**
 * Durations (parsed by the core's duration input type, config/inputs.ts) written back as PromQL
 * ranges and for people.
 */

import { formatDuration } from '../config/index.ts';

/** A PromQL range (`1h`, `90m`, `45s`) for whole seconds: the largest unit that divides them. */
export function promDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds <= 0) throw new RangeError(`a PromQL range needs whole positive seconds, got ${seconds}`);
  return formatDuration(seconds * 1000);
}

/** A short human form: `1h`, `1h 30m`, `45s`, `2d 3h`. */
export function humanDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  const parts: string[] = [];
  let rest = Math.round(seconds);
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ') || '0s';
}
