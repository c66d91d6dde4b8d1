/**
 * What the CLI loads before it does anything: `modelship --help` and a step's `--help` load the
 * doors, the step declarations and their validation, never TensorFlow.js, the Kubernetes client,
 * the Actions toolkit or the server's metrics (each domain's index loads its heavy modules on use).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(import.meta.dirname, '../..');
const HEAVY = ['@tensorflow/', '@kubernetes/', '@actions/', 'prom-client', 'sharp', 'mermaid'];

/** The packages a CLI command loads (a load hook in the child records every module's URL). */
function packagesLoaded(args: string[]): string[] {
  const hook = `import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({ load(url, ctx, next) { const m = /node_modules\\/((@[^/]+\\/)?[^/]+)/.exec(url); if (m) seen.add(m[1]); return next(url, ctx); } });
process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify([...seen]) + '\\n'));`;
  const r = spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, path.join(root, 'bin', 'modelship.js'), ...args],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const line = /LOADED (.*)$/m.exec(r.stderr);
  assert.ok(line, `the hook reported nothing: ${r.stderr}`);
  return JSON.parse(line[1]) as string[];
}

describe('CLI start-up', () => {
  for (const args of [['--help'], ['train', '--help'], ['deploy-rollout', '--help'], ['monitor-check', '--help']]) {
    it(`modelship ${args.join(' ')} loads no heavy package`, () => {
      const loaded = packagesLoaded(args);
      assert.ok(loaded.includes('zod'), `the hook sees packages (${loaded.join(', ')})`);
      assert.deepEqual(
        loaded.filter((p) => HEAVY.some((h) => p.startsWith(h))),
        [],
      );
    });
  }
});
