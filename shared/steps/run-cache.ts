/**
 * The run cache, as DVC's: a step whose inputs are unchanged reuses its last output and says so.
 * "Inputs" are the step's resolved inputs (modelship.yml merged in), the content digests of the
 * files they name (the data set's digest, a custom architecture's sha256, a model folder's files
 * digest), and the code: modelship's version, plus, when it runs from its sources, a digest of them.
 * An entry is used only while what it produced is still there, unchanged (the model folder's files
 * digest, the report's sha256). Entries live in `<work-dir>/run-cache/<step>.json`, the last few
 * per step.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadManifest } from '../data/index.ts';
import { modelFilesDigest } from '../model/index.ts';
import { sha256File, writeJsonAtomic } from '../util/index.ts';
import type { StepResult } from './spec.ts';

const KEEP = 20;

export interface CacheEntry {
  readonly key: string;
  readonly at: string;
  readonly outputs: Readonly<Record<string, string>>;
  readonly summary?: string;
  /** What must still be there, unchanged, for the entry to be used. */
  readonly produced: readonly { readonly path: string; readonly kind: 'model' | 'file'; readonly digest: string }[];
  /** For people: what the key was made of. */
  readonly inputs: Readonly<Record<string, unknown>>;
}

let codeVersion: Promise<string> | undefined;

/** modelship's version, and when it runs from its sources, the sha256 of every source file under shared/. */
export function modelshipCodeVersion(): Promise<string> {
  return (codeVersion ??= (async () => {
    const root = path.resolve(import.meta.dirname, '..', '..');
    let version = 'unknown';
    try {
      version = (JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? version;
    } catch {
      // a bundle: the version only
    }
    const shared = path.join(root, 'shared');
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (/\.(ts|c|wasm)$/.test(e.name)) files.push(p);
      }
    };
    await walk(shared);
    if (files.length === 0) return version;
    const h = createHash('sha256');
    for (const f of files.sort())
      h.update(`${path.relative(shared, f)}\0`)
        .update(await readFile(f))
        .update('\0');
    return `${version}+src.${h.digest('hex').slice(0, 16)}`;
  })());
}

/** The content digest of what an input names, when it names a file or folder modelship knows. */
export async function contentOf(name: string, value: unknown, cwd: string): Promise<string | undefined> {
  if (typeof value !== 'string' || value === '') return undefined;
  const p = path.resolve(cwd, value);
  const st = await stat(p).catch(() => undefined);
  if (!st) return undefined;
  if (name === 'dataset') return `data ${(await loadManifest(p)).manifest.digest}`;
  if (name === 'model' || name === 'init-from' || name === 'resume-from')
    return `model ${await modelFilesDigest(p).catch(() => 'unreadable')}`;
  if (st.isFile()) return `file ${(await sha256File(p)).hex}`;
  return undefined;
}

export interface RunCache {
  /** The key of a step run: its name, resolved inputs, the files they name, the code, and `extra` (e.g. the baseline's digest). */
  key(
    step: string,
    inputs: Readonly<Record<string, unknown>>,
    cwd: string,
    extra?: Readonly<Record<string, unknown>>,
  ): Promise<{ key: string; parts: Record<string, unknown> }>;
  /** The last result of this exact run, if what it produced is still there, unchanged. */
  lookup(step: string, key: string): Promise<(StepResult<string> & { readonly at: string }) | undefined>;
  store(
    step: string,
    key: string,
    parts: Record<string, unknown>,
    result: StepResult<string>,
    produced: CacheEntry['produced'],
  ): Promise<void>;
}

export function runCache(dir: string): RunCache {
  const file = (step: string): string => path.join(dir, `${step}.json`);
  const read = async (step: string): Promise<CacheEntry[]> => {
    try {
      const v = JSON.parse(await readFile(file(step), 'utf8')) as unknown;
      return Array.isArray(v) ? (v as CacheEntry[]) : [];
    } catch {
      return [];
    }
  };
  return {
    async key(step, inputs, cwd, extra = {}) {
      const files: Record<string, string> = {};
      for (const [name, value] of Object.entries(inputs)) {
        const c = await contentOf(
          name.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`),
          value,
          cwd,
        );
        if (c) files[name] = c;
      }
      const parts = { step, code: await modelshipCodeVersion(), inputs, files, ...extra };
      return { key: createHash('sha256').update(JSON.stringify(parts)).digest('hex'), parts };
    },
    async lookup(step, key) {
      const entry = (await read(step)).find((e) => e.key === key);
      if (!entry) return undefined;
      for (const p of entry.produced) {
        const now =
          p.kind === 'model'
            ? await modelFilesDigest(p.path).catch(() => undefined)
            : await sha256File(p.path).then(
                (r) => r.hex,
                () => undefined,
              );
        if (now !== p.digest) return undefined;
      }
      return { outputs: entry.outputs, ...(entry.summary ? { summary: entry.summary } : {}), at: entry.at };
    },
    async store(step, key, parts, result, produced) {
      const outputs: Record<string, string> = {};
      for (const [k, v] of Object.entries(result.outputs)) outputs[k] = String(v);
      const entry: CacheEntry = {
        key,
        at: new Date().toISOString(),
        outputs,
        ...(result.summary ? { summary: result.summary } : {}),
        produced,
        inputs: parts,
      };
      const rest = (await read(step)).filter((e) => e.key !== key);
      await writeJsonAtomic(file(step), [entry, ...rest].slice(0, KEEP));
    },
  };
}

/** What a step left behind, for the cache to check later. */
export async function producedBy(kind: 'model' | 'file', p: string): Promise<CacheEntry['produced'][number]> {
  return { path: p, kind, digest: kind === 'model' ? await modelFilesDigest(p) : (await sha256File(p)).hex };
}
