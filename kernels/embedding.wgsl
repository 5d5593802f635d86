// Token + position embedding: out[t, c] = wte[token[t], c] + wpe[position[t], c].
// One invocation per output element; workgroups tile (columns, tokens).

override WG_X: u32 = 64;
override WG_Y: u32 = 1;
override WG_Z: u32 = 1;

struct Params {
  tokens: u32,
  dModel: u32,
  vocabSize: u32,
  contextLength: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Per-token metadata: (token id, KV slot, position, unused).
@group(0) @binding(1) var<storage, read> tokenMeta: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> wte: array<f32>;
@group(0) @binding(3) var<storage, read> wpe: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let t = gid.y;
  if (c >= params.dModel || t >= params.tokens) {
    return;
  }
  let m = tokenMeta[t];
  // Out-of-range ids are rejected on the CPU; clamping keeps a bad buffer from reading out of bounds.
  let token = min(m.x, params.vocabSize - 1u);
  let position = min(m.z, params.contextLength - 1u);
  out[t * params.dModel + c] = wte[token * params.dModel + c] + wpe[position * params.dModel + c];
}
