// KV-cache append: copies each token's key and value (columns d..2d and 2d..3d of the fused qkv
// projection [tokens, 3d]) into the layer's caches [slots][contextLength][d] at (slot, position).

override WG_X: u32 = 64;
override WG_Y: u32 = 1;
override WG_Z: u32 = 1;

struct Params {
  tokens: u32,
  dModel: u32,
  contextLength: u32,
  maxSlots: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Per-token metadata: (token id, KV slot, position, unused).
@group(0) @binding(1) var<storage, read> tokenMeta: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> qkv: array<f32>;
@group(0) @binding(3) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(4) var<storage, read_write> vCache: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let t = gid.y;
  let d = params.dModel;
  if (c >= d || t >= params.tokens) {
    return;
  }
  let m = tokenMeta[t];
  // The runner validates slots and positions; this guard keeps a bad buffer from writing out of bounds.
  if (m.y >= params.maxSlots || m.z >= params.contextLength) {
    return;
  }
  let dst = (m.y * params.contextLength + m.z) * d + c;
  let src = t * 3u * d + c;
  kCache[dst] = qkv[src + d];
  vCache[dst] = qkv[src + 2u * d];
}
