// The side channel by which code that knows what it dispatches (our engine's kernel runner, the ORT
// adapter) tells an attached profiler the kernel descriptor and shape of the *next* dispatch on a
// device. When no profiler captures on that device this is one WeakMap lookup: near-zero cost.

import type { KernelDescriptor } from '../../kernels/define.js';

export interface DispatchHint {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  kernel: KernelDescriptor<any>;
  shape: unknown;
}

/** Receives a hint (kernel and shape apart: no object is made per dispatch). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type HintReceiver = (kernel: KernelDescriptor<any>, shape: unknown) => void;

/** Per device: the receiver installed by an attached, capturing instrumentation. */
const receivers = new WeakMap<GPUDevice, HintReceiver>();

/** Called by the dispatching code right before `dispatchWorkgroups`. */
export function noteDispatch<Shape>(device: GPUDevice, kernel: KernelDescriptor<Shape>, shape: Shape): void {
  const receiver = receivers.get(device);
  if (receiver) receiver(kernel, shape);
}

/** Instrumentation only: install (or with `undefined`, remove) the receiver for a device. */
export function setHintReceiver(device: GPUDevice, receiver: HintReceiver | undefined): void {
  if (receiver) receivers.set(device, receiver);
  else receivers.delete(device);
}
