/**
 * The one backend choice a process makes: node → wasm → cpu for `auto`, logged, never silent.
 * `tf.setBackend` resolves false when a backend cannot start; that is checked every time.
 *
 * wasm: the single-threaded SIMD build (the threaded build cannot start its workers in Node), its
 * `.wasm` files found in `MODELSHIP_WASM_DIR`, next to the running bundle, or in node_modules; then
 * modelship's kernels (`./kernels/`: C compiled to wasm, or TypeScript where that cannot load) are
 * registered, since tfjs-backend-wasm 4.22 cannot train a CNN on its own, and is slow at it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import v8 from 'node:v8';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { version_layers } from '@tensorflow/tfjs-layers';
import { ConfigurationError, type Logger, ModelshipError } from '../util/index.ts';
import { registerWasmTrainingKernels } from './kernels/index.ts';
import type { BackendName } from './metadata.ts';

export type BackendPreference = 'auto' | BackendName;

export interface BackendInfo {
  readonly name: BackendName;
  /** Why this backend (e.g. "tfjs-node not installed"). */
  readonly reason: string;
  readonly versions: Readonly<Record<string, string>>;
}

/** The file the wasm backend loads (single-threaded, SIMD); its siblings are the other builds. */
export const WASM_SIMD_FILE = 'tfjs-backend-wasm-simd.wasm';

// tfjs prints an "install tfjs-node" banner on the CPU backend's first use; the backend choice and
// its reason are logged by initBackend instead.
tf.env().set('PROD', true);

let chosen: BackendInfo | undefined;
const versions: Record<string, string> = { 'tfjs-core': tf.version_core, 'tfjs-layers': version_layers, 'tfjs-backend-cpu': version_cpu };
const notes: string[] = [];

/**
 * Where the `.wasm` files are: `MODELSHIP_WASM_DIR` if set (it must hold them), else the folder of
 * the running module when they sit next to it (a bundle with the files copied beside it), else the
 * installed tfjs-backend-wasm package. Undefined when none holds them.
 */
export function findWasmDir(
  env: NodeJS.ProcessEnv = process.env,
  moduleUrl: string = import.meta.url,
): { dir: string; from: string } | undefined {
  const fromEnv = env['MODELSHIP_WASM_DIR'];
  if (fromEnv) {
    const dir = path.resolve(fromEnv);
    if (!existsSync(path.join(dir, WASM_SIMD_FILE))) {
      throw new ConfigurationError(
        `MODELSHIP_WASM_DIR is ${dir}, which has no ${WASM_SIMD_FILE}.`,
        'Point MODELSHIP_WASM_DIR at the folder holding the tfjs-backend-wasm .wasm files (node_modules/@tensorflow/tfjs-backend-wasm/dist), or unset it.',
      );
    }
    return { dir, from: 'MODELSHIP_WASM_DIR' };
  }
  if (moduleUrl.startsWith('file:')) {
    const here = path.dirname(fileURLToPath(moduleUrl));
    if (existsSync(path.join(here, WASM_SIMD_FILE))) return { dir: here, from: 'next to the bundle' };
  }
  try {
    const pkg = createRequire(moduleUrl).resolve('@tensorflow/tfjs-backend-wasm/package.json');
    const dir = path.join(path.dirname(pkg), 'dist');
    if (existsSync(path.join(dir, WASM_SIMD_FILE))) return { dir, from: 'node_modules' };
  } catch {
    // not installed: reported by the caller
  }
  return undefined;
}

/** Held in a variable so neither TypeScript nor a bundler resolves the optional package. */
const TFJS_NODE: string = '@tensorflow/tfjs-node';

/**
 * Where tfjs-node is imported from: the train action installs it on the runner outside the bundle
 * and names its node_modules in MODELSHIP_TFJS_NODE_DIR; otherwise the usual module resolution.
 */
function tfjsNodeSpecifier(): string {
  const dir = process.env['MODELSHIP_TFJS_NODE_DIR'];
  if (!dir) return TFJS_NODE;
  return pathToFileURL(createRequire(pathToFileURL(path.join(dir, 'index.js'))).resolve(TFJS_NODE)).href;
}

async function tryNode(): Promise<string | undefined> {
  let mod: { version?: Record<string, string> };
  try {
    mod = (await import(tfjsNodeSpecifier())) as { version?: Record<string, string> };
  } catch (err) {
    return `tfjs-node not installed (${firstLine(err)})`;
  }
  if (!(await tf.setBackend('tensorflow'))) return 'tfjs-node loaded but the tensorflow backend did not start';
  const v = mod.version?.['tfjs-node'];
  if (v) versions['tfjs-node'] = v;
  return undefined;
}

async function tryWasm(): Promise<string | undefined> {
  let found: { dir: string; from: string } | undefined;
  try {
    found = findWasmDir();
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    return `cannot locate the wasm files (${firstLine(err)})`;
  }
  if (!found) return `tfjs-backend-wasm's ${WASM_SIMD_FILE} not found (set MODELSHIP_WASM_DIR to the folder holding it)`;
  // The glue code of tfjs-backend-wasm reads __dirname, which an ESM bundle does not define.
  const g = globalThis as { __dirname?: string };
  g.__dirname ??= found.dir;
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch (err) {
    return `tfjs-backend-wasm cannot load (${firstLine(err)})`;
  }
  // Before any wasm compiles: V8 then runs pairs of 128-bit SIMD operations as 256-bit AVX ones
  // (~10% more training and prediction per CPU-second with modelship's kernels; see the bench).
  const revectorize = revectorizeWasm(process.env);
  let started: boolean;
  try {
    // The threaded build starts its workers from blob URLs, which Node refuses: use the 1-thread build.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setWasmPaths(`${found.dir}${path.sep}`);
    started = await tf.setBackend('wasm');
  } catch (err) {
    return `the wasm backend did not start (${firstLine(err)})`;
  }
  if (!started) return `the wasm backend did not start (wasm files from ${found.dir})`;
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  versions['tfjs-backend-wasm'] = wasm.version_wasm;
  const kernels = registerWasmTrainingKernels();
  notes.push(
    `${simd ? 'SIMD' : 'no SIMD (slower build)'}, 1 thread${revectorize ? ', SIMD revectorized to 256 bits' : ''}, wasm files ${found.from}: ${found.dir}`,
    kernels.set === 'native'
      ? `modelship kernels (C, SIMD + relaxed SIMD): ${kernels.kernels.join(', ')}`
      : `modelship kernels (TypeScript${kernels.fallback ? `; ${kernels.fallback}` : ''}): ${kernels.kernels.join(', ')}`,
  );
  return undefined;
}

/**
 * Turns on V8's `--experimental-wasm-revectorize` (128-bit wasm SIMD compiled to 256-bit AVX where
 * the CPU has it) unless MODELSHIP_WASM_REVECTORIZE=0. Experimental in V8: the kernel equivalence
 * tests run with it (the default) and without it (CI). Returns whether it is on.
 */
export function revectorizeWasm(env: NodeJS.ProcessEnv): boolean {
  if (env['MODELSHIP_WASM_REVECTORIZE'] === '0') return false;
  // Known in Node 24's V8 (13.6), where it was measured and tested; an unknown flag would print an error.
  if (Number(process.versions.node.split('.')[0]) < 24) return false;
  v8.setFlagsFromString('--experimental-wasm-revectorize');
  return true;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 160);
}

function tfName(name: BackendName): string {
  return name === 'node' ? 'tensorflow' : name;
}

/** Chooses and starts the backend once per process; later calls return the first choice. */
export async function initBackend(pref: BackendPreference, log: Logger): Promise<BackendInfo> {
  if (chosen) {
    if (pref !== 'auto' && pref !== chosen.name) {
      throw new ModelshipError(`backend ${chosen.name} is already in use in this process; cannot switch to ${pref}.`);
    }
    return chosen;
  }
  const reasons: string[] = [];
  const attempt = async (name: BackendName): Promise<boolean> => {
    const failure =
      name === 'node'
        ? await tryNode()
        : name === 'wasm'
          ? await tryWasm()
          : (await tf.setBackend('cpu'))
            ? undefined
            : 'cpu backend did not start';
    if (failure) reasons.push(failure);
    return failure === undefined && tf.getBackend() === tfName(name);
  };
  let name: BackendName | undefined;
  if (pref === 'auto') {
    for (const candidate of ['node', 'wasm', 'cpu'] as const) {
      if (await attempt(candidate)) {
        name = candidate;
        break;
      }
    }
  } else if (await attempt(pref)) {
    name = pref;
  } else {
    throw new ConfigurationError(
      `backend '${pref}' cannot start: ${reasons.join('; ')}.`,
      `Use backend: auto to fall back, or install what ${pref} needs.`,
    );
  }
  if (!name) throw new ModelshipError(`no TensorFlow.js backend could start: ${reasons.join('; ')}.`);
  await tf.ready();
  if (tf.getBackend() !== tfName(name)) {
    throw new ModelshipError(`backend ${name} was started but TensorFlow.js reports '${tf.getBackend()}' in use.`);
  }
  const reason = reasons.length > 0 ? reasons.join('; ') : pref === 'auto' ? 'first choice' : 'requested';
  chosen = { name, reason, versions: { ...versions } };
  log.info(`backend ${name} (${reason})`);
  if (name === 'wasm') for (const note of notes) log.info(`  wasm: ${note}`);
  if (name === 'cpu') log.warning('the cpu backend is slow for training (~30 samples/s on a small CNN); the wasm backend is ~50× faster.');
  return chosen;
}

export { tf };
