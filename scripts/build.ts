/**
 * Builds the one shared bundle that every action's stub imports:
 *   tsc (type-stripped ESM → lib/) → ncc (lib/shared/action/entry.js → dist/modelship.js)
 * and copies the tfjs wasm binaries next to it (bundlers do not emit them).
 * Native modules (sharp, tfjs-node) stay external: sharp and its platform package are copied into
 * dist/node_modules; tfjs-node is installed on the runner by the train action.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const bin = (name: string): string => path.join(root, 'node_modules', '.bin', name);
const run = (cmd: string, args: string[]): void => {
  try {
    execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
  } catch {
    console.error(`build failed: ${path.basename(cmd)} ${args[0] ?? ''} exited with an error (see above).`);
    process.exit(1);
  }
};

const external = ['sharp', '@tensorflow/tfjs-node'];
const lib = path.join(root, 'lib');
rmSync(lib, { recursive: true, force: true });
run(bin('tsc'), ['-p', 'tsconfig.build.json']);
const outArg = process.argv.indexOf('--out');
const out = path.resolve(outArg > 0 ? process.argv[outArg + 1] : path.join(root, 'dist'));
const tmp = `${out}.partial`;
rmSync(tmp, { recursive: true, force: true });
run(bin('ncc'), [
  'build',
  'lib/shared/action/entry.js',
  '-o',
  tmp,
  '--minify',
  '--no-source-map-register',
  '--quiet',
  '--target',
  'es2022',
  ...external.flatMap((e) => ['-e', e]),
]);
const emitted = existsSync(path.join(tmp, 'index.mjs')) ? 'index.mjs' : 'index.js';
renameSync(path.join(tmp, emitted), path.join(tmp, 'modelship.js'));

const wasmDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) cpSync(path.join(wasmDir, f), path.join(tmp, f));

// Externals travel as packages beside the bundle (resolved from dist/node_modules).
const copyPackage = (name: string): void => {
  const src = path.join(root, 'node_modules', name);
  if (existsSync(src)) cpSync(src, path.join(tmp, 'node_modules', name), { recursive: true, dereference: true });
};
mkdirSync(path.join(tmp, 'node_modules'), { recursive: true });
for (const name of ['sharp', 'detect-libc', 'semver', '@img/colour']) copyPackage(name);
for (const scoped of readdirSync(path.join(root, 'node_modules', '@img')).filter((d) => d.startsWith('sharp-')))
  copyPackage(`@img/${scoped}`);

rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
const size = (dir: string): number =>
  readdirSync(dir).reduce((sum, f) => {
    const p = path.join(dir, f);
    const s = statSync(p);
    return sum + (s.isDirectory() ? size(p) : s.size);
  }, 0);
console.log(
  `${path.relative(root, out) || out}/ ${(size(out) / 1e6).toFixed(1)} MB (bundle ${(statSync(path.join(out, 'modelship.js')).size / 1e6).toFixed(1)} MB)`,
);
