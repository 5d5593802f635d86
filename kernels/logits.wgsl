// LM head tied to the token embedding, only for the rows that are sampled:
//   logits[s, v] = Σ_c x[rowIndex[s], c] · wte[v, c]      (x·Wteᵀ with a row gather)
// Register-blocked like matmul.wgsl (barrier-free for the same reason): each invocation computes 4
// sampled rows x 4 vocabulary entries; a workgroup covers (WG_Y·4) rows x (WG_X·4) entries.

override WG_X: u32 = 64;
override WG_Y: u32 = 1;
override WG_Z: u32 = 1;

struct Params {
  rows: u32,
  vocabSize: u32,
  dModel: u32,
  tokens: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Row of x (a token index in the batch) for each sampled row.
@group(0) @binding(2) var<storage, read> rowIndex: array<u32>;
@group(0) @binding(3) var<storage, read> wte: array<f32>;
@group(0) @binding(4) var<storage, read_write> logits: array<f32>;

// Offset of the x row behind sampled row s (clamped to the last sampled row, then to the batch).
fn xRow(s: u32) -> u32 {
  // Row indices are validated on the CPU; min() keeps a bad buffer in bounds.
  return min(rowIndex[min(s, params.rows - 1u)], params.tokens - 1u) * params.dModel;
}

fn storeRow(s: u32, v0: u32, value: vec4<f32>) {
  if (s >= params.rows) {
    return;
  }
  let vocab = params.vocabSize;
  let o = s * vocab + v0;
  logits[o] = value.x;
  if (v0 + 1u < vocab) {
    logits[o + 1u] = value.y;
  }
  if (v0 + 2u < vocab) {
    logits[o + 2u] = value.z;
  }
  if (v0 + 3u < vocab) {
    logits[o + 3u] = value.w;
  }
}

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let vocab = params.vocabSize;
  let d = params.dModel;
  let v0 = gid.x * 4u;
  let s0 = gid.y * 4u;
  if (v0 >= vocab || s0 >= params.rows) {
    return;
  }
  let x0 = xRow(s0);
  let x1 = xRow(s0 + 1u);
  let x2 = xRow(s0 + 2u);
  let x3 = xRow(s0 + 3u);
  // Entries past the vocabulary read the last row of wte; they are never stored.
  let w0 = v0 * d;
  let w1 = min(v0 + 1u, vocab - 1u) * d;
  let w2 = min(v0 + 2u, vocab - 1u) * d;
  let w3 = min(v0 + 3u, vocab - 1u) * d;
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  for (var c = 0u; c < d; c++) {
    let wv = vec4<f32>(wte[w0 + c], wte[w1 + c], wte[w2 + c], wte[w3 + c]);
    acc0 = fma(vec4<f32>(x[x0 + c]), wv, acc0);
    acc1 = fma(vec4<f32>(x[x1 + c]), wv, acc1);
    acc2 = fma(vec4<f32>(x[x2 + c]), wv, acc2);
    acc3 = fma(vec4<f32>(x[x3 + c]), wv, acc3);
  }
  storeRow(s0, v0, acc0);
  storeRow(s0 + 1u, v0, acc1);
  storeRow(s0 + 2u, v0, acc2);
  storeRow(s0 + 3u, v0, acc3);
}
