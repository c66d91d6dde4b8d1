/**
 * The source formats setup-data reads, in the order `format: auto` tries them. Adding a format is
 * adding a reader file and its line here.
 */
import type { DatasetFormat } from '../manifest.ts';
import type { Reader } from '../types.ts';
import { csvReader } from './csv.ts';
import { idxReader } from './idx.ts';
import { imageFolderReader } from './image-folder.ts';

export const READERS: readonly Reader[] = [idxReader, imageFolderReader, csvReader];

export function readerFor(format: DatasetFormat): Reader {
  const r = READERS.find((x) => x.format === format);
  if (!r) throw new Error(`no reader for format ${format}`);
  return r;
}
