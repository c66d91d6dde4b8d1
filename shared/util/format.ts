/** Formatting for people: sizes, one way everywhere. */

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
