// Device-peak calibration, memory half (wgprof report's roofline): a straight vec4 copy, 32 bytes
// moved per invocation (16 read, 16 written), no arithmetic to speak of.

override WG_X: u32 = 256;
override WG_Y: u32 = 1;
override WG_Z: u32 = 1;

struct Params {
  count: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * WG_X + gid.x;
  if (i >= params.count) {
    return;
  }
  dst[i] = src[i];
}
