/**
 * A model folder's identity: the sha256 of its files that make the model (model.json, its weight
 * files, modelship.json), read through the safe reader. The gate reports it; the run cache and
 * register use it to tell the same model from another.
 */
import { ConfigurationError, folder, readTextInside, sha256, sha256Inside } from '../util/index.ts';
import { MODEL_JSON_FILE, MODEL_METADATA_FILE } from './metadata.ts';

/** sha256 of a model folder's files (model.json, its weight files, modelship.json): the candidate's identity. */
export async function modelFilesDigest(dir: string): Promise<string> {
  // Through the safe reader: loadModel has refused links already, and a link here is refused too.
  const f = folder(dir, 'model folder', dir);
  const names = [MODEL_JSON_FILE, MODEL_METADATA_FILE];
  try {
    const json = JSON.parse(await readTextInside(f, MODEL_JSON_FILE)) as { weightsManifest?: { paths?: string[] }[] };
    for (const g of json.weightsManifest ?? []) for (const p of g.paths ?? []) if (!names.includes(p)) names.push(p);
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    // loadModel has already refused broken folders; the digest then covers what exists.
  }
  const lines: string[] = [];
  for (const n of names.sort()) {
    try {
      lines.push(`${(await sha256Inside(f, n)).hex}  ${n}`);
    } catch (err) {
      if (err instanceof ConfigurationError) throw err;
      // a missing optional file
    }
  }
  return `sha256:${sha256(lines.join('\n'))}`;
}
