/**
 * Listing a source folder: files and folders, relative, sorted, hidden entries skipped, through the
 * shared safe reader (util/fs.ts): a symbolic link, a FIFO, a socket or a device in the folder is
 * refused with an error naming it, so nothing a reader opens later leads out of the folder.
 */
import { folder, listInside, type FolderListing } from '../util/index.ts';

export type Listing = FolderListing;

/** Names that are never data: dotfiles (.DS_Store, .git) and macOS archive leftovers. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name === '__MACOSX' || name === 'Thumbs.db';
}

/** Deep enough for any data layout. */
const MAX_DEPTH = 32;

/** The regular files and folders under `root`; `label` is how the source is named (`data/`). */
export async function listTree(root: string, label: string = root): Promise<Listing> {
  return listInside(folder(root, 'source', label), { skip: isIgnoredName, maxDepth: MAX_DEPTH });
}
