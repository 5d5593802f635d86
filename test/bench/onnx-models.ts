// ONNX test models built in JS with onnx-proto 8.0.1 (static protobufjs code): irVersion 8, opset 17,
// float initializers as little-endian `rawData` (the encoding ORT reads fastest and the notes verified on
// both WebGPU EPs). No model files are checked in: a model is a few lines of graph plus its weights.

import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;

/** A dimension: a fixed size, or a symbolic name for a dynamic one (e.g. 'batch'). */
export type OnnxDim = number | string;

/** A float32 graph input/output declaration. */
export function floatValueInfo(name: string, dims: readonly OnnxDim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** A float32 initializer (weight) stored as raw little-endian bytes. */
export function floatInitializer(name: string, dims: readonly number[], data: Float32Array): onnxProto.onnx.ITensorProto {
  const elements = dims.reduce((a, b) => a * b, 1);
  if (data.length !== elements) {
    throw new Error(`initializer "${name}": dims [${dims.join(', ')}] hold ${elements} floats but ${data.length} were given; pass data of exactly that length`);
  }
  // A copy, so that a view into a larger or shared buffer is not encoded whole.
  const rawData = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return { name, dims: [...dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData };
}

/** Encodes a graph as a model (irVersion 8, default-domain opset 17). */
export function encodeModel(graph: onnxProto.onnx.IGraphProto, producerName = 'wgprof-bench'): Uint8Array {
  const model: onnxProto.onnx.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName,
    graph,
  };
  const error = onnx.ModelProto.verify(model);
  if (error) throw new Error(`invalid ONNX model "${graph.name ?? ''}": ${error}`);
  return onnx.ModelProto.encode(model).finish();
}

export interface MatMulShape {
  /** Rows of A and C. */
  m: number;
  /** Columns of A, rows of B. */
  k: number;
  /** Columns of B and C. */
  n: number;
}

export interface MatMulModelOptions {
  /**
   * B (K×N, row-major). Given: B is an initializer (a weight, uploaded once at session creation, as a model's
   * weights are). Omitted: B is a second graph input named 'B'.
   */
  b?: Float32Array;
}

/**
 * One MatMul node: C[M,N] = A[M,K] · B[K,N], f32, row-major (ONNX's layout, the same math as our matmul
 * kernel; no transposes). Input 'A', output 'C'.
 */
export function buildMatMulModel(shape: MatMulShape, options: MatMulModelOptions = {}): Uint8Array {
  const { m, k, n } = shape;
  for (const [field, value] of Object.entries(shape)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`MatMul shape field "${field}" must be a positive integer; got ${String(value)}`);
  }
  const inputs = [floatValueInfo('A', [m, k])];
  const initializer: onnxProto.onnx.ITensorProto[] = [];
  if (options.b) initializer.push(floatInitializer('B', [k, n], options.b));
  else inputs.push(floatValueInfo('B', [k, n]));
  return encodeModel({
    name: `matmul_${m}x${k}x${n}`,
    node: [{ name: 'matmul', opType: 'MatMul', input: ['A', 'B'], output: ['C'] }],
    input: inputs,
    output: [floatValueInfo('C', [m, n])],
    initializer,
  });
}
