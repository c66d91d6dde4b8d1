/*
 * modelship's training kernels for tfjs-backend-wasm, in C compiled to wasm32 with SIMD128 and
 * relaxed SIMD (fused multiply-add). Built by build.sh into kernels.wasm.
 *
 * The module imports tfjs-backend-wasm's own memory, so every pointer here is a tfjs tensor's heap
 * offset or scratch from its malloc: no copies in or out. It has no data segment and no static
 * state; its stack pointer is set by the loader to a block of that heap.
 *
 * Two matrix-product micro-kernels, 6 rows x 8 columns of accumulators (12 SIMD registers), carry
 * every convolution and dense layer, forward and backward:
 *
 *   igemm:   C[p][n] = sum_s sum_j A[rowofs[p] + segofs[s] + j] * B(s*seglen + j, n)  (+ bias, ReLU)
 *            rows of A gathered through offsets (a convolution's input patches, read in place:
 *            a 3x3 patch of NHWC data is 3 contiguous runs), B packed in panels of 8 columns.
 *   gemm_tn: C[t][n] += sum_p A[rowofs[p] + tapofs[t]] * D[p*ldd + n]
 *            a product over the long axis (a filter gradient over all output pixels, a dense
 *            layer's weight gradient over the batch), again reading A in place.
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define INLINE static inline __attribute__((always_inline))

typedef v128_t f4;
#define MADD(a, b, c) wasm_f32x4_relaxed_madd(a, b, c)
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)
#define SPLAT(p) wasm_v128_load32_splat(p)
#define ZERO wasm_f32x4_const_splat(0.0f)

INLINE int imin(int a, int b) { return a < b ? a : b; }

/* Stores the first `cols` (1..8) lanes of a:b to o. */
INLINE void store8(float *o, f4 a, f4 b, int cols) {
  if (cols >= 8) {
    ST(o, a);
    ST(o + 4, b);
    return;
  }
  if (cols >= 4) {
    ST(o, a);
    o += 4;
    cols -= 4;
    a = b;
  }
  if (cols > 0) o[0] = wasm_f32x4_extract_lane(a, 0);
  if (cols > 1) o[1] = wasm_f32x4_extract_lane(a, 1);
  if (cols > 2) o[2] = wasm_f32x4_extract_lane(a, 2);
}

/* Loads the first `cols` lanes of p (zeros beyond), without reading past them. */
INLINE void load8(const float *p, int cols, f4 *a, f4 *b) {
  if (cols >= 8) {
    *a = LD(p);
    *b = LD(p + 4);
    return;
  }
  float v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < cols; i++) v[i] = p[i];
  *a = wasm_f32x4_make(v[0], v[1], v[2], v[3]);
  *b = wasm_f32x4_make(v[4], v[5], v[6], v[7]);
}

EXPORT(fill_zero)
void fill_zero(float *p, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) ST(p + i, ZERO);
  for (; i < n; i++) p[i] = 0;
}

/* ---------------------------------------------------------------------------------------------
 * Packing
 */

/* out[q][k][j] = B(k, 8q + j), 0 beyond N; B(k, n) = b[k*ldb + n], or b[n*ldb + k] when trans. */
EXPORT(pack_b)
void pack_b(const float *b, int K, int N, int ldb, int trans, float *out) {
  for (int n0 = 0; n0 < N; n0 += 8) {
    int cols = imin(8, N - n0);
    float *o = out + (long)(n0 / 8) * K * 8;
    if (!trans && cols == 8) {
      for (int k = 0; k < K; k++, o += 8) {
        ST(o, LD(b + (long)k * ldb + n0));
        ST(o + 4, LD(b + (long)k * ldb + n0 + 4));
      }
      continue;
    }
    for (int k = 0; k < K; k++, o += 8) {
      for (int j = 0; j < 8; j++) {
        int n = n0 + j;
        o[j] = j < cols ? (trans ? b[(long)n * ldb + k] : b[(long)k * ldb + n]) : 0.0f;
      }
    }
  }
}

/*
 * The filter of a convolution's input gradient, packed: W'(k', c) with k' = (kh*FW + kw)*CO + co
 * is W[FH-1-kh][FW-1-kw][c][co] (rotated 180 degrees, channel axes swapped), in panels of 8 c.
 */
EXPORT(pack_rot)
void pack_rot(const float *w, int FH, int FW, int CI, int CO, float *out) {
  int K = FH * FW * CO;
  for (int c0 = 0; c0 < CI; c0 += 8) {
    float *o = out + (long)(c0 / 8) * K * 8;
    for (int kh = 0; kh < FH; kh++) {
      for (int kw = 0; kw < FW; kw++) {
        const float *src = w + (long)((FH - 1 - kh) * FW + (FW - 1 - kw)) * CI * CO;
        for (int co = 0; co < CO; co++, o += 8) {
          for (int j = 0; j < 8; j++) {
            int c = c0 + j;
            o[j] = c < CI ? src[(long)c * CO + co] : 0.0f;
          }
        }
      }
    }
  }
}

/*
 * out [B, HP, WP, C] = 0, then out[n, top + ih*sh, left + iw*sw, :] = x[n, ih, iw, :] for the
 * positions inside out: zero padding (sh = sw = 1), or a gradient spread onto a stride grid.
 */
EXPORT(pad_spread)
void pad_spread(const float *x, int B, int H, int W, int C, int sh, int sw, int top, int left, int HP, int WP, float *out) {
  fill_zero(out, B * HP * WP * C);
  for (int n = 0; n < B; n++) {
    for (int ih = 0; ih < H; ih++) {
      int y = top + ih * sh;
      if (y < 0 || y >= HP) continue;
      for (int iw = 0; iw < W; iw++) {
        int xx = left + iw * sw;
        if (xx < 0 || xx >= WP) continue;
        const float *s = x + (((long)n * H + ih) * W + iw) * C;
        float *d = out + (((long)n * HP + y) * WP + xx) * C;
        int c = 0;
        for (; c + 4 <= C; c += 4) ST(d + c, LD(s + c));
        for (; c < C; c++) d[c] = s[c];
      }
    }
  }
}

/* out[(n*OH + oh)*OW + ow] = offset of in[n, oh*sh, ow*sw, 0] in a [B, HP, WP, C] tensor. */
EXPORT(conv_rowofs)
void conv_rowofs(int B, int OH, int OW, int HP, int WP, int C, int sh, int sw, int32_t *out) {
  for (int n = 0; n < B; n++)
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) *out++ = ((n * HP + oh * sh) * WP + ow * sw) * C;
}

/* out[i] = i * stride */
EXPORT(iota)
void iota(int32_t *out, int n, int stride) {
  for (int i = 0; i < n; i++) out[i] = i * stride;
}

/* dst[r*ldd + c] = src[r*lds + c] for r < rows, c < cols. */
EXPORT(copy2d)
void copy2d(const float *src, int rows, int cols, int lds, float *dst, int ldd) {
  for (int r = 0; r < rows; r++) {
    const float *s = src + (long)r * lds;
    float *d = dst + (long)r * ldd;
    int c = 0;
    for (; c + 4 <= cols; c += 4) ST(d + c, LD(s + c));
    for (; c < cols; c++) d[c] = s[c];
  }
}

/* dst [cols, rows] = src [rows, cols] transposed, in 8x8 blocks. */
EXPORT(transpose2d)
void transpose2d(const float *src, int rows, int cols, float *dst) {
  for (int r0 = 0; r0 < rows; r0 += 8) {
    for (int c0 = 0; c0 < cols; c0 += 8) {
      const int re = imin(rows, r0 + 8), ce = imin(cols, c0 + 8);
      for (int r = r0; r < re; r++)
        for (int c = c0; c < ce; c++) dst[(long)c * rows + r] = src[(long)r * cols + c];
    }
  }
}

/* ---------------------------------------------------------------------------------------------
 * igemm: C[p][n] = sum_s sum_j A[rowofs[p] + segofs[s] + j] * B(s*seglen + j, n) (+bias[n]) (ReLU)
 */
EXPORT(igemm)
void igemm(const float *a, const int32_t *rowofs, int M, const int32_t *segofs, int nseg, int seglen, const float *bpack, int N,
           const float *bias, int relu, float *c, int ldc) {
  const int K = nseg * seglen;
  for (int p0 = 0; p0 < M; p0 += 6) {
    const int rows = imin(6, M - p0);
    const int o0 = rowofs[p0];
    const int o1 = rowofs[p0 + imin(1, rows - 1)];
    const int o2 = rowofs[p0 + imin(2, rows - 1)];
    const int o3 = rowofs[p0 + imin(3, rows - 1)];
    const int o4 = rowofs[p0 + imin(4, rows - 1)];
    const int o5 = rowofs[p0 + imin(5, rows - 1)];
    for (int n0 = 0; n0 < N; n0 += 8) {
      const int cols = imin(8, N - n0);
      const float *bp = bpack + (long)(n0 / 8) * K * 8;
      f4 c00 = ZERO, c01 = ZERO, c10 = ZERO, c11 = ZERO, c20 = ZERO, c21 = ZERO;
      f4 c30 = ZERO, c31 = ZERO, c40 = ZERO, c41 = ZERO, c50 = ZERO, c51 = ZERO;
      for (int s = 0; s < nseg; s++) {
        const float *base = a + segofs[s];
        const float *r0 = base + o0, *r1 = base + o1, *r2 = base + o2;
        const float *r3 = base + o3, *r4 = base + o4, *r5 = base + o5;
        for (int j = 0; j < seglen; j++) {
          const f4 b0 = LD(bp), b1 = LD(bp + 4);
          bp += 8;
          f4 x;
          x = SPLAT(r0 + j);
          c00 = MADD(x, b0, c00);
          c01 = MADD(x, b1, c01);
          x = SPLAT(r1 + j);
          c10 = MADD(x, b0, c10);
          c11 = MADD(x, b1, c11);
          x = SPLAT(r2 + j);
          c20 = MADD(x, b0, c20);
          c21 = MADD(x, b1, c21);
          x = SPLAT(r3 + j);
          c30 = MADD(x, b0, c30);
          c31 = MADD(x, b1, c31);
          x = SPLAT(r4 + j);
          c40 = MADD(x, b0, c40);
          c41 = MADD(x, b1, c41);
          x = SPLAT(r5 + j);
          c50 = MADD(x, b0, c50);
          c51 = MADD(x, b1, c51);
        }
      }
      if (bias) {
        f4 v0, v1;
        load8(bias + n0, cols, &v0, &v1);
        c00 = wasm_f32x4_add(c00, v0), c01 = wasm_f32x4_add(c01, v1);
        c10 = wasm_f32x4_add(c10, v0), c11 = wasm_f32x4_add(c11, v1);
        c20 = wasm_f32x4_add(c20, v0), c21 = wasm_f32x4_add(c21, v1);
        c30 = wasm_f32x4_add(c30, v0), c31 = wasm_f32x4_add(c31, v1);
        c40 = wasm_f32x4_add(c40, v0), c41 = wasm_f32x4_add(c41, v1);
        c50 = wasm_f32x4_add(c50, v0), c51 = wasm_f32x4_add(c51, v1);
      }
      if (relu) {
        c00 = wasm_f32x4_max(c00, ZERO), c01 = wasm_f32x4_max(c01, ZERO);
        c10 = wasm_f32x4_max(c10, ZERO), c11 = wasm_f32x4_max(c11, ZERO);
        c20 = wasm_f32x4_max(c20, ZERO), c21 = wasm_f32x4_max(c21, ZERO);
        c30 = wasm_f32x4_max(c30, ZERO), c31 = wasm_f32x4_max(c31, ZERO);
        c40 = wasm_f32x4_max(c40, ZERO), c41 = wasm_f32x4_max(c41, ZERO);
        c50 = wasm_f32x4_max(c50, ZERO), c51 = wasm_f32x4_max(c51, ZERO);
      }
      float *o = c + (long)p0 * ldc + n0;
      store8(o, c00, c01, cols);
      if (rows > 1) store8(o + ldc, c10, c11, cols);
      if (rows > 2) store8(o + 2 * ldc, c20, c21, cols);
      if (rows > 3) store8(o + 3 * ldc, c30, c31, cols);
      if (rows > 4) store8(o + 4 * ldc, c40, c41, cols);
      if (rows > 5) store8(o + 5 * ldc, c50, c51, cols);
    }
  }
}

/*
 * igemm for N <= 4 output columns (a first layer's input gradient with one input channel, a
 * regression output): the panel kernel would compute 8 columns, so this one runs along K
 * instead, four rows at a time, each dot product four floats wide. B is transposed: bt[n][k].
 */
INLINE float hsum(f4 v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

EXPORT(igemm_small)
void igemm_small(const float *a, const int32_t *rowofs, int M, const int32_t *segofs, int nseg, int seglen, const float *bt, int N,
                 const float *bias, int relu, float *c, int ldc) {
  const int K = nseg * seglen;
  const int L4 = seglen & ~3;
  for (int p0 = 0; p0 < M; p0 += 4) {
    const int rows = imin(4, M - p0);
    const int o0 = rowofs[p0];
    const int o1 = rowofs[p0 + imin(1, rows - 1)];
    const int o2 = rowofs[p0 + imin(2, rows - 1)];
    const int o3 = rowofs[p0 + imin(3, rows - 1)];
    for (int n = 0; n < N; n++) {
      f4 c0 = ZERO, c1 = ZERO, c2 = ZERO, c3 = ZERO;
      // A second set of accumulators: eight independent chains hide the multiply-add latency.
      f4 d0 = ZERO, d1 = ZERO, d2 = ZERO, d3 = ZERO;
      float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
      for (int s = 0; s < nseg; s++) {
        const float *base = a + segofs[s];
        const float *r0 = base + o0, *r1 = base + o1, *r2 = base + o2, *r3 = base + o3;
        const float *w = bt + (long)n * K + s * seglen;
        int j = 0;
        for (; j + 8 <= L4; j += 8) {
          const f4 wv = LD(w + j), wu = LD(w + j + 4);
          c0 = MADD(LD(r0 + j), wv, c0);
          c1 = MADD(LD(r1 + j), wv, c1);
          c2 = MADD(LD(r2 + j), wv, c2);
          c3 = MADD(LD(r3 + j), wv, c3);
          d0 = MADD(LD(r0 + j + 4), wu, d0);
          d1 = MADD(LD(r1 + j + 4), wu, d1);
          d2 = MADD(LD(r2 + j + 4), wu, d2);
          d3 = MADD(LD(r3 + j + 4), wu, d3);
        }
        for (; j < L4; j += 4) {
          const f4 wv = LD(w + j);
          c0 = MADD(LD(r0 + j), wv, c0);
          c1 = MADD(LD(r1 + j), wv, c1);
          c2 = MADD(LD(r2 + j), wv, c2);
          c3 = MADD(LD(r3 + j), wv, c3);
        }
        for (; j < seglen; j++) {
          t0 += r0[j] * w[j];
          t1 += r1[j] * w[j];
          t2 += r2[j] * w[j];
          t3 += r3[j] * w[j];
        }
      }
      const float b = bias ? bias[n] : 0.0f;
      c0 = wasm_f32x4_add(c0, d0), c1 = wasm_f32x4_add(c1, d1), c2 = wasm_f32x4_add(c2, d2), c3 = wasm_f32x4_add(c3, d3);
      float v[4] = {hsum(c0) + t0 + b, hsum(c1) + t1 + b, hsum(c2) + t2 + b, hsum(c3) + t3 + b};
      for (int r = 0; r < rows; r++) c[(long)(p0 + r) * ldc + n] = relu && v[r] < 0 ? 0.0f : v[r];
    }
  }
}

/* pack_rot transposed, for igemm_small: bt[c][k'] = W[FH-1-kh][FW-1-kw][c][co], k' = (kh*FW + kw)*CO + co. */
EXPORT(pack_rot_t)
void pack_rot_t(const float *w, int FH, int FW, int CI, int CO, float *out) {
  const int K = FH * FW * CO;
  for (int c = 0; c < CI; c++)
    for (int kh = 0; kh < FH; kh++)
      for (int kw = 0; kw < FW; kw++) {
        const float *src = w + (long)((FH - 1 - kh) * FW + (FW - 1 - kw)) * CI * CO + (long)c * CO;
        float *dst = out + (long)c * K + (kh * FW + kw) * CO;
        for (int co = 0; co < CO; co++) dst[co] = src[co];
      }
}

/* ---------------------------------------------------------------------------------------------
 * gemm_tn: C[t][n] += sum_p A[rowofs[p] + tapofs[t]] * D[p*ldd + n]; N a multiple of 8.
 * The long axis p runs in blocks, so a block's rows of A and D stay in cache across tiles.
 */
#define TN_BLOCK 256

INLINE void add_row(float *o, f4 a, f4 b) {
  ST(o, wasm_f32x4_add(LD(o), a));
  ST(o + 4, wasm_f32x4_add(LD(o + 4), b));
}

EXPORT(gemm_tn)
void gemm_tn(const float *a, const int32_t *rowofs, int P, const int32_t *tapofs, int T, const float *d, int ldd, int N, float *c,
             int ldc) {
  for (int pb = 0; pb < P; pb += TN_BLOCK) {
    const int pe = imin(P, pb + TN_BLOCK);
    for (int t0 = 0; t0 < T; t0 += 6) {
      const int rows = imin(6, T - t0);
      const int o0 = tapofs[t0];
      const int o1 = tapofs[t0 + imin(1, rows - 1)];
      const int o2 = tapofs[t0 + imin(2, rows - 1)];
      const int o3 = tapofs[t0 + imin(3, rows - 1)];
      const int o4 = tapofs[t0 + imin(4, rows - 1)];
      const int o5 = tapofs[t0 + imin(5, rows - 1)];
      for (int n0 = 0; n0 < N; n0 += 8) {
        f4 c00 = ZERO, c01 = ZERO, c10 = ZERO, c11 = ZERO, c20 = ZERO, c21 = ZERO;
        f4 c30 = ZERO, c31 = ZERO, c40 = ZERO, c41 = ZERO, c50 = ZERO, c51 = ZERO;
        const float *dp = d + (long)pb * ldd + n0;
        for (int p = pb; p < pe; p++, dp += ldd) {
          const float *ap = a + rowofs[p];
          const f4 b0 = LD(dp), b1 = LD(dp + 4);
          f4 x;
          x = SPLAT(ap + o0);
          c00 = MADD(x, b0, c00);
          c01 = MADD(x, b1, c01);
          x = SPLAT(ap + o1);
          c10 = MADD(x, b0, c10);
          c11 = MADD(x, b1, c11);
          x = SPLAT(ap + o2);
          c20 = MADD(x, b0, c20);
          c21 = MADD(x, b1, c21);
          x = SPLAT(ap + o3);
          c30 = MADD(x, b0, c30);
          c31 = MADD(x, b1, c31);
          x = SPLAT(ap + o4);
          c40 = MADD(x, b0, c40);
          c41 = MADD(x, b1, c41);
          x = SPLAT(ap + o5);
          c50 = MADD(x, b0, c50);
          c51 = MADD(x, b1, c51);
        }
        float *o = c + (long)t0 * ldc + n0;
        add_row(o, c00, c01);
        if (rows > 1) add_row(o + ldc, c10, c11);
        if (rows > 2) add_row(o + 2 * ldc, c20, c21);
        if (rows > 3) add_row(o + 3 * ldc, c30, c31);
        if (rows > 4) add_row(o + 4 * ldc, c40, c41);
        if (rows > 5) add_row(o + 5 * ldc, c50, c51);
      }
    }
  }
}

/* ---------------------------------------------------------------------------------------------
 * Pooling, activations, reductions
 */

/*
 * MaxPoolGrad, 2x2 windows with stride 2, no padding, C a multiple of 4: every input position
 * belongs to at most one window, so dx is written once, four channels at a time. The gradient
 * goes to the window's first maximum in row-major order (strictly greater replaces; a NaN never
 * wins), as tfjs's CPU backend does.
 */
EXPORT(maxpool_grad_2x2)
void maxpool_grad_2x2(const float *x, const float *dy, float *dx, int B, int H, int W, int C, int OH, int OW) {
  fill_zero(dx, B * H * W * C);
  const int row = W * C;
  const f4 ninf = wasm_f32x4_const_splat(-__builtin_inff());
  for (int n = 0; n < B; n++) {
    for (int oh = 0; oh < OH; oh++) {
      for (int ow = 0; ow < OW; ow++) {
        const long i0 = (((long)n * H + 2 * oh) * W + 2 * ow) * C;
        const float *g = dy + (((long)n * OH + oh) * OW + ow) * C;
        for (int ch = 0; ch < C; ch += 4) {
          const long i = i0 + ch;
          const f4 v0 = LD(x + i), v1 = LD(x + i + C), v2 = LD(x + i + row), v3 = LD(x + i + row + C);
          f4 best = ninf;
          v128_t m0 = wasm_f32x4_gt(v0, best);
          best = wasm_v128_bitselect(v0, best, m0);
          v128_t m1 = wasm_f32x4_gt(v1, best);
          best = wasm_v128_bitselect(v1, best, m1);
          v128_t m2 = wasm_f32x4_gt(v2, best);
          best = wasm_v128_bitselect(v2, best, m2);
          v128_t m3 = wasm_f32x4_gt(v3, best);
          // A later winner clears the earlier ones.
          m2 = wasm_v128_andnot(m2, m3);
          m1 = wasm_v128_andnot(wasm_v128_andnot(m1, m3), m2);
          m0 = wasm_v128_andnot(wasm_v128_andnot(wasm_v128_andnot(m0, m3), m2), m1);
          const f4 gv = LD(g + ch);
          ST(dx + i, wasm_v128_and(gv, m0));
          ST(dx + i + C, wasm_v128_and(gv, m1));
          ST(dx + i + row, wasm_v128_and(gv, m2));
          ST(dx + i + row + C, wasm_v128_and(gv, m3));
        }
      }
    }
  }
}

/*
 * MaxPoolGrad, any window, stride, padding and dilation (windows may overlap: gradients add).
 * `best`/`where` are scratch of C floats/ints.
 */
EXPORT(maxpool_grad)
void maxpool_grad(const float *x, const float *dy, float *dx, int B, int H, int W, int C, int OH, int OW, int FH, int FW, int sh,
                  int sw, int dh, int dw, int top, int left, float *best, int32_t *where) {
  fill_zero(dx, B * H * W * C);
  for (int n = 0; n < B; n++) {
    for (int oh = 0; oh < OH; oh++) {
      const int h0 = oh * sh - top;
      for (int ow = 0; ow < OW; ow++) {
        const int w0 = ow * sw - left;
        for (int ch = 0; ch < C; ch++) {
          best[ch] = -__builtin_inff();
          where[ch] = -1;
        }
        for (int kh = 0; kh < FH; kh += dh) {
          const int ih = h0 + kh;
          if (ih < 0 || ih >= H) continue;
          for (int kw = 0; kw < FW; kw += dw) {
            const int iw = w0 + kw;
            if (iw < 0 || iw >= W) continue;
            const int base = ((n * H + ih) * W + iw) * C;
            for (int ch = 0; ch < C; ch++) {
              const float v = x[base + ch];
              if (v > best[ch]) {
                best[ch] = v;
                where[ch] = base + ch;
              }
            }
          }
        }
        const float *g = dy + (((long)n * OH + oh) * OW + ow) * C;
        for (int ch = 0; ch < C; ch++)
          if (where[ch] >= 0) dx[where[ch]] += g[ch];
      }
    }
  }
}

/*
 * The ReLU gradient dx = dy * step(x), step(x) = 1 where x > 0, NaN where x is NaN, else 0: tfjs's
 * own formula (so a negative dy over x <= 0 gives -0, as there), in one pass.
 */
EXPORT(relu_grad)
void relu_grad(const float *dy, const float *x, float *dx, int n) {
  const f4 one = wasm_f32x4_const_splat(1.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const f4 xv = LD(x + i);
    f4 step = wasm_v128_and(one, wasm_f32x4_gt(xv, ZERO));
    step = wasm_v128_bitselect(xv, step, wasm_f32x4_ne(xv, xv));
    ST(dx + i, wasm_f32x4_mul(LD(dy + i), step));
  }
  for (; i < n; i++) {
    const float step = x[i] > 0 ? 1.0f : (x[i] != x[i] ? x[i] : 0.0f);
    dx[i] = dy[i] * step;
  }
}

/*
 * out[i] = sum_o x[o*inner + i]: a sum over leading axes (a bias gradient). Blocks of 64 rows
 * add in float32, blocks into float64 (acc: scratch of inner doubles), so long sums keep their
 * precision.
 */
EXPORT(sum_rows)
void sum_rows(const float *x, int outer, int inner, float *out, double *acc) {
  for (int i = 0; i < inner; i++) acc[i] = 0;
  for (int o0 = 0; o0 < outer; o0 += 64) {
    const int oe = imin(outer, o0 + 64);
    int i = 0;
    for (; i + 4 <= inner; i += 4) {
      f4 s = ZERO;
      for (int o = o0; o < oe; o++) s = wasm_f32x4_add(s, LD(x + (long)o * inner + i));
      ST((float *)out + i, s);
      acc[i] += out[i];
      acc[i + 1] += out[i + 1];
      acc[i + 2] += out[i + 2];
      acc[i + 3] += out[i + 3];
    }
    for (; i < inner; i++) {
      float s = 0;
      for (int o = o0; o < oe; o++) s += x[(long)o * inner + i];
      acc[i] += s;
    }
  }
  for (int i = 0; i < inner; i++) out[i] = (float)acc[i];
}

/* out[r*C + c] = x[r*C + c] + b[c]: a bias added over the last axis. */
EXPORT(add_bias)
void add_bias(const float *x, const float *b, int rows, int C, float *out) {
  for (int r = 0; r < rows; r++) {
    const float *s = x + (long)r * C;
    float *d = out + (long)r * C;
    int c = 0;
    for (; c + 4 <= C; c += 4) ST(d + c, wasm_f32x4_add(LD(s + c), LD(b + c)));
    for (; c < C; c++) d[c] = s[c] + b[c];
  }
}

/*
 * One Adam step for one variable, the same float32 operations in the same order as tfjs's
 * AdamOptimizer (so the same bytes), in one pass instead of fourteen kernels:
 *   m' = m*b1 + g*(1-b1);  v' = v*b2 + (g*g)*(1-b2)
 *   value' = (m'/(1-b1^t)) / (sqrt(v'/(1-b2^t)) + eps) * (-lr) + value
 * With g1 (data-parallel training), the gradient is g*w0 + g1*w1: two half-batches' gradients
 * weighted by their sizes, combined in the same pass.
 */
EXPORT(adam_update)
void adam_update(const float *value, const float *m, const float *v, const float *g, const float *g1, float w0, float w1, int n,
                 float b1, float omb1, float b2, float omb2, float omab1, float omab2, float eps, float neglr, float *value_out,
                 float *m_out, float *v_out) {
  const f4 vb1 = wasm_f32x4_splat(b1), vomb1 = wasm_f32x4_splat(omb1), vb2 = wasm_f32x4_splat(b2), vomb2 = wasm_f32x4_splat(omb2);
  const f4 vomab1 = wasm_f32x4_splat(omab1), vomab2 = wasm_f32x4_splat(omab2), veps = wasm_f32x4_splat(eps), vlr = wasm_f32x4_splat(neglr);
  const f4 vw0 = wasm_f32x4_splat(w0), vw1 = wasm_f32x4_splat(w1);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    f4 gi = LD(g + i);
    if (g1) gi = wasm_f32x4_add(wasm_f32x4_mul(gi, vw0), wasm_f32x4_mul(LD(g1 + i), vw1));
    const f4 mi = wasm_f32x4_add(wasm_f32x4_mul(LD(m + i), vb1), wasm_f32x4_mul(gi, vomb1));
    const f4 vi = wasm_f32x4_add(wasm_f32x4_mul(LD(v + i), vb2), wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), vomb2));
    const f4 mhat = wasm_f32x4_div(mi, vomab1);
    const f4 vhat = wasm_f32x4_div(vi, vomab2);
    const f4 step = wasm_f32x4_mul(wasm_f32x4_div(mhat, wasm_f32x4_add(wasm_f32x4_sqrt(vhat), veps)), vlr);
    ST(m_out + i, mi);
    ST(v_out + i, vi);
    ST(value_out + i, wasm_f32x4_add(step, LD(value + i)));
  }
  for (; i < n; i++) {
    float gi = g[i];
    if (g1) gi = gi * w0 + g1[i] * w1;
    const float mi = m[i] * b1 + gi * omb1;
    const float vi = v[i] * b2 + (gi * gi) * omb2;
    const float mhat = mi / omab1, vhat = vi / omab2;
    m_out[i] = mi;
    v_out[i] = vi;
    value_out[i] = (mhat / (__builtin_sqrtf(vhat) + eps)) * neglr + value[i];
  }
}

/* ---------------------------------------------------------------------------------------------
 * Batch normalisation in training (statistics of the batch), over rows x C (channels last).
 * Channel sums run in float32 over blocks of 64 rows, blocks add in float64.
 */
#define BN_BLOCK 64

/*
 * y = gamma * (x - mean) / sqrt(var + eps) + beta, with mean and the biased variance of each
 * channel over the rows (written to mean, var). acc: scratch of 2C doubles; ws: 2C floats.
 */
EXPORT(bn_train)
void bn_train(const float *x, int rows, int C, const float *gamma, const float *beta, float eps, float *y, float *mean, float *var,
              double *acc, float *ws) {
  double *sum = acc, *sq = acc + C;
  for (int ch = 0; ch < C; ch++) sum[ch] = sq[ch] = 0;
  for (int r0 = 0; r0 < rows; r0 += BN_BLOCK) {
    const int re = imin(rows, r0 + BN_BLOCK);
    int ch = 0;
    for (; ch + 4 <= C; ch += 4) {
      f4 s1 = ZERO, s2 = ZERO;
      for (int r = r0; r < re; r++) {
        const f4 v = LD(x + (long)r * C + ch);
        s1 = wasm_f32x4_add(s1, v);
        s2 = MADD(v, v, s2);
      }
      sum[ch] += wasm_f32x4_extract_lane(s1, 0), sum[ch + 1] += wasm_f32x4_extract_lane(s1, 1);
      sum[ch + 2] += wasm_f32x4_extract_lane(s1, 2), sum[ch + 3] += wasm_f32x4_extract_lane(s1, 3);
      sq[ch] += wasm_f32x4_extract_lane(s2, 0), sq[ch + 1] += wasm_f32x4_extract_lane(s2, 1);
      sq[ch + 2] += wasm_f32x4_extract_lane(s2, 2), sq[ch + 3] += wasm_f32x4_extract_lane(s2, 3);
    }
    for (; ch < C; ch++) {
      float s1 = 0, s2 = 0;
      for (int r = r0; r < re; r++) {
        const float v = x[(long)r * C + ch];
        s1 += v;
        s2 += v * v;
      }
      sum[ch] += s1;
      sq[ch] += s2;
    }
  }
  float *scale = ws, *shift = ws + C;
  for (int ch = 0; ch < C; ch++) {
    const double m = sum[ch] / rows;
    double v = sq[ch] / rows - m * m;
    if (v < 0) v = 0;
    mean[ch] = (float)m;
    var[ch] = (float)v;
    const double sc = gamma[ch] / __builtin_sqrt(v + eps);
    scale[ch] = (float)sc;
    shift[ch] = (float)(beta[ch] - m * sc);
  }
  for (int r = 0; r < rows; r++) {
    const float *xs = x + (long)r * C;
    float *ys = y + (long)r * C;
    int ch = 0;
    for (; ch + 4 <= C; ch += 4) ST(ys + ch, MADD(LD(xs + ch), LD(scale + ch), LD(shift + ch)));
    for (; ch < C; ch++) ys[ch] = xs[ch] * scale[ch] + shift[ch];
  }
}

/*
 * The gradient of bn_train (mean and variance of the batch depend on x):
 *   dbeta = sum dy,  dgamma = sum dy * xhat,  xhat = (x - mean) / sqrt(var + eps),
 *   dx = gamma / sqrt(var + eps) * (dy - dbeta/n - xhat * dgamma/n).
 * Two passes. acc: scratch of 2C doubles; ws: 3C floats.
 */
EXPORT(bn_grad)
void bn_grad(const float *dy, const float *x, int rows, int C, const float *mean, const float *var, const float *gamma, float eps,
             float *dx, float *dgamma, float *dbeta, double *acc, float *ws) {
  double *sdy = acc, *sdyx = acc + C;
  for (int ch = 0; ch < C; ch++) sdy[ch] = sdyx[ch] = 0;
  for (int r0 = 0; r0 < rows; r0 += BN_BLOCK) {
    const int re = imin(rows, r0 + BN_BLOCK);
    int ch = 0;
    for (; ch + 4 <= C; ch += 4) {
      const f4 m = LD(mean + ch);
      f4 s1 = ZERO, s2 = ZERO;
      for (int r = r0; r < re; r++) {
        const f4 g = LD(dy + (long)r * C + ch);
        s1 = wasm_f32x4_add(s1, g);
        s2 = MADD(g, wasm_f32x4_sub(LD(x + (long)r * C + ch), m), s2);
      }
      sdy[ch] += wasm_f32x4_extract_lane(s1, 0), sdy[ch + 1] += wasm_f32x4_extract_lane(s1, 1);
      sdy[ch + 2] += wasm_f32x4_extract_lane(s1, 2), sdy[ch + 3] += wasm_f32x4_extract_lane(s1, 3);
      sdyx[ch] += wasm_f32x4_extract_lane(s2, 0), sdyx[ch + 1] += wasm_f32x4_extract_lane(s2, 1);
      sdyx[ch + 2] += wasm_f32x4_extract_lane(s2, 2), sdyx[ch + 3] += wasm_f32x4_extract_lane(s2, 3);
    }
    for (; ch < C; ch++) {
      float s1 = 0, s2 = 0;
      for (int r = r0; r < re; r++) {
        const float g = dy[(long)r * C + ch];
        s1 += g;
        s2 += g * (x[(long)r * C + ch] - mean[ch]);
      }
      sdy[ch] += s1;
      sdyx[ch] += s2;
    }
  }
  float *k1 = ws, *k2 = ws + C, *k3 = ws + 2 * C;
  for (int ch = 0; ch < C; ch++) {
    const double rstd = 1.0 / __builtin_sqrt((double)var[ch] + eps);
    dbeta[ch] = (float)sdy[ch];
    dgamma[ch] = (float)(sdyx[ch] * rstd);
    const double a = gamma[ch] * rstd;
    const double b = -gamma[ch] * rstd * rstd * rstd * sdyx[ch] / rows;
    k1[ch] = (float)a;
    k2[ch] = (float)b;
    k3[ch] = (float)(-a * sdy[ch] / rows - b * mean[ch]);
  }
  for (int r = 0; r < rows; r++) {
    const float *g = dy + (long)r * C, *xs = x + (long)r * C;
    float *d = dx + (long)r * C;
    int ch = 0;
    for (; ch + 4 <= C; ch += 4) ST(d + ch, MADD(LD(g + ch), LD(k1 + ch), MADD(LD(xs + ch), LD(k2 + ch), LD(k3 + ch))));
    for (; ch < C; ch++) d[ch] = g[ch] * k1[ch] + (xs[ch] * k2[ch] + k3[ch]);
  }
}

/* ---------------------------------------------------------------------------------------------
 * Winograd F(2x2, 3x3): a 3x3 stride-1 convolution as 16 matrix products over 4x4 input tiles
 * (2.25 times fewer multiplications; the transforms only add), Lavin & Gray's matrices:
 *   Bt = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *   At = [1 1 1 0; 0 1 -1 -1];  Y = At [(G g Gt) . (Bt d B)] A.
 */

/* U[e][c][co] = (G g Gt)[e] for the filter w [3][3][C][CO]; e = 4*xi + nu. */
EXPORT(wino_filter)
void wino_filter(const float *w, int C, int CO, float *U) {
  const long plane = (long)C * CO;
  for (long i = 0; i < plane; i++) {
    float g[3][3];
    for (int kh = 0; kh < 3; kh++)
      for (int kw = 0; kw < 3; kw++) g[kh][kw] = w[(kh * 3 + kw) * plane + i];
    float t[4][3];
    for (int kw = 0; kw < 3; kw++) {
      t[0][kw] = g[0][kw];
      t[1][kw] = 0.5f * (g[0][kw] + g[1][kw] + g[2][kw]);
      t[2][kw] = 0.5f * (g[0][kw] - g[1][kw] + g[2][kw]);
      t[3][kw] = g[2][kw];
    }
    for (int r = 0; r < 4; r++) {
      U[(r * 4 + 0) * plane + i] = t[r][0];
      U[(r * 4 + 1) * plane + i] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
      U[(r * 4 + 2) * plane + i] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
      U[(r * 4 + 3) * plane + i] = t[r][2];
    }
  }
}

/*
 * Bt d B for 4 channels of one 4x4 tile at p (row stride rs floats, pixel stride C), into
 * V[e*vs] (vs: the stride between the 16 transformed planes).
 */
INLINE void wino_input_tile(const float *p, long rs, int C, float *V, long vs) {
  f4 d[4][4];
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++) d[r][c] = LD(p + r * rs + (long)c * C);
  f4 t[4][4];
  for (int c = 0; c < 4; c++) {
    t[0][c] = wasm_f32x4_sub(d[0][c], d[2][c]);
    t[1][c] = wasm_f32x4_add(d[1][c], d[2][c]);
    t[2][c] = wasm_f32x4_sub(d[2][c], d[1][c]);
    t[3][c] = wasm_f32x4_sub(d[1][c], d[3][c]);
  }
  for (int r = 0; r < 4; r++) {
    ST(V + (r * 4 + 0) * vs, wasm_f32x4_sub(t[r][0], t[r][2]));
    ST(V + (r * 4 + 1) * vs, wasm_f32x4_add(t[r][1], t[r][2]));
    ST(V + (r * 4 + 2) * vs, wasm_f32x4_sub(t[r][2], t[r][1]));
    ST(V + (r * 4 + 3) * vs, wasm_f32x4_sub(t[r][1], t[r][3]));
  }
}

/*
 * out [B, OH, OW, CO] = conv3x3(xpad) (+ bias) (ReLU), xpad [B, HP, WP, C] already padded so that
 * tile (ti, tj) reads rows 2ti..2ti+3 and columns 2tj..2tj+3 (HP >= 2*TH + 2, WP >= 2*TW + 2);
 * C a multiple of 4. upack: the 16 transformed filters, each packed as pack_b packs [C][CO].
 * Scratch: V 16*TB*C floats, M 16*TB*CO floats, rowofs TB ints; TB tiles per block.
 */
EXPORT(wino_fwd)
void wino_fwd(const float *xpad, int B, int HP, int WP, int C, int TH, int TW, const float *upack, int CO, const float *bias,
              int relu, float *out, int OH, int OW, float *V, float *M, int32_t *rowofs, int TB) {
  const long total = (long)B * TH * TW;
  // Plane strides padded off multiples of 4 KiB, which would map the 16 planes onto the same cache sets.
  const long vs = (long)TB * C + 16, ms = (long)TB * CO + 16;
  const long upanel = (long)((CO + 7) / 8) * 8 * C;
  const int32_t seg0 = 0;
  for (int t = 0; t < TB; t++) rowofs[t] = t * C;
  for (long t0 = 0; t0 < total; t0 += TB) {
    const int nt = (int)(total - t0 < TB ? total - t0 : TB);
    for (int tb = 0; tb < nt; tb++) {
      const long t = t0 + tb;
      const int n = (int)(t / (TH * TW)), ti = (int)(t / TW % TH), tj = (int)(t % TW);
      const float *p = xpad + (((long)n * HP + 2 * ti) * WP + 2 * tj) * C;
      for (int ch = 0; ch < C; ch += 4) wino_input_tile(p + ch, (long)WP * C, C, V + (long)tb * C + ch, vs);
    }
    for (int e = 0; e < 16; e++)
      igemm(V + e * vs, rowofs, nt, &seg0, 1, C, upack + e * upanel, CO, 0, 0, M + e * ms, CO);
    for (int tb = 0; tb < nt; tb++) {
      const long t = t0 + tb;
      const int n = (int)(t / (TH * TW)), ti = (int)(t / TW % TH), tj = (int)(t % TW);
      const int oh = 2 * ti, ow = 2 * tj;
      const int rows = imin(2, OH - oh), cols = imin(2, OW - ow);
      for (int co = 0; co < CO; co += 4) {
        const float *m = M + (long)tb * CO + co;
        f4 r0[4], r1[4];
        for (int c = 0; c < 4; c++) {
          const f4 m0 = LD(m + (0 * 4 + c) * ms), m1 = LD(m + (1 * 4 + c) * ms), m2 = LD(m + (2 * 4 + c) * ms),
                   m3 = LD(m + (3 * 4 + c) * ms);
          r0[c] = wasm_f32x4_add(wasm_f32x4_add(m0, m1), m2);
          r1[c] = wasm_f32x4_sub(wasm_f32x4_sub(m1, m2), m3);
        }
        f4 y[2][2];
        y[0][0] = wasm_f32x4_add(wasm_f32x4_add(r0[0], r0[1]), r0[2]);
        y[0][1] = wasm_f32x4_sub(wasm_f32x4_sub(r0[1], r0[2]), r0[3]);
        y[1][0] = wasm_f32x4_add(wasm_f32x4_add(r1[0], r1[1]), r1[2]);
        y[1][1] = wasm_f32x4_sub(wasm_f32x4_sub(r1[1], r1[2]), r1[3]);
        const f4 bv = bias ? LD(bias + co) : ZERO;
        for (int a = 0; a < rows; a++)
          for (int b = 0; b < cols; b++) {
            f4 v = wasm_f32x4_add(y[a][b], bv);
            if (relu) v = wasm_f32x4_max(v, ZERO);
            ST(out + (((long)n * OH + oh + a) * OW + ow + b) * CO + co, v);
          }
      }
    }
  }
}

/*
 * The filter gradient of a 3x3 stride-1 convolution by the same transforms (the gradient of
 * F(2x2, 3x3) with respect to the filter): dW = sum over tiles of Gt [(A dy At) . (Bt d B)] G, the
 * sum taken in the transformed domain as 16 products over all tiles (gemm_tn), one output
 * transform at the end. xpad as for wino_fwd; dy [B, OH, OW, CO], CO a multiple of 8, C of 4.
 * Scratch: V 16*(TB*C + 16), D 16*(TB*CO + 16), dU 16*C*CO floats; rowofs TB ints, tapofs C ints.
 */
EXPORT(wino_dw)
void wino_dw(const float *xpad, int B, int HP, int WP, int C, int TH, int TW, const float *dy, int OH, int OW, int CO, float *dw,
             float *V, float *D, float *dU, int32_t *rowofs, int32_t *tapofs, int TB) {
  const long total = (long)B * TH * TW;
  const long vs = (long)TB * C + 16, ds = (long)TB * CO + 16, us = (long)C * CO;
  for (int t = 0; t < TB; t++) rowofs[t] = t * C;
  for (int c = 0; c < C; c++) tapofs[c] = c;
  fill_zero(dU, 16 * C * CO);
  for (long t0 = 0; t0 < total; t0 += TB) {
    const int nt = (int)(total - t0 < TB ? total - t0 : TB);
    for (int tb = 0; tb < nt; tb++) {
      const long t = t0 + tb;
      const int n = (int)(t / (TH * TW)), ti = (int)(t / TW % TH), tj = (int)(t % TW);
      const float *p = xpad + (((long)n * HP + 2 * ti) * WP + 2 * tj) * C;
      for (int ch = 0; ch < C; ch += 4) wino_input_tile(p + ch, (long)WP * C, C, V + (long)tb * C + ch, vs);
      // A g At for the 2x2 tile g of dy (zero beyond the output): A = [1 0; 1 1; 1 -1; 0 -1].
      const int oh = 2 * ti, ow = 2 * tj;
      const int has01 = ow + 1 < OW, has10 = oh + 1 < OH;
      const float *g = dy + (((long)n * OH + oh) * OW + ow) * CO;
      for (int co = 0; co < CO; co += 4) {
        const f4 g00 = LD(g + co);
        const f4 g01 = has01 ? LD(g + CO + co) : ZERO;
        const f4 g10 = has10 ? LD(g + (long)OW * CO + co) : ZERO;
        const f4 g11 = has01 && has10 ? LD(g + (long)OW * CO + CO + co) : ZERO;
        // rows: A g
        const f4 r[4][2] = {{g00, g01},
                            {wasm_f32x4_add(g00, g10), wasm_f32x4_add(g01, g11)},
                            {wasm_f32x4_sub(g00, g10), wasm_f32x4_sub(g01, g11)},
                            {wasm_f32x4_neg(g10), wasm_f32x4_neg(g11)}};
        float *o = D + (long)tb * CO + co;
        for (int a = 0; a < 4; a++) {
          ST(o + (a * 4 + 0) * ds, r[a][0]);
          ST(o + (a * 4 + 1) * ds, wasm_f32x4_add(r[a][0], r[a][1]));
          ST(o + (a * 4 + 2) * ds, wasm_f32x4_sub(r[a][0], r[a][1]));
          ST(o + (a * 4 + 3) * ds, wasm_f32x4_neg(r[a][1]));
        }
      }
    }
    for (int e = 0; e < 16; e++) gemm_tn(V + e * vs, rowofs, nt, tapofs, C, D + e * ds, CO, CO, dU + e * us, CO);
  }
  // dW = Gt dU G, Gt = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1].
  for (long i = 0; i < us; i++) {
    float u[4][4];
    for (int e = 0; e < 16; e++) u[e / 4][e % 4] = dU[e * us + i];
    float t[3][4];
    for (int c = 0; c < 4; c++) {
      t[0][c] = u[0][c] + 0.5f * (u[1][c] + u[2][c]);
      t[1][c] = 0.5f * (u[1][c] - u[2][c]);
      t[2][c] = 0.5f * (u[1][c] + u[2][c]) + u[3][c];
    }
    for (int r = 0; r < 3; r++) {
      dw[(r * 3 + 0) * us + i] = t[r][0] + 0.5f * (t[r][1] + t[r][2]);
      dw[(r * 3 + 1) * us + i] = 0.5f * (t[r][1] - t[r][2]);
      dw[(r * 3 + 2) * us + i] = 0.5f * (t[r][1] + t[r][2]) + t[r][3];
    }
  }
}

/* out [FH][FW][CO][CI] = w[FH-1-kh][FW-1-kw][ci][co]: the filter of a convolution's input gradient, as HWIO. */
EXPORT(rotate_filter)
void rotate_filter(const float *w, int FH, int FW, int CI, int CO, float *out) {
  for (int kh = 0; kh < FH; kh++)
    for (int kw = 0; kw < FW; kw++) {
      const float *src = w + (long)((FH - 1 - kh) * FW + (FW - 1 - kw)) * CI * CO;
      float *dst = out + (long)(kh * FW + kw) * CO * CI;
      for (int ci = 0; ci < CI; ci++)
        for (int co = 0; co < CO; co++) dst[(long)co * CI + ci] = src[(long)ci * CO + co];
    }
}

/*
 * MaxPool, 2x2 windows with stride 2, no padding, C a multiple of 4: the maximum of each window,
 * four channels at a time. A NaN never wins (strictly greater replaces, from -inf), as in tfjs's
 * CPU backend.
 */
EXPORT(maxpool_2x2)
void maxpool_2x2(const float *x, float *y, int B, int H, int W, int C, int OH, int OW) {
  const int row = W * C;
  const f4 ninf = wasm_f32x4_const_splat(-__builtin_inff());
  for (int n = 0; n < B; n++)
    for (int oh = 0; oh < OH; oh++) {
      const float *r = x + ((long)n * H + 2 * oh) * row;
      float *o = y + ((long)n * OH + oh) * OW * C;
      for (int ow = 0; ow < OW; ow++, r += 2 * C, o += C)
        for (int ch = 0; ch < C; ch += 4) {
          f4 m = wasm_f32x4_pmax(ninf, LD(r + ch));
          m = wasm_f32x4_pmax(m, LD(r + C + ch));
          m = wasm_f32x4_pmax(m, LD(r + row + ch));
          m = wasm_f32x4_pmax(m, LD(r + row + C + ch));
          ST(o + ch, m);
        }
    }
}

/*
 * maxpool_2x2 that also records, for the gradient, which of the four window positions won (0-3,
 * 4: none, an all-NaN window), one byte per output value: the gradient then needs neither the
 * input (four times the output's size) nor the comparisons again.
 */
EXPORT(maxpool_2x2_argmax)
void maxpool_2x2_argmax(const float *x, float *y, uint8_t *arg, int B, int H, int W, int C, int OH, int OW) {
  const int row = W * C;
  const f4 ninf = wasm_f32x4_const_splat(-__builtin_inff());
  const v128_t one = wasm_i32x4_const_splat(1), two = wasm_i32x4_const_splat(2), three = wasm_i32x4_const_splat(3),
               four = wasm_i32x4_const_splat(4);
  for (int n = 0; n < B; n++)
    for (int oh = 0; oh < OH; oh++) {
      const float *r = x + ((long)n * H + 2 * oh) * row;
      const long o0 = ((long)n * OH + oh) * OW * C;
      for (int ow = 0; ow < OW; ow++, r += 2 * C)
        for (int ch = 0; ch < C; ch += 4) {
          const f4 v0 = LD(r + ch), v1 = LD(r + C + ch), v2 = LD(r + row + ch), v3 = LD(r + row + C + ch);
          f4 best = ninf;
          v128_t m0 = wasm_f32x4_gt(v0, best);
          best = wasm_v128_bitselect(v0, best, m0);
          v128_t m1 = wasm_f32x4_gt(v1, best);
          best = wasm_v128_bitselect(v1, best, m1);
          v128_t m2 = wasm_f32x4_gt(v2, best);
          best = wasm_v128_bitselect(v2, best, m2);
          v128_t m3 = wasm_f32x4_gt(v3, best);
          best = wasm_v128_bitselect(v3, best, m3);
          // The last position that raised the maximum is the first maximum in row-major order.
          v128_t idx = wasm_v128_bitselect(four, wasm_i32x4_splat(0), wasm_v128_not(wasm_v128_or(wasm_v128_or(m0, m1), wasm_v128_or(m2, m3))));
          idx = wasm_v128_bitselect(one, idx, m1);
          idx = wasm_v128_bitselect(two, idx, m2);
          idx = wasm_v128_bitselect(three, idx, m3);
          const long o = o0 + (long)ow * C + ch;
          ST(y + o, best);
          const v128_t b16 = wasm_u16x8_narrow_i32x4(idx, idx);
          const v128_t b8 = wasm_u8x16_narrow_i16x8(b16, b16);
          wasm_v128_store32_lane(arg + o, b8, 0);
        }
    }
}

/* MaxPoolGrad from maxpool_2x2_argmax's record: dy to the recorded position, zero elsewhere. */
EXPORT(maxpool_grad_2x2_argmax)
void maxpool_grad_2x2_argmax(const uint8_t *arg, const float *dy, float *dx, int B, int H, int W, int C, int OH, int OW) {
  const int row = W * C;
  if (2 * OH < H || 2 * OW < W) fill_zero(dx, B * H * W * C);
  for (int n = 0; n < B; n++)
    for (int oh = 0; oh < OH; oh++) {
      float *d = dx + ((long)n * H + 2 * oh) * row;
      const long o0 = ((long)n * OH + oh) * OW * C;
      for (int ow = 0; ow < OW; ow++, d += 2 * C)
        for (int ch = 0; ch < C; ch += 4) {
          const long o = o0 + (long)ow * C + ch;
          const v128_t b = wasm_v128_load32_zero(arg + o);
          const v128_t idx = wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(b));
          const f4 g = LD(dy + o);
          ST(d + ch, wasm_v128_and(g, wasm_i32x4_eq(idx, wasm_i32x4_splat(0))));
          ST(d + C + ch, wasm_v128_and(g, wasm_i32x4_eq(idx, wasm_i32x4_splat(1))));
          ST(d + row + ch, wasm_v128_and(g, wasm_i32x4_eq(idx, wasm_i32x4_splat(2))));
          ST(d + row + C + ch, wasm_v128_and(g, wasm_i32x4_eq(idx, wasm_i32x4_splat(3))));
        }
    }
}
