/**
 * What one setup-data attempt wrote outside its output folder (downloads, extractions, the folders
 * made for them), so that a refused or failed attempt removes it all and leaves the tree as it was.
 * A successful attempt keeps it (downloads and extractions are reused by the next run).
 */
import { mkdir, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';

export class Undo {
  /** Files and folders made whole by this attempt (removed with what is inside). */
  readonly #made: string[] = [];
  /** Folders created on the way by `mkdir` (removed when empty): [first created, deepest]. */
  readonly #dirs: [string, string][] = [];

  /** `mkdir -p`, remembering the folders it created. */
  async mkdir(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true });
    if (first !== undefined) this.#dirs.push([path.resolve(first), path.resolve(dir)]);
  }

  /** A file or folder this attempt created. */
  made(file: string): void {
    this.#made.push(path.resolve(file));
  }

  /** Removes what was made, then the folders created on the way that are empty now (deepest first). */
  async rollback(): Promise<void> {
    for (const f of this.#made.splice(0).reverse()) await rm(f, { recursive: true, force: true });
    for (const [first, deepest] of this.#dirs.splice(0).reverse()) {
      for (let d = deepest; ; d = path.dirname(d)) {
        try {
          await rmdir(d);
        } catch {
          break; // not empty (another run's files, or ours still there) or gone
        }
        if (d === first || path.dirname(d) === d) break;
      }
    }
  }
}
