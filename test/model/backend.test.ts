/**
 * Backend selection. The choice is process-wide, so each case runs `initBackend` in a child process
 * and reads back what it returned, what it logged and what tfjs reports in use.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { findWasmDir, WASM_SIMD_FILE } from '../../shared/model/backend.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

const backendUrl = pathToFileURL(path.join(import.meta.dirname, '../../shared/model/backend.ts')).href;
const logUrl = pathToFileURL(path.join(import.meta.dirname, '../../shared/util/log.ts')).href;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'modelship-backend-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A folder whose .wasm file is not WebAssembly: the wasm backend cannot start from it. */
const badWasmDir = path.join(tmp, 'bad-wasm');
mkdirSync(badWasmDir);
writeFileSync(path.join(badWasmDir, WASM_SIMD_FILE), 'not wasm');
const emptyDir = path.join(tmp, 'empty');
mkdirSync(emptyDir);

const tfjsNodeInstalled = (() => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

interface ChildResult {
  ok: boolean;
  info?: { name: string; reason: string; versions: Record<string, string> };
  inUse?: string;
  lines: string[];
  error?: { name: string; message: string };
}

function initInChild(pref: string, env: Record<string, string> = {}): ChildResult {
  const code = `
    import { initBackend, tf } from ${JSON.stringify(backendUrl)};
    import { memoryLogger } from ${JSON.stringify(logUrl)};
    const log = memoryLogger();
    try {
      const info = await initBackend(${JSON.stringify(pref)}, log);
      console.log(JSON.stringify({ ok: true, info, inUse: tf.getBackend(), lines: log.lines }));
    } catch (err) {
      console.log(JSON.stringify({ ok: false, lines: log.lines, error: { name: err.constructor.name, message: err.message } }));
    }`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('MODELSHIP_WASM_DIR' in env)) delete childEnv['MODELSHIP_WASM_DIR'];
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', env: childEnv, timeout: 120_000 });
  const line = r.stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  assert.ok(line, `child printed no result (exit ${r.status}): ${r.stderr.slice(-500)}`);
  return JSON.parse(line) as ChildResult;
}

describe('initBackend in a fresh process', () => {
  const cases: {
    title: string;
    pref: string;
    env?: Record<string, string>;
    expect: { name?: string; error?: RegExp; reason?: RegExp; logged?: RegExp[] };
  }[] = [
    {
      title: 'auto picks tfjs-node when it loads, else wasm, and says why',
      pref: 'auto',
      expect: tfjsNodeInstalled
        ? { name: 'node' }
        : {
            name: 'wasm',
            reason: /tfjs-node not installed/,
            logged: [/^backend wasm \(tfjs-node not installed/, /wasm: SIMD, 1 thread/, /Conv2DBackpropFilter/],
          },
    },
    { title: 'wasm when asked', pref: 'wasm', expect: { name: 'wasm', reason: /^requested$/, logged: [/^backend wasm \(requested\)/] } },
    {
      title: 'cpu when asked, with a warning that it is slow',
      pref: 'cpu',
      expect: { name: 'cpu', logged: [/^backend cpu \(requested\)/, /^warning: the cpu backend is slow/] },
    },
    {
      title: 'auto falls back to cpu when wasm cannot start, and says why',
      pref: 'auto',
      env: { MODELSHIP_WASM_DIR: badWasmDir },
      expect: tfjsNodeInstalled
        ? { name: 'node' }
        : { name: 'cpu', reason: /the wasm backend did not start/, logged: [/^backend cpu \(.*wasm backend did not start/] },
    },
    {
      title: 'wasm that cannot start is an error, not a fallback',
      pref: 'wasm',
      env: { MODELSHIP_WASM_DIR: badWasmDir },
      expect: { error: /backend 'wasm' cannot start: the wasm backend did not start/ },
    },
    {
      title: 'MODELSHIP_WASM_DIR without the wasm files is a configuration error',
      pref: 'auto',
      env: { MODELSHIP_WASM_DIR: emptyDir },
      expect: { error: /MODELSHIP_WASM_DIR is .* which has no tfjs-backend-wasm-simd\.wasm/ },
    },
  ];
  if (!tfjsNodeInstalled)
    cases.push({
      title: 'node without tfjs-node is an error',
      pref: 'node',
      expect: { error: /backend 'node' cannot start: tfjs-node not installed/ },
    });

  for (const c of cases) {
    test(c.title, () => {
      const r = initInChild(c.pref, c.env);
      if (c.expect.error) {
        assert.equal(r.ok, false, `expected an error, got ${JSON.stringify(r.info)}`);
        assert.match(r.error!.message, c.expect.error);
        assert.equal(r.error!.name, 'ConfigurationError');
        return;
      }
      assert.equal(r.ok, true, `initBackend failed: ${r.error?.message}`);
      assert.equal(r.info!.name, c.expect.name);
      assert.equal(r.inUse, c.expect.name === 'node' ? 'tensorflow' : c.expect.name);
      assert.equal(r.info!.versions['tfjs-core'], '4.22.0');
      if (r.info!.name === 'wasm') assert.equal(r.info!.versions['tfjs-backend-wasm'], '4.22.0');
      if (c.expect.reason) assert.match(r.info!.reason, c.expect.reason);
      for (const re of c.expect.logged ?? [])
        assert.ok(
          r.lines.some((l) => re.test(l)),
          `no log line matches ${re}: ${JSON.stringify(r.lines)}`,
        );
    });
  }
});

describe('findWasmDir', () => {
  const bundleDir = path.join(tmp, 'dist');
  mkdirSync(bundleDir);
  writeFileSync(path.join(bundleDir, WASM_SIMD_FILE), '');
  const bundleUrl = pathToFileURL(path.join(bundleDir, 'index.js')).href;
  const sourceUrl = pathToFileURL(path.join(import.meta.dirname, '../../shared/model/backend.ts')).href;

  test('MODELSHIP_WASM_DIR wins', () => {
    assert.deepEqual(findWasmDir({ MODELSHIP_WASM_DIR: bundleDir }, sourceUrl), { dir: bundleDir, from: 'MODELSHIP_WASM_DIR' });
  });
  test('MODELSHIP_WASM_DIR without the files is a ConfigurationError naming it', () => {
    assert.throws(
      () => findWasmDir({ MODELSHIP_WASM_DIR: emptyDir }, sourceUrl),
      (err: unknown) => err instanceof ConfigurationError && /MODELSHIP_WASM_DIR/.test(err.message),
    );
  });
  test('files next to the running bundle', () => {
    assert.deepEqual(findWasmDir({}, bundleUrl), { dir: bundleDir, from: 'next to the bundle' });
  });
  test('else the installed package', () => {
    const found = findWasmDir({}, sourceUrl);
    assert.equal(found?.from, 'node_modules');
    assert.match(found.dir, /@tensorflow[/\\]tfjs-backend-wasm[/\\]dist$/);
  });
});
