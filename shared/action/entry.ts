/**
 * The entry of the one shared bundle (dist/modelship.js). Each action folder holds a two-line
 * stub that imports this bundle and calls `runStep('<name>')`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { steps } from '../steps/index.ts';
import { unpackInputs } from './inputs.ts';
import { runAction } from './run.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
// tfjs-backend-wasm (CommonJS) reads __dirname to find its .wasm files; an ESM bundle has none.
(globalThis as { __dirname?: string }).__dirname ??= here;
// The build copies the .wasm files next to the bundle.
process.env['MODELSHIP_WASM_DIR'] ??= here;

/** Runs the named step as an action. */
export async function runStep(name: string): Promise<void> {
  const step = steps[name];
  if (!step) throw new Error(`modelship bundle has no step '${name}'`);
  await runAction(step, { prepare: () => unpackInputs() });
}
