// Sampling on the GPU, one invocation per sampled row of logits [rows, vocab]:
//   temperature 0 (or topK 1): argmax, ties to the lowest index;
//   otherwise: keep the topK best-ranked logits (all when topK is 0 or ≥ vocab; "rank" = larger value
//   first, then lower index), weight them w_i = exp((logit_i - max) / temperature), and pick the first
//   index i (in index order) whose running sum of weights exceeds random · Σw (the last kept index
//   with positive weight when rounding leaves none). Deterministic given `random` ∈ [0, 1).
// The topK-th ranked logit bounds the kept set. It comes from one pass with a sorted list of the best
// topK (topK ≤ TOPK_LIST), else from topK passes of "best ranked after the previous one".
// Barrier-free on purpose (see matmul.wgsl). A row with no valid (non-NaN) logit yields NONE, which the
// runner rejects.

override WG_X: u32 = 64;
override WG_Y: u32 = 1;
override WG_Z: u32 = 1;

const NONE: u32 = 0xffffffffu;
const TOPK_LIST: u32 = 64u;

struct Params {
  rows: u32,
  vocabSize: u32,
  _pad0: u32,
  _pad1: u32,
}

struct RowSampling {
  temperature: f32,
  topK: u32,
  random: f32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> sampling: array<RowSampling>;
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>;

// Whether (v, i) ranks strictly before (w, j): larger value first, then lower index.
fn ranksBefore(v: f32, i: u32, w: f32, j: u32) -> bool {
  return v > w || (v == w && i < j);
}

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= params.rows) {
    return;
  }
  let vocab = params.vocabSize;
  let base = row * vocab;
  let rs = sampling[row];

  // Argmax; NaN never compares greater, and the first maximum wins ties.
  var top = NONE;
  var topValue = 0.0;
  for (var i = 0u; i < vocab; i++) {
    let v = logits[base + i];
    if (v == v && (top == NONE || v > topValue)) {
      top = i;
      topValue = v;
    }
  }
  if (top == NONE || rs.temperature <= 0.0 || rs.topK == 1u) {
    tokens[row] = top;
    return;
  }

  let keepAll = rs.topK == 0u || rs.topK >= vocab;
  var kthValue = topValue;
  var kthIndex = top;
  if (!keepAll && rs.topK <= TOPK_LIST) {
    // One pass keeping the best topK, sorted by rank; the list's last entry is the bound.
    var listValue: array<f32, TOPK_LIST>;
    var listIndex: array<u32, TOPK_LIST>;
    var count = 0u;
    for (var i = 0u; i < vocab; i++) {
      let v = logits[base + i];
      if (v != v) {
        continue;
      }
      if (count < rs.topK || ranksBefore(v, i, listValue[count - 1u], listIndex[count - 1u])) {
        // A full list drops its last entry; then shift worse-ranked entries down to make room.
        var p = min(count, rs.topK - 1u);
        while (p > 0u && ranksBefore(v, i, listValue[p - 1u], listIndex[p - 1u])) {
          listValue[p] = listValue[p - 1u];
          listIndex[p] = listIndex[p - 1u];
          p--;
        }
        listValue[p] = v;
        listIndex[p] = i;
        count = min(count + 1u, rs.topK);
      }
    }
    kthValue = listValue[count - 1u];
    kthIndex = listIndex[count - 1u];
  } else if (!keepAll) {
    for (var r = 1u; r < rs.topK; r++) {
      var next = NONE;
      var nextValue = 0.0;
      for (var i = 0u; i < vocab; i++) {
        let v = logits[base + i];
        if (v == v && ranksBefore(kthValue, kthIndex, v, i) && (next == NONE || ranksBefore(v, i, nextValue, next))) {
          next = i;
          nextValue = v;
        }
      }
      if (next == NONE) {
        break;
      }
      kthValue = nextValue;
      kthIndex = next;
    }
  }

  var total = 0.0;
  for (var i = 0u; i < vocab; i++) {
    let v = logits[base + i];
    if (v == v && (keepAll || !ranksBefore(kthValue, kthIndex, v, i))) {
      total += exp((v - topValue) / rs.temperature);
    }
  }
  let goal = rs.random * total;
  var cum = 0.0;
  var chosen = NONE;
  var lastPositive = top;
  for (var i = 0u; i < vocab; i++) {
    let v = logits[base + i];
    if (v == v && (keepAll || !ranksBefore(kthValue, kthIndex, v, i))) {
      let w = exp((v - topValue) / rs.temperature);
      if (w > 0.0) {
        lastPositive = i;
      }
      cum += w;
      if (cum > goal) {
        chosen = i;
        break;
      }
    }
  }
  tokens[row] = select(lastPositive, chosen, chosen != NONE);
}
