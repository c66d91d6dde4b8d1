/**
 * A model folder's identity: the sha256 of the files that make the model (model.json, the weight
 * files it names, modelship.json), whatever else the folder holds, read through the safe reader.
 * train reports it (`model-digest`), the gate records it as the candidate's digest, the run cache
 * and register use it to tell the same model from another, and a folder handed between jobs is
 * checked against it (the verify step). history.json and model-card.md are
 * descriptions of the model, not part of it, and are left out.
 *
 * No TensorFlow.js here: hashing a folder must stay cheap to import.
 */
import { ConfigurationError, folder, readTextInside, sha256, sha256Inside } from '../util/index.ts';
import { MODEL_JSON_FILE, MODEL_METADATA_FILE } from './metadata.ts';

export interface ModelFolderDigest {
  /** sha256:<hex> over the `<sha256>  <name>` lines of the files, sorted by name. */
  readonly digest: string;
  /** The files hashed, with their sha256 and size. */
  readonly files: readonly { readonly name: string; readonly sha256: string; readonly size: number }[];
  /** Files the folder should have (model.json, modelship.json, the weight files model.json names) but has not. */
  readonly missing: readonly string[];
}

/**
 * Hashes a model folder through the safe reader (a link or special file is refused, naming it).
 * A missing file is listed in `missing` and left out of the digest, so a partial folder never has
 * the digest of the whole one.
 */
export async function modelFolderDigest(dir: string): Promise<ModelFolderDigest> {
  const f = folder(dir, 'model folder', dir);
  const names = [MODEL_JSON_FILE, MODEL_METADATA_FILE];
  try {
    const json = JSON.parse(await readTextInside(f, MODEL_JSON_FILE)) as { weightsManifest?: { paths?: unknown[] }[] };
    for (const g of json.weightsManifest ?? [])
      for (const p of g.paths ?? []) if (typeof p === 'string' && !names.includes(p)) names.push(p);
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    // No readable model.json: the digest covers what exists, and model.json is reported missing below when absent.
  }
  const files: { name: string; sha256: string; size: number }[] = [];
  const missing: string[] = [];
  for (const name of names.sort()) {
    try {
      const h = await sha256Inside(f, name);
      files.push({ name, sha256: h.hex, size: h.size });
    } catch (err) {
      if (err instanceof ConfigurationError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') missing.push(name);
      else throw err;
    }
  }
  const digest = `sha256:${sha256(files.map((x) => `${x.sha256}  ${x.name}`).join('\n'))}`;
  return { digest, files, missing };
}

/** sha256 of a model folder's files (see modelFolderDigest): the model's identity. */
export async function modelFilesDigest(dir: string): Promise<string> {
  return (await modelFolderDigest(dir)).digest;
}
