/**
 * The committed C kernels module: the embedded copy the loader reads is the committed kernels.wasm,
 * and the module is safe to instantiate on tfjs's heap (it imports that memory and nothing else, and
 * has no data segment that would be written over tfjs's memory at instantiation).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { KERNELS_WASM_BASE64 } from '../../shared/model/kernels/native/kernels-wasm.ts';
import { kernelsModule } from '../../shared/model/kernels/native.ts';

interface Descriptor {
  module?: string;
  name: string;
  kind: string;
}
// The project's lib settings do not declare the WebAssembly JS API.
const Wasm = (globalThis as unknown as { WebAssembly: { Module: { imports(m: object): Descriptor[]; exports(m: object): Descriptor[] } } })
  .WebAssembly;

const dir = path.join(import.meta.dirname, '..', '..', 'shared', 'model', 'kernels', 'native');

/** Section ids of a wasm binary, in order. */
function sections(bytes: Uint8Array): number[] {
  assert.deepEqual(Array.from(bytes.subarray(0, 8)), [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  const ids: number[] = [];
  let p = 8;
  const leb = (): number => {
    let r = 0;
    let s = 0;
    let x: number;
    do {
      x = bytes[p++];
      r |= (x & 0x7f) << s;
      s += 7;
    } while (x & 0x80);
    return r >>> 0;
  };
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = leb();
    ids.push(id);
    p += size;
  }
  return ids;
}

describe('kernels.wasm', () => {
  const file = readFileSync(path.join(dir, 'kernels.wasm'));

  it('is what the loader embeds (kernels-wasm.ts)', () => {
    assert.ok(Buffer.from(KERNELS_WASM_BASE64, 'base64').equals(file));
  });

  it('imports only env.memory, exports its stack pointer, and has no data segment or start function', () => {
    const module = kernelsModule();
    assert.deepEqual(Wasm.Module.imports(module), [{ module: 'env', name: 'memory', kind: 'memory' }]);
    const exports = Wasm.Module.exports(module);
    assert.ok(exports.some((e) => e.name === '__stack_pointer' && e.kind === 'global'));
    for (const name of ['igemm', 'gemm_tn', 'wino_fwd', 'wino_dw', 'bn_train', 'bn_grad', 'adam_update']) {
      assert.ok(
        exports.some((e) => e.name === name && e.kind === 'function'),
        name,
      );
    }
    const ids = sections(file);
    assert.ok(!ids.includes(11), 'no data section');
    assert.ok(!ids.includes(8), 'no start section');
    assert.ok(!ids.includes(0), 'no custom sections (names, producers): stripped for a reproducible build');
  });
});
