// A kernel is a static WGSL file plus this plain-data descriptor (STYLE §1): how to dispatch it for a
// shape, and what it costs. Shared code never branches on a kernel's name.

import type { KernelCost } from '../src/capture/model.js';

export type { KernelCost } from '../src/capture/model.js';

export type Workgroups = [number, number, number];

export interface KernelDescriptor<Shape> {
  /** Registry key and trace/op name. */
  name: string;
  /** GPU object label: pipelines, shader modules and bind groups use it; the trace names the kernel by it. */
  label: string;
  /** The static WGSL source. */
  source: string;
  entryPoint: string;
  /** Workgroup size; the WGSL declares it with `override` constants of these names. */
  workgroupSize: Workgroups;
  /**
   * Pipeline-overridable constants besides the workgroup size, e.g. epilogue flags (`HAS_BIAS: 1`).
   * Runners pass these plus `WG_X`, `WG_Y`, `WG_Z` (from `workgroupSize`) when creating the pipeline, so
   * two descriptors can share one WGSL file and differ only in constants.
   */
  constants?: Readonly<Record<string, number>>;
  /** Workgroup counts for a shape. */
  dispatch(shape: Shape): Workgroups;
  /** Exact cost for a shape; absent when unknown (never report 0 for unknown). */
  cost?(shape: Shape): KernelCost;
  /** Tensor dims and dtypes of the inputs for a shape (trace `Input Dims` / `Input type` under record_shapes). */
  inputs?(shape: Shape): { dims: number[][]; types: string[] };
}

export function defineKernel<Shape>(descriptor: KernelDescriptor<Shape>): KernelDescriptor<Shape> {
  return Object.freeze(descriptor);
}

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}
