// Causal multi-head attention over the KV cache, for a batch that mixes prefill and decode tokens of
// requests with different lengths. One invocation per (token, head): token t (slot s, position p)
// attends to cache positions 0..p of slot s, which kvAppend has already filled for this step. One
// pass over the keys with an online softmax (running max and sum, rescaling the accumulator when the
// max grows), so any context length works. Scores use q·k / √headDim.
// Barrier-free on purpose (see matmul.wgsl: barriers are very slow on SwiftShader). Rows are read as
// vec4, so the head dimension must be a multiple of 4 (the runner checks) and at most 4·MAX_HEAD_VEC4.

override WG_X: u32 = 64;
override WG_Y: u32 = 1;
override WG_Z: u32 = 1;

const MAX_HEAD_VEC4: u32 = 64u;
// Start value of the running max: below any finite score, and exp(it - score) is 0.
const LOWEST: f32 = -3.0e38;

struct Params {
  tokens: u32,
  dModel: u32,
  nHeads: u32,
  contextLength: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Per-token metadata: (token id, KV slot, position, unused).
@group(0) @binding(1) var<storage, read> tokenMeta: array<vec4<u32>>;
// Fused projection [tokens, 3d]: the query is columns 0..d.
@group(0) @binding(2) var<storage, read> qkv: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> kCache: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> vCache: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let nHeads = params.nHeads;
  let index = gid.x;
  if (index >= params.tokens * nHeads) {
    return;
  }
  let t = index / nHeads;
  let h = index % nHeads;
  // Widths in vec4 units.
  let d4 = params.dModel / 4u;
  let hd4 = min(d4 / nHeads, MAX_HEAD_VEC4);
  let ctx = params.contextLength;
  let m = tokenMeta[t];
  let keys = min(m.z, ctx - 1u) + 1u;
  let rowBase = m.y * ctx;
  let headOffset = h * hd4;

  let scale = inverseSqrt(f32(4u * hd4));
  var q: array<vec4<f32>, MAX_HEAD_VEC4>;
  var acc: array<vec4<f32>, MAX_HEAD_VEC4>;
  let qo = t * 3u * d4 + headOffset;
  for (var i = 0u; i < hd4; i++) {
    q[i] = qkv[qo + i] * scale;
  }
  var runMax = LOWEST;
  var runSum = 0.0;
  for (var j = 0u; j < keys; j++) {
    let ko = (rowBase + j) * d4 + headOffset;
    var s = 0.0;
    for (var i = 0u; i < hd4; i++) {
      s += dot(q[i], kCache[ko + i]);
    }
    if (s > runMax) {
      let correction = exp(runMax - s);
      runSum *= correction;
      for (var i = 0u; i < hd4; i++) {
        acc[i] *= correction;
      }
      runMax = s;
    }
    let p = exp(s - runMax);
    runSum += p;
    for (var i = 0u; i < hd4; i++) {
      acc[i] = fma(vec4<f32>(p), vCache[ko + i], acc[i]);
    }
  }
  let oo = t * d4 + headOffset;
  for (var i = 0u; i < hd4; i++) {
    out[oo + i] = acc[i] / runSum;
  }
}
