/**
 * The one backend choice a process makes: node → wasm → cpu for `auto`, logged, never silent.
 * `tf.setBackend` resolves false when a backend cannot start; that is checked every time.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ConfigurationError, ModelshipError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import type { BackendName } from './metadata.ts';

export type BackendPreference = 'auto' | BackendName;

export interface BackendInfo {
  readonly name: BackendName;
  /** Why this backend (e.g. "tfjs-node not installed"). */
  readonly reason: string;
  readonly versions: Readonly<Record<string, string>>;
}

let chosen: BackendInfo | undefined;

async function tryNode(): Promise<string | undefined> {
  try {
    await import('@tensorflow/tfjs-node' as string);
  } catch (err) {
    return `tfjs-node not installed (${firstLine(err)})`;
  }
  return (await tf.setBackend('tensorflow')) ? undefined : 'tfjs-node loaded but the tensorflow backend did not start';
}

async function tryWasm(): Promise<string | undefined> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
  } catch (err) {
    return `tfjs-backend-wasm cannot load (${firstLine(err)})`;
  }
  return (await tf.setBackend('wasm')) ? undefined : 'the wasm backend did not start';
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 160);
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
    const failure = name === 'node' ? await tryNode() : name === 'wasm' ? await tryWasm() : (await tf.setBackend('cpu')) ? undefined : 'cpu backend did not start';
    if (failure) reasons.push(failure);
    return failure === undefined && tf.getBackend() === (name === 'node' ? 'tensorflow' : name);
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
    throw new ConfigurationError(`backend '${pref}' cannot start: ${reasons.join('; ')}.`, `Use backend: auto to fall back, or install what ${pref} needs.`);
  }
  if (!name) throw new ModelshipError(`no TensorFlow.js backend could start: ${reasons.join('; ')}.`);
  await tf.ready();
  const reason = reasons.length > 0 ? reasons.join('; ') : pref === 'auto' ? 'first choice' : 'requested';
  chosen = { name, reason, versions: { 'tfjs-core': tf.version_core } };
  log.info(`backend ${name} (${reason})`);
  return chosen;
}

export { tf };
