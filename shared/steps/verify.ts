/**
 * verify: checks an artifact handed between jobs against the digest the producing job output, so
 * that a changed, partial or substituted data set, model or report fails the job that downloaded
 * it, with a message naming the artifact, before anything reads it.
 *
 * - a data set folder: every file against manifest.json and the manifest against its own digest
 *   (the full recomputation train and evaluate-gate do), then the manifest digest (setup-data's
 *   manifest-digest output, which covers the split too) or the content digest (its digest output);
 * - a model folder: the digest of model.json, its weight files and modelship.json (train's
 *   model-digest output), each of them present;
 * - a report: the sha256 of report.json (evaluate-gate's report-digest output).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { input } from '../config/index.ts';
import { code } from '../report/index.ts';
import { ConfigurationError, ModelshipError, errorMessage, folder, sha256Inside } from '../util/index.ts';
import { defineStep } from './spec.ts';

export type ArtifactKind = 'dataset' | 'model' | 'report';

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const AGAIN = 'Run the workflow again: the job that uploaded the artifact writes it anew, and nothing reads a damaged one.';

/** What a path holds, from the files that mark each kind; undefined when none of them is there. */
export async function detectKind(p: string): Promise<{ kind: ArtifactKind; path: string } | undefined> {
  const st = await stat(p).catch(() => undefined);
  if (!st) return undefined;
  const base = path.basename(p);
  if (st.isFile()) {
    if (base === 'manifest.json') return { kind: 'dataset', path: path.dirname(p) };
    if (base === 'model.json' || base === 'modelship.json') return { kind: 'model', path: path.dirname(p) };
    if (base.endsWith('.json')) return { kind: 'report', path: p };
    return undefined;
  }
  const has = async (name: string): Promise<boolean> => (await stat(path.join(p, name)).catch(() => undefined))?.isFile() === true;
  if (await has('manifest.json')) return { kind: 'dataset', path: p };
  if ((await has('model.json')) || (await has('modelship.json'))) return { kind: 'model', path: p };
  if (await has('report.json')) return { kind: 'report', path: path.join(p, 'report.json') };
  return undefined;
}

export const verifyStep = defineStep({
  name: 'verify',
  example: { path: '.modelship/model', digest: '${{ needs.train.outputs.model-digest }}', artifact: 'model' },
  description:
    'Check a downloaded artifact (data set, model or report) against the digest the job that uploaded it output; fail, naming it, when it changed or is partial.',
  inputs: {
    path: input.string({
      description: 'Where download-artifact put the artifact: a data set folder, a model folder, or report.json (or its folder).',
      required: true,
    }),
    digest: input.optional({
      description:
        "The digest to match (required): setup-data's manifest-digest (or digest), train's model-digest, or evaluate-gate's report-digest, passed on as a job output.",
    }),
    kind: input.choice(['auto', 'dataset', 'model', 'report'], {
      description: 'What the artifact is: auto (from the files it holds), dataset, model or report.',
      fallback: 'auto',
    }),
    artifact: input.optional({ description: "The artifact's name, for messages (default: the path)." }),
  },
  outputs: {
    kind: 'What was verified: dataset, model or report.',
    digest: 'The digest that matched.',
    path: 'The verified data set folder, model folder or report.json, to pass on to the next step.',
  },
  async run(inputs, ctx) {
    const shown = inputs.artifact ? `artifact '${inputs.artifact}' (${inputs.path})` : `'${inputs.path}'`;
    const expected = (inputs.digest ?? '').trim();
    if (expected === '')
      throw new ConfigurationError(
        `input 'digest' is empty, so ${shown} cannot be verified.`,
        'Pass the digest the uploading job output, through its jobs.<id>.outputs (e.g. digest: ${{ needs.train.outputs.model-digest }}); an empty value usually means that mapping is missing.',
      );
    if (!DIGEST.test(expected))
      throw new ConfigurationError(
        `input 'digest' is '${expected.slice(0, 80)}', not a sha256:<64 hex digits> digest.`,
        "Pass setup-data's manifest-digest, train's model-digest or evaluate-gate's report-digest output.",
      );
    const abs = path.resolve(ctx.cwd, inputs.path);
    const detected = await detectKind(abs);
    if (!detected) {
      const exists = await stat(abs).catch(() => undefined);
      throw new ModelshipError(
        exists
          ? `${shown} holds none of manifest.json (a data set), model.json (a model) or report.json (a report).`
          : `${shown} does not exist: the artifact was not downloaded there.`,
        "Give download-artifact the same 'path' as this step, and check the artifact's name in the uploading job.",
      );
    }
    const kind = inputs.kind === 'auto' ? detected.kind : inputs.kind;
    if (kind !== detected.kind)
      throw new ModelshipError(`${shown} holds a ${detected.kind}, not a ${kind}.`, "Check the artifact's name, or leave kind at auto.");
    const where = detected.path;
    const rel = path.relative(ctx.cwd, where) || '.';
    const fail = (what: string, hint = AGAIN): never => {
      throw new ModelshipError(`${shown} ${what}`, hint);
    };

    if (kind === 'dataset') {
      const { openDataset } = await import('../data/index.ts');
      let ds;
      try {
        ds = await openDataset(where, { inputName: 'path' });
      } catch (err) {
        return fail(`is damaged or incomplete: ${errorMessage(err)}`);
      }
      const m = ds.manifest;
      if (expected === m.manifestDigest) {
        ctx.log.info(`${shown}: data set ${m.digest}, manifest ${m.manifestDigest}: every file matches (${ds.verified.bytes} bytes read)`);
      } else if (expected === m.digest) {
        ctx.log.info(
          `${shown}: data set content ${m.digest} matches (every file checked); the content digest does not cover the split: pass manifest-digest to cover it too`,
        );
      } else {
        fail(
          `is not the data set that was uploaded: its manifest digest is ${m.manifestDigest} (content ${m.digest}), expected ${expected}.`,
        );
      }
    } else if (kind === 'model') {
      const { modelFolderDigest } = await import('../model/index.ts');
      const d = await modelFolderDigest(where);
      if (d.missing.length) fail(`is incomplete: ${d.missing.join(', ')} ${d.missing.length === 1 ? 'is' : 'are'} missing.`);
      if (d.digest !== expected)
        fail(
          `does not match its digest: its files (${d.files.map((f) => f.name).join(', ')}) hash to ${d.digest}, expected ${expected}; a file changed after train wrote it.`,
        );
      ctx.log.info(`${shown}: model files ${d.files.map((f) => f.name).join(', ')} match ${d.digest}`);
    } else {
      const st = await stat(where).catch(() => undefined);
      if (!st?.isFile()) fail('has no report.json.');
      const dir = path.dirname(where);
      const h = await sha256Inside(folder(dir, 'report folder', dir), path.basename(where));
      if (`sha256:${h.hex}` !== expected)
        fail(
          `does not match its digest: ${path.basename(where)} hashes to sha256:${h.hex}, expected ${expected}; it changed after evaluate-gate wrote it.`,
        );
      ctx.log.info(`${shown}: ${path.basename(where)} matches ${expected}`);
    }
    return {
      outputs: { kind, digest: expected, path: rel },
      summary: `### modelship verify\n\n✅ ${kind}${inputs.artifact ? ` ${code(inputs.artifact)}` : ''} matches ${code(expected)}\n`,
    };
  },
});
