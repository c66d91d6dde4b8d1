/**
 * Names with a meaning in a source folder, shared by the readers and by what writes sources (a
 * feedback export). Light: no readers are loaded.
 */
import { ConfigurationError } from '../util/index.ts';

/**
 * A file at the root of a source that says where its examples came from (a feedback export writes
 * one): recorded among the source files, never read as data, never warned about.
 */
export const PROVENANCE_FILE = 'provenance.jsonl';

/**
 * The class a class folder names. A folder name cannot hold '/', so a class name may write it as
 * %2F (and '%' as %25, a leading '.' as %2E): `T-shirt%2Ftop` is the class `T-shirt/top`.
 */
export function classFromFolderName(name: string): string {
  return /%(2F|25|2E)/i.test(name) ? name.replace(/%(2F|25|2E)/gi, (_m, c: string) => String.fromCharCode(parseInt(c, 16))) : name;
}

/** The folder name of a class (the inverse of classFromFolderName). */
export function classFolderName(className: string): string {
  if (className === '' || className.includes('\\') || [...className].some((c) => c.charCodeAt(0) < 0x20)) {
    throw new ConfigurationError(
      `the class name ${JSON.stringify(className)} cannot be a folder name.`,
      'Use class names without control characters or backslashes, or a CSV.',
    );
  }
  return className.replace(/%/g, '%25').replace(/\//g, '%2F').replace(/^\./, '%2E');
}
