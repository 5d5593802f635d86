// FLOP and byte estimates of ONNX ops from their type and tensor shapes (what ORT's own profiling
// reports per node). Unknown stays unknown: an op type not listed here, or shapes that do not fit the
// op, give `undefined`, never 0 (STYLE §2).
//
// Conventions (torch's profiler counts the same way for matmul/conv): a multiply-add is 2 FLOPs;
// elementwise ops count FLOPs per output element (below); bytes are the sizes of the inputs read and
// the outputs written once (no cache model).

import type { KernelCost } from '../capture/model.js';

export interface TensorShape {
  dims: readonly number[];
  /** ONNX element type as ORT names it: 'float32' / 'float', 'float16', 'int64', ... */
  dataType: string;
}

const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  float32: 4,
  float: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  double: 8,
  int8: 1,
  uint8: 1,
  bool: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  int4: 0.5,
  uint4: 0.5,
};

/** FLOPs per output element of elementwise ops (exp/log/erf-based activations count their main steps). */
const ELEMENTWISE_FLOPS: Readonly<Record<string, number>> = {
  Add: 1,
  Sub: 1,
  Mul: 1,
  Div: 1,
  Pow: 1,
  Max: 1,
  Min: 1,
  Mod: 1,
  PRelu: 2,
  Where: 1,
  Abs: 1,
  Neg: 1,
  Relu: 1,
  LeakyRelu: 2,
  Clip: 2,
  Sqrt: 1,
  Reciprocal: 1,
  Exp: 1,
  Log: 1,
  Floor: 1,
  Ceil: 1,
  Round: 1,
  Sign: 1,
  Sin: 1,
  Cos: 1,
  Tanh: 1,
  Erf: 1,
  Not: 1,
  Equal: 1,
  Less: 1,
  Greater: 1,
  LessOrEqual: 1,
  GreaterOrEqual: 1,
  And: 1,
  Or: 1,
  Xor: 1,
  Sigmoid: 4,
  HardSigmoid: 3,
  HardSwish: 4,
  Elu: 3,
  Selu: 4,
  Softplus: 3,
  Softsign: 3,
  ThresholdedRelu: 1,
  Gelu: 8,
  FastGelu: 8,
  BiasGelu: 9,
  QuickGelu: 5,
};

/** FLOPs per element of normalizations and softmax-like ops (mean, variance, scale, shift / max, exp, sum, divide). */
const NORMALIZATION_FLOPS: Readonly<Record<string, number>> = {
  Softmax: 5,
  LogSoftmax: 5,
  BatchNormalization: 2,
  InstanceNormalization: 7,
  LayerNormalization: 7,
  SimplifiedLayerNormalization: 5,
  SkipLayerNormalization: 8,
  SkipSimplifiedLayerNormalization: 6,
  GroupNormalization: 7,
  RMSNormalization: 5,
};

/** Ops that move or reshape data: no arithmetic, but memory traffic (FLOPs 0 is then the known answer). */
const DATA_MOVEMENT = new Set([
  'Transpose',
  'Concat',
  'Split',
  'Slice',
  'Gather',
  'GatherElements',
  'Expand',
  'Tile',
  'Pad',
  'Reshape',
  'Flatten',
  'Squeeze',
  'Unsqueeze',
  'Identity',
  'Resize',
  'Upsample',
  'DepthToSpace',
  'SpaceToDepth',
  'Cast',
]);

function count(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

function bytesOf(shapes: readonly TensorShape[]): number | undefined {
  let total = 0;
  for (const s of shapes) {
    const size = ELEMENT_BYTES[s.dataType];
    if (size === undefined || s.dims.some((d) => !Number.isFinite(d) || d < 0)) return undefined;
    total += count(s.dims) * size;
  }
  return total;
}

function validDims(dims: readonly number[] | undefined): dims is readonly number[] {
  return dims !== undefined && dims.every((d) => Number.isInteger(d) && d >= 0);
}

/** FLOPs of one op, or undefined when the op or its shapes are not understood. */
export function opFlops(
  opType: string,
  inputs: readonly TensorShape[],
  outputs: readonly TensorShape[],
  attributes: { transA?: boolean } = {},
): number | undefined {
  const in0 = inputs[0]?.dims;
  const in1 = inputs[1]?.dims;
  const out0 = outputs[0]?.dims;
  if (!validDims(out0)) return undefined;
  const outElems = count(out0);
  switch (opType) {
    case 'MatMul':
    case 'FusedMatMul':
    case 'MatMulNBits': {
      // out [..., M, N] = A [..., M, K] · B [..., K, N]
      if (!validDims(in0) || in0.length < 1) return undefined;
      return 2 * outElems * in0[in0.length - 1]!;
    }
    case 'Gemm': {
      // out [M, N] = A [M, K] (or Aᵀ) · B + C
      if (!validDims(in0) || in0.length !== 2) return undefined;
      const k = attributes.transA ? in0[0]! : in0[1]!;
      return 2 * outElems * k + (inputs[2] ? outElems : 0);
    }
    case 'Conv':
    case 'FusedConv': {
      // out [N, Cout, *spatial]; W [Cout, Cin/group, *kernel]: each output element is a dot of Cin/group·kernel.
      if (!validDims(in1) || in1.length < 3) return undefined;
      return 2 * outElems * count(in1.slice(1)) + (inputs[2] ? outElems : 0);
    }
    case 'ConvTranspose': {
      // X [N, Cin, *spatial]; W [Cin, Cout/group, *kernel]: every input element scatters into Cout/group·kernel outputs.
      if (!validDims(in0) || !validDims(in1) || in1.length < 3) return undefined;
      return 2 * count(in0) * count(in1.slice(1)) + (inputs[2] ? outElems : 0);
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
      return validDims(in0) ? count(in0) : undefined;
  }
  const elementwise = ELEMENTWISE_FLOPS[opType];
  if (elementwise !== undefined) return elementwise * outElems;
  const norm = NORMALIZATION_FLOPS[opType];
  if (norm !== undefined) return norm * outElems;
  if (DATA_MOVEMENT.has(opType)) return 0;
  return undefined;
}

/** The op's cost (FLOPs and bytes), or undefined when either is unknown. */
export function opCost(
  opType: string,
  inputs: readonly TensorShape[],
  outputs: readonly TensorShape[],
  attributes: { transA?: boolean } = {},
): KernelCost | undefined {
  const flops = opFlops(opType, inputs, outputs, attributes);
  const bytesRead = bytesOf(inputs);
  const bytesWritten = bytesOf(outputs);
  if (flops === undefined || bytesRead === undefined || bytesWritten === undefined) return undefined;
  return { flops, bytesRead, bytesWritten };
}

/**
 * Shapes from ORT's own profile `Node` event args (`input_type_shape: [{"float": [1, 3, 48, 192]}, ...]`).
 * Entries that are not one `{type: dims}` pair are dropped with the rest (undefined).
 */
export function shapesFromProfileArg(value: unknown): TensorShape[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const shapes: TensorShape[] = [];
  for (const entry of value) {
    if (entry === null || typeof entry !== 'object') return undefined;
    const pairs = Object.entries(entry as Record<string, unknown>);
    if (pairs.length !== 1) return undefined;
    const [dataType, dims] = pairs[0]!;
    if (!Array.isArray(dims) || !dims.every((d) => typeof d === 'number')) return undefined;
    shapes.push({ dataType, dims: dims as number[] });
  }
  return shapes;
}
