import { ceilDiv, defineKernel } from './define.js';
import source from './peakBandwidth.wgsl';

export interface PeakBandwidthShape {
  /** vec4<f32> elements copied. */
  count: number;
}

const WG = 256;
const MAX_X = 65535;

/** Memory-bound calibration kernel: copies `count` vec4s (32 bytes moved per element). */
export const peakBandwidth = defineKernel<PeakBandwidthShape>({
  name: 'peakBandwidth',
  label: 'peakBandwidth',
  source,
  entryPoint: 'main',
  workgroupSize: [WG, 1, 1],
  dispatch: ({ count }) => {
    const groups = ceilDiv(count, WG);
    return [Math.min(groups, MAX_X), ceilDiv(groups, MAX_X), 1];
  },
  cost: ({ count }) => ({ flops: 0, bytesRead: 16 * count, bytesWritten: 16 * count }),
});

export function peakBandwidthParams(shape: PeakBandwidthShape): Uint32Array<ArrayBuffer> {
  return Uint32Array.of(shape.count, 0, 0, 0);
}
