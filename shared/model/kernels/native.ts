/**
 * modelship's C kernels (`native/kernels.c`, compiled to `native/kernels.wasm` by `native/build.sh`)
 * instantiated against tfjs-backend-wasm's own memory, so they read and write tensors in place.
 *
 * The module is embedded (`native/kernels-wasm.ts`, the same bytes in base64), so a bundle needs no
 * extra file. It needs wasm SIMD and relaxed SIMD (Node ≥ 22); where it cannot be instantiated the
 * caller keeps the TypeScript kernels.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { KERNELS_WASM_BASE64 } from './native/kernels-wasm.ts';
import type { BackendWasm } from './wasm.ts';

type Ptr = number;

// The few WebAssembly JS API types used here (the project's lib settings do not include them).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmGlobal {
  value: number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: object };
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The exports of kernels.wasm (see kernels.c for what each computes). */
export interface KernelExports {
  readonly __stack_pointer: WasmGlobal;
  fill_zero(p: Ptr, n: number): void;
  pack_b(b: Ptr, k: number, n: number, ldb: number, trans: number, out: Ptr): void;
  pack_rot(w: Ptr, fh: number, fw: number, ci: number, co: number, out: Ptr): void;
  pad_spread(
    x: Ptr,
    b: number,
    h: number,
    w: number,
    c: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
    hp: number,
    wp: number,
    out: Ptr,
  ): void;
  conv_rowofs(b: number, oh: number, ow: number, hp: number, wp: number, c: number, sh: number, sw: number, out: Ptr): void;
  iota(out: Ptr, n: number, stride: number): void;
  copy2d(src: Ptr, rows: number, cols: number, lds: number, dst: Ptr, ldd: number): void;
  transpose2d(src: Ptr, rows: number, cols: number, dst: Ptr): void;
  igemm(
    a: Ptr,
    rowofs: Ptr,
    m: number,
    segofs: Ptr,
    nseg: number,
    seglen: number,
    bpack: Ptr,
    n: number,
    bias: Ptr,
    relu: number,
    c: Ptr,
    ldc: number,
  ): void;
  igemm_small(
    a: Ptr,
    rowofs: Ptr,
    m: number,
    segofs: Ptr,
    nseg: number,
    seglen: number,
    bt: Ptr,
    n: number,
    bias: Ptr,
    relu: number,
    c: Ptr,
    ldc: number,
  ): void;
  pack_rot_t(w: Ptr, fh: number, fw: number, ci: number, co: number, out: Ptr): void;
  bn_train(x: Ptr, rows: number, c: number, gamma: Ptr, beta: Ptr, eps: number, y: Ptr, mean: Ptr, variance: Ptr, acc: Ptr, ws: Ptr): void;
  bn_grad(
    dy: Ptr,
    x: Ptr,
    rows: number,
    c: number,
    mean: Ptr,
    variance: Ptr,
    gamma: Ptr,
    eps: number,
    dx: Ptr,
    dgamma: Ptr,
    dbeta: Ptr,
    acc: Ptr,
    ws: Ptr,
  ): void;
  wino_filter(w: Ptr, c: number, co: number, u: Ptr): void;
  wino_fwd(
    xpad: Ptr,
    b: number,
    hp: number,
    wp: number,
    c: number,
    th: number,
    tw: number,
    upack: Ptr,
    co: number,
    bias: Ptr,
    relu: number,
    out: Ptr,
    oh: number,
    ow: number,
    v: Ptr,
    m: Ptr,
    rowofs: Ptr,
    tb: number,
  ): void;
  wino_dw(
    xpad: Ptr,
    b: number,
    hp: number,
    wp: number,
    c: number,
    th: number,
    tw: number,
    dy: Ptr,
    oh: number,
    ow: number,
    co: number,
    dw: Ptr,
    v: Ptr,
    d: Ptr,
    du: Ptr,
    rowofs: Ptr,
    tapofs: Ptr,
    tb: number,
  ): void;
  rotate_filter(w: Ptr, fh: number, fw: number, ci: number, co: number, out: Ptr): void;
  gemm_tn(a: Ptr, rowofs: Ptr, p: number, tapofs: Ptr, t: number, d: Ptr, ldd: number, n: number, c: Ptr, ldc: number): void;
  maxpool_grad_2x2(x: Ptr, dy: Ptr, dx: Ptr, b: number, h: number, w: number, c: number, oh: number, ow: number): void;
  maxpool_grad(
    x: Ptr,
    dy: Ptr,
    dx: Ptr,
    b: number,
    h: number,
    w: number,
    c: number,
    oh: number,
    ow: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    top: number,
    left: number,
    best: Ptr,
    where: Ptr,
  ): void;
  relu_grad(dy: Ptr, y: Ptr, dx: Ptr, n: number): void;
  maxpool_2x2(x: Ptr, y: Ptr, b: number, h: number, w: number, c: number, oh: number, ow: number): void;
  maxpool_2x2_argmax(x: Ptr, y: Ptr, arg: Ptr, b: number, h: number, w: number, c: number, oh: number, ow: number): void;
  maxpool_grad_2x2_argmax(arg: Ptr, dy: Ptr, dx: Ptr, b: number, h: number, w: number, c: number, oh: number, ow: number): void;
  sum_rows(x: Ptr, outer: number, inner: number, out: Ptr, acc: Ptr): void;
  add_bias(x: Ptr, b: Ptr, rows: number, c: number, out: Ptr): void;
  adam_update(
    value: Ptr,
    m: Ptr,
    v: Ptr,
    g: Ptr,
    g1: Ptr,
    w0: number,
    w1: number,
    n: number,
    b1: number,
    omb1: number,
    b2: number,
    omb2: number,
    omab1: number,
    omab2: number,
    eps: number,
    neglr: number,
    valueOut: Ptr,
    mOut: Ptr,
    vOut: Ptr,
  ): void;
}

interface EmscriptenModule {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  asm?: { memory?: WasmMemory };
}

/** The loaded kernels, bound to one backend's heap. */
export interface Native {
  readonly k: KernelExports;
  readonly memory: WasmMemory;
  /** Heap offset of a tensor's data. */
  ptr(t: TensorInfo): Ptr;
  /** Scratch from tfjs's allocator, freed together by `release`. */
  scratch(): Scratch;
  /** A block of tfjs's heap that outlives a kernel call; `free` it. */
  malloc(bytes: number): Ptr;
  free(ptr: Ptr): void;
}

export interface Scratch {
  f32(n: number): Ptr;
  f64(n: number): Ptr;
  /** Int32 scratch holding `values`. */
  i32(values: ArrayLike<number>): Ptr;
  /** Int32 scratch of n elements, uninitialised. */
  i32n(n: number): Ptr;
  release(): void;
}

const STACK_BYTES = 16384;

let compiled: object | undefined;

/** The compiled module (compiled once per process). Throws if this runtime cannot compile it. */
export function kernelsModule(): object {
  compiled ??= new WebAssemblyApi.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
  return compiled;
}

const bound = new WeakMap<BackendWasm, Native>();

/** Instantiates the kernels against the backend's heap (once per backend). Throws when it cannot. */
export function loadNative(backend: BackendWasm): Native {
  const known = bound.get(backend);
  if (known) return known;
  const em = backend.wasm as unknown as EmscriptenModule;
  const memory = em.asm?.memory;
  if (!memory || !(memory instanceof WebAssemblyApi.Memory)) throw new Error('tfjs-backend-wasm does not expose its memory');
  const instance = new WebAssemblyApi.Instance(kernelsModule(), { env: { memory } });
  const k = instance.exports as unknown as KernelExports;
  // The module's stack (used only by tail cases) lives in a block of tfjs's heap, never freed.
  const stack = em._malloc(STACK_BYTES + 16);
  if (!stack) throw new Error('cannot allocate the kernels stack');
  k.__stack_pointer.value = (stack + STACK_BYTES) & ~15;
  const native: Native = {
    k,
    memory,
    ptr: (t) => backend.getMemoryOffset(t.dataId),
    malloc: (bytes) => {
      const p = em._malloc(Math.max(16, bytes));
      if (!p) throw new Error(`out of wasm memory (${bytes} bytes)`);
      return p;
    },
    free: (p) => em._free(p),
    scratch: () => {
      const held: number[] = [];
      const alloc = (bytes: number): Ptr => {
        const p = em._malloc(Math.max(16, bytes));
        if (!p) throw new Error(`out of wasm memory (scratch of ${bytes} bytes)`);
        held.push(p);
        return p;
      };
      return {
        f32: (n) => alloc(n * 4),
        f64: (n) => alloc(n * 8),
        i32n: (n) => alloc(n * 4),
        i32: (values) => {
          const p = alloc(values.length * 4);
          new Int32Array(memory.buffer, p, values.length).set(values);
          return p;
        },
        release: () => {
          for (const p of held) em._free(p);
          held.length = 0;
        },
      };
    },
  };
  bound.set(backend, native);
  return native;
}
