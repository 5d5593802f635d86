// Residual connection, in place: x[t, c] += y[t, c]. Workgroups tile (columns, rows) so any row
// count up to the per-dimension dispatch limit works.

override WG_X: u32 = 64;
override WG_Y: u32 = 1;
override WG_Z: u32 = 1;

struct Params {
  rows: u32,
  cols: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let r = gid.y;
  if (c >= params.cols || r >= params.rows) {
    return;
  }
  let i = r * params.cols + c;
  x[i] = x[i] + y[i];
}
