// Shared-memory tiled matmul C[m, n] = A[m, k] · B[k, n] (+ bias[n]) (then GELU), row-major f32.
// Each workgroup computes a (WG_Y·4) x (WG_X·4) tile of C: it stages TK-deep slices of A and B in
// workgroup memory and every invocation accumulates a 4x4 register block. Any shape works:
// out-of-range tile elements load as 0 and are never stored.
// The classic GPU design, kept for comparison (benchmarks, hardware GPUs): on SwiftShader, where this
// project's tests and benchmarks run, a shader with workgroup barriers runs its invocations as
// coroutines and measured 4-8x slower than the barrier-free matmul.wgsl, which the model uses.
// Variants are pipeline constants: HAS_BIAS (add bias[n]); GELU (tanh approximation, as GPT-2).

override WG_X: u32 = 16;
override WG_Y: u32 = 16;
override WG_Z: u32 = 1;
override HAS_BIAS: bool = false;
override GELU: bool = false;

// Per-invocation register block (TM x TN) and the depth of one staged slice.
const TM: u32 = 4u;
const TN: u32 = 4u;
const TK: u32 = 16u;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
// Bound (to any buffer) even when HAS_BIAS is false: the layout is the same for every variant.
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// aTile[r][kk] (WG_Y·TM rows x TK), bTile[kk][col] (TK x WG_X·TN).
var<workgroup> aTile: array<f32, WG_Y * TM * TK>;
var<workgroup> bTile: array<f32, TK * WG_X * TN>;

fn gelu(x: f32) -> f32 {
  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))); the clamp keeps tanh away from exp overflow.
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return 0.5 * x * (1.0 + tanh(clamp(u, -15.0, 15.0)));
}

// The epilogue for one output element in column `col`.
fn finish(v: f32, col: u32) -> f32 {
  var r = v;
  if (HAS_BIAS) {
    r += bias[col];
  }
  if (GELU) {
    r = gelu(r);
  }
  return r;
}

// c[row, col..col+4) = finish(v), for the columns inside the matrix.
fn storeRow(row: u32, col: u32, v: vec4<f32>) {
  let n = params.n;
  for (var j = 0u; j < TN; j++) {
    if (col + j < n) {
      c[row * n + col + j] = finish(v[j], col + j);
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) lindex: u32,
) {
  let m = params.m;
  let n = params.n;
  let k = params.k;
  let tileM = WG_Y * TM;
  let tileN = WG_X * TN;
  let threads = WG_X * WG_Y;
  let row0 = wid.y * tileM;
  let col0 = wid.x * tileN;
  // This invocation's block: rows r0..r0+TM, columns c0..c0+TN within the tile.
  let r0 = lid.y * TM;
  let c0 = lid.x * TN;
  // Invocations whose rows are all past m only help load the tiles.
  let computes = row0 + r0 < m;

  var acc: array<vec4<f32>, TM>;
  for (var k0 = 0u; k0 < k; k0 += TK) {
    for (var i = lindex; i < tileM * TK; i += threads) {
      let r = i / TK;
      let kk = i % TK;
      let gr = row0 + r;
      let gk = k0 + kk;
      var v = 0.0;
      if (gr < m && gk < k) {
        v = a[gr * k + gk];
      }
      aTile[i] = v;
    }
    for (var i = lindex; i < TK * tileN; i += threads) {
      let kk = i / tileN;
      let cc = i % tileN;
      let gk = k0 + kk;
      let gc = col0 + cc;
      var v = 0.0;
      if (gk < k && gc < n) {
        v = b[gk * n + gc];
      }
      bTile[i] = v;
    }
    workgroupBarrier();
    if (computes) {
      for (var kk = 0u; kk < TK; kk++) {
        let bo = kk * tileN + c0;
        let bv = vec4<f32>(bTile[bo], bTile[bo + 1u], bTile[bo + 2u], bTile[bo + 3u]);
        for (var i = 0u; i < TM; i++) {
          acc[i] = fma(vec4<f32>(aTile[(r0 + i) * TK + kk]), bv, acc[i]);
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < TM; i++) {
    let gr = row0 + r0 + i;
    if (gr < m) {
      storeRow(gr, col0 + c0, acc[i]);
    }
  }
}
