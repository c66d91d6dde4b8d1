/**
 * The model side of the server: loaded tfjs models by handle, each checked and warmed up with one
 * prediction when it loads. It runs wherever the runner puts it (an inference worker thread, or the
 * main thread); predictions go through the shared `predictProbabilities`, so serving applies the
 * model's recorded preprocessing exactly as training and evaluation do.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  initBackend,
  loadModel,
  predictProbabilities,
  type BackendInfo,
  type BackendPreference,
  type ModelMetadata,
} from '../model/index.ts';
import type { Logger } from '../util/index.ts';
import { signatureOf } from './signature.ts';

export interface EngineLoaded {
  readonly handle: number;
  readonly metadata: ModelMetadata;
  readonly warmupMs: number;
}

export class Engine {
  private readonly models = new Map<number, { model: tfl.LayersModel; metadata: ModelMetadata }>();
  private next = 1;

  async init(pref: BackendPreference, log: Logger): Promise<BackendInfo> {
    return initBackend(pref, log);
  }

  async load(dir: string): Promise<EngineLoaded> {
    const { model, metadata } = await loadModel(dir);
    const sig = signatureOf(metadata);
    const t0 = performance.now();
    try {
      const out = await predictProbabilities(model, metadata, new Float32Array(sig.perExample), 1);
      if (out.length !== sig.outputs) throw new Error(`the model gives ${out.length} outputs; its metadata says ${sig.outputs}`);
    } catch (err) {
      model.dispose();
      throw new Error(`model folder '${dir}' loads, but its warm-up prediction failed: ${(err as Error).message.split('\n')[0]}`);
    }
    const handle = this.next++;
    this.models.set(handle, { model, metadata });
    return { handle, metadata, warmupMs: performance.now() - t0 };
  }

  async predict(handle: number, x: Uint8Array | Float32Array, count: number): Promise<Float32Array> {
    const m = this.models.get(handle);
    if (!m) throw new Error(`no model loaded under handle ${handle}`);
    return predictProbabilities(m.model, m.metadata, x, count);
  }

  unload(handle: number): void {
    const m = this.models.get(handle);
    if (!m) return;
    this.models.delete(handle);
    m.model.dispose();
  }

  unloadAll(): void {
    for (const h of [...this.models.keys()]) this.unload(h);
  }
}
