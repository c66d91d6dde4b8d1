/**
 * The entry of the one shared bundle (dist/modelship.js). Each action folder holds a two-line
 * stub that imports this bundle and calls `runStep('<name>')`; run directly
 * (`node dist/modelship.js <command>`), the bundle is the CLI, which is also how a step started
 * from the bundle runs `modelship serve` (deploy-rollout's local target).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { steps } from '../steps/index.ts';
import { startReplicaIfWorker } from '../train/index.ts';
import { unpackInputs } from './inputs.ts';
import { runAction } from './run.ts';

const self = fileURLToPath(import.meta.url);
const here = path.dirname(self);
// tfjs-backend-wasm (CommonJS) reads __dirname to find its .wasm files; an ESM bundle has none.
(globalThis as { __dirname?: string }).__dirname ??= here;
// The build copies the .wasm files next to the bundle.
process.env['MODELSHIP_WASM_DIR'] ??= here;

/** Runs the named step as an action. */
export async function runStep(name: string): Promise<void> {
  const step = steps[name];
  if (!step) throw new Error(`modelship bundle has no step '${name}'`);
  await runAction(step, { prepare: () => unpackInputs(), services: { cli: [process.execPath, self] } });
}

// Data-parallel training loads this bundle in a worker thread for its replica.
startReplicaIfWorker();

// The one exception to "no door imports another": the bundle carries both doors. (A worker shares
// the process's argv, so only the main thread is the CLI.)
if (isMainThread && process.argv[1] && path.resolve(process.argv[1]) === self) {
  const { main } = await import('../cli/index.ts');
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  });
}
