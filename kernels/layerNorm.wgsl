// LayerNorm over the last dimension (GPT-2: eps 1e-5, affine): one invocation per row, two passes
// (mean, then variance of the centred values) for accuracy, then the normalized, affine output.
// Barrier-free on purpose: on SwiftShader a workgroup reduction's barriers cost far more than the
// d-long loops (see matmul.wgsl); on GPUs a row of ≤ a few thousand floats is a short loop.

override WG_X: u32 = 64;
override WG_Y: u32 = 1;
override WG_Z: u32 = 1;

const EPS: f32 = 1e-5;

struct Params {
  rows: u32,
  cols: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  let cols = params.cols;
  if (row >= params.rows) {
    return;
  }
  let base = row * cols;
  var sum = 0.0;
  for (var c = 0u; c < cols; c++) {
    sum += x[base + c];
  }
  let mean = sum / f32(cols);
  var sq = 0.0;
  for (var c = 0u; c < cols; c++) {
    let d = x[base + c] - mean;
    sq = fma(d, d, sq);
  }
  let rstd = inverseSqrt(sq / f32(cols) + EPS);
  for (var c = 0u; c < cols; c++) {
    out[base + c] = (x[base + c] - mean) * rstd * gamma[c] + beta[c];
  }
}
