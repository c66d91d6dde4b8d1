/**
 * The entry of the one shared bundle (dist/modelship.js). Each action folder holds a two-line
 * stub that imports this bundle and calls `runStep('<name>')`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { steps } from '../steps/index.ts';
import { runAction } from './action.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
// tfjs-backend-wasm (CommonJS) reads __dirname to find its .wasm files; an ESM bundle has none.
(globalThis as { __dirname?: string }).__dirname ??= here;
// The build copies the .wasm files next to the bundle.
process.env['MODELSHIP_WASM_DIR'] ??= here;

/**
 * Runs the named step as an action. Composite actions (train) cannot hand their inputs to a
 * node process as INPUT_* variables, so they pass `toJSON(inputs)` as MODELSHIP_INPUTS instead.
 */
export async function runStep(name: string): Promise<void> {
  const packed = process.env['MODELSHIP_INPUTS'];
  if (packed) {
    for (const [k, v] of Object.entries(JSON.parse(packed) as Record<string, unknown>)) {
      const key = `INPUT_${k.replace(/ /g, '_').toUpperCase()}`;
      // Inputs the composite wires explicitly (INPUT_DATASET: the previous step's output) win.
      if (typeof v === 'string' && process.env[key] === undefined) process.env[key] = v;
    }
  }
  const step = steps[name];
  if (!step) throw new Error(`modelship bundle has no step '${name}'`);
  await runAction(step);
}
