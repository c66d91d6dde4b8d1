/**
 * Values read one a line (list inputs, rule lines), each remembering the line it was written on
 * (blank and comment lines count), so that an error about value i says where it is.
 */
export type Lines = readonly string[] & { readonly lineNumbers?: readonly number[] };

/** The 1-based line value `i` came from (its position when the list does not say). */
export function lineOf(lines: readonly string[], i: number): number {
  return (lines as Lines).lineNumbers?.[i] ?? i + 1;
}

/** `values` with their line numbers attached (not enumerable: still a plain list to compare, print and serialise). */
export function withLineNumbers(values: string[], numbers: readonly number[]): Lines {
  Object.defineProperty(values, 'lineNumbers', { value: Object.freeze([...numbers]), enumerable: false });
  return values;
}
