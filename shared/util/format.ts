/** Formatting for people: sizes and digests, one way everywhere. */

/** 1536 → `1.5 KiB`; exact powers print without decimals (`1 GiB`). */
export function formatBytes(n: number): string {
  const units: readonly [number, string][] = [
    [2 ** 30, 'GiB'],
    [2 ** 20, 'MiB'],
    [2 ** 10, 'KiB'],
  ];
  for (const [size, unit] of units) if (n >= size) return `${(n / size).toFixed(n % size === 0 ? 0 : 1)} ${unit}`;
  return `${n} B`;
}

/** Short form of a digest, `sha256:3f9a1c2b…`. */
export function shortDigest(digest: string, chars = 12): string {
  const [algo, hex] = digest.includes(':') ? digest.split(':', 2) : ['sha256', digest];
  return `${algo}:${(hex ?? '').slice(0, chars)}…`;
}
