#!/usr/bin/env node
// The modelship CLI. In a checkout it runs the TypeScript sources directly (Node >= 22.18 strips
// types); installed as a package (under node_modules, where Node does not strip types) it runs the
// compiled lib/ that `npm run compile` made.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../shared/cli/main.ts', import.meta.url);
const compiled = new URL('../lib/shared/cli/main.js', import.meta.url);
const useSource = existsSync(source) && !fileURLToPath(source).split(/[\\/]/).includes('node_modules');
const { main } = await import((useSource ? source : compiled).href);
process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
