/**
 * Durations as people write them (`90s`, `5m`, `1h`, `1h30m`, `7d`), in whole seconds, and back
 * into PromQL range syntax. Until the core has its duration input type (issue 8), monitor-check
 * parses `window` and `cooldown` here.
 */
import { ConfigurationError } from '../util/errors.ts';

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const DURATION_RE = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Seconds in a duration such as `90s`, `5m`, `1h30m`; throws a ConfigurationError naming `name`. */
export function parseDuration(text: string, name: string): number {
  const v = text.trim();
  const m = DURATION_RE.exec(v);
  if (v === '' || !m || m.slice(1).every((p) => p === undefined)) {
    throw new ConfigurationError(
      `input '${name}' must be a duration such as 90s, 5m, 1h or 1h30m; got '${v}'.`,
      `Write a whole number followed by its unit: s (seconds), m (minutes), h (hours), d (days), w (weeks).`,
    );
  }
  const [w, d, h, min, s] = m.slice(1).map((p) => Number(p ?? 0));
  const seconds = w * 604800 + d * 86400 + h * 3600 + min * 60 + s;
  if (seconds <= 0)
    throw new ConfigurationError(`input '${name}' is ${v}, which is no time at all.`, `Give '${name}' a positive duration, e.g. 5m.`);
  return seconds;
}

/** A PromQL range (`1h`, `90m`, `45s`): the largest unit that divides the duration. */
export function promDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds <= 0) throw new RangeError(`a PromQL range needs whole positive seconds, got ${seconds}`);
  for (const unit of ['w', 'd', 'h', 'm'] as const) if (seconds % UNIT_SECONDS[unit] === 0) return `${seconds / UNIT_SECONDS[unit]}${unit}`;
  return `${seconds}s`;
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
