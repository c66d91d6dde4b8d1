/**
 * The drift reference: the class distribution and the raw-value histogram of the training data,
 * from setup-data's manifest (`statistics`) or from a model folder's modelship.json (`reference`,
 * copied there from the manifest at training time), with the ordered class names.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { loadManifest } from '../data/index.ts';
import { ConfigurationError } from '../util/index.ts';

export interface DriftReference {
  readonly classes: readonly string[];
  readonly classDistribution: readonly number[];
  readonly histogram: { readonly edges: readonly number[]; readonly counts: readonly number[] };
  /** Where it came from (a file path) and the data set's digest, for the report. */
  readonly source: string;
  readonly digest?: string;
}

const histogram = z
  .object({ edges: z.array(z.number().finite()).min(2), counts: z.array(z.number().finite().nonnegative()).min(1) })
  .refine((h) => h.edges.length === h.counts.length + 1, 'edges must have one more entry than counts');
const stats = z.object({
  classDistribution: z.array(z.number().finite().nonnegative()),
  histogram,
});
const manifest = z.object({
  kind: z.literal('modelship.dataset'),
  classes: z.array(z.string()),
  digest: z.string().optional(),
  statistics: stats,
});
const model = z.object({
  kind: z.literal('modelship.model'),
  classes: z.array(z.string()),
  dataset: z.object({ digest: z.string() }).partial().optional(),
  reference: stats.optional(),
});

/** Reads `reference`: a manifest.json, a data set folder, a model folder or its modelship.json. */
export async function loadReference(ref: string, cwd: string): Promise<DriftReference> {
  let file = path.resolve(cwd, ref);
  let info;
  try {
    info = await stat(file);
  } catch {
    throw new ConfigurationError(
      `reference '${ref}' does not exist.`,
      "Give setup-data's manifest.json (or its folder), or a model folder made by train.",
    );
  }
  if (info.isDirectory()) {
    const candidates = ['manifest.json', 'modelship.json'].map((f) => path.join(file, f));
    const found = [];
    for (const c of candidates)
      if (
        await stat(c).then(
          () => true,
          () => false,
        )
      )
        found.push(c);
    if (found.length === 0) {
      throw new ConfigurationError(
        `reference '${ref}' is a folder with neither manifest.json nor modelship.json.`,
        "Give setup-data's dataset-dir or a model folder made by train.",
      );
    }
    file = found[0];
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ConfigurationError(
      `reference '${ref}' is not readable JSON (${(err as Error).message}).`,
      "Give setup-data's manifest.json or a model's modelship.json.",
    );
  }
  const rel = path.relative(cwd, file) || file;
  const kind = (json as { kind?: unknown } | null)?.kind;
  if (kind === 'modelship.dataset') {
    // The manifest as setup-data wrote it: bound to its own content, so edited statistics are refused.
    await loadManifest(file, 'reference');
    const m = manifest.safeParse(json);
    if (!m.success) throw badReference(rel, m.error);
    return checked({ classes: m.data.classes, ...m.data.statistics, source: rel, ...(m.data.digest ? { digest: m.data.digest } : {}) });
  }
  if (kind === 'modelship.model') {
    const m = model.safeParse(json);
    if (!m.success) throw badReference(rel, m.error);
    if (!m.data.reference) {
      throw new ConfigurationError(
        `reference '${rel}' is a model without reference statistics (modelship.json has no 'reference').`,
        "Give the data set's manifest.json as reference, or a model trained by a modelship that records them.",
      );
    }
    const digest = m.data.dataset?.digest;
    return checked({ classes: m.data.classes, ...m.data.reference, source: rel, ...(digest ? { digest } : {}) });
  }
  throw new ConfigurationError(
    `reference '${rel}' is neither a modelship data set manifest nor a model's modelship.json.`,
    "Give setup-data's manifest.json or a model folder.",
  );
}

function badReference(file: string, err: z.ZodError): ConfigurationError {
  const issue = err.issues[0];
  return new ConfigurationError(
    `reference '${file}' has no usable statistics: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'invalid'}.`,
    'Prepare the data again with setup-data, which records them.',
  );
}

function checked(r: DriftReference): DriftReference {
  if (r.classes.length > 0 && r.classDistribution.length !== r.classes.length) {
    throw new ConfigurationError(
      `reference '${r.source}' has ${r.classDistribution.length} class proportions for ${r.classes.length} classes.`,
      'Prepare the data again with setup-data.',
    );
  }
  return r;
}
