// Device-peak calibration, compute half (wgprof report's roofline). Each invocation runs `iterations`
// rounds of 8 vec4 FMAs on 4 independent accumulators: 64 FLOPs per round (8 FMAs x 4 lanes x 2),
// bound by the ALUs, not memory. The sum is written out so the compiler keeps the work.

override WG_X: u32 = 64;
override WG_Y: u32 = 1;
override WG_Z: u32 = 1;

struct Params {
  iterations: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> result: array<vec4<f32>>;

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let index = gid.y * groups.x * WG_X + gid.x;
  let seed = f32(index % 1024u) * 0.0009765625;
  var a0 = vec4<f32>(seed, seed + 0.125, seed + 0.25, seed + 0.375);
  var a1 = a0 + vec4<f32>(0.5);
  var a2 = a0 + vec4<f32>(1.0);
  var a3 = a0 + vec4<f32>(1.5);
  let m = vec4<f32>(0.5);
  let c = vec4<f32>(0.25);
  for (var i = 0u; i < params.iterations; i++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
  }
  result[index] = a0 + a1 + a2 + a3;
}
