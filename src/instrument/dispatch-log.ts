// The dispatches of one capture window as the hot path records them: parallel columns (typed arrays
// for numbers, dense arrays for references), so a dispatch allocates no object of its own and a long
// window keeps no per-dispatch objects alive for the garbage collector to copy and promote. The hot
// path fills one reusable DispatchEntry and appends it (`push` copies its fields); when the window is
// collected, `record(i)` turns entry i into a DispatchRecord.

import type { DispatchRecord, KernelCost } from '../capture/model.js';
import { formatStack, type StackHolder } from './stack.js';
import type { QuerySlice } from './queries.js';

/** One dispatch as the hot path fills it in (one reused object per instrumentation, never kept). */
export interface DispatchEntry {
  /** `External id` and `correlation`. */
  id: number;
  kernel: string;
  /** The WebGPU call, e.g. 'dispatchWorkgroups'. */
  launch: string;
  opStartNs: number;
  launchStartNs: number;
  launchEndNs: number;
  workgroupsX: number;
  workgroupsY: number;
  workgroupsZ: number;
  /** Shared with the hint's descriptor or the pipeline info: copied when the record is built. */
  workgroupSize: readonly number[] | undefined;
  /** Workgroup memory the pipeline's entry point uses, bytes; undefined when unknown. */
  workgroupMemoryBytes: number | undefined;
  /** Shared with a bind group's sizes (never mutated): copied when the record is built. */
  boundBufferBytes: readonly number[] | undefined;
  /** Unformatted (formatted when the record is built). */
  stack: StackHolder | undefined;
  inputs: { dims: number[][]; types: string[] } | undefined;
  cost: KernelCost | undefined;
}

export function emptyDispatchEntry(): DispatchEntry {
  return {
    id: 0,
    kernel: '',
    launch: '',
    opStartNs: 0,
    launchStartNs: 0,
    launchEndNs: 0,
    workgroupsX: 0,
    workgroupsY: 0,
    workgroupsZ: 0,
    workgroupSize: undefined,
    workgroupMemoryBytes: undefined,
    boundBufferBytes: undefined,
    stack: undefined,
    inputs: undefined,
    cost: undefined,
  };
}

// Offsets of an entry's numbers in the `times` and `workgroups` columns.
const OP_START = 0;
const LAUNCH_START = 1;
const LAUNCH_END = 2;
const TIMES_PER_ENTRY = 3;
const COUNTS_PER_ENTRY = 3;

function grow<T extends Float64Array | Int32Array>(column: T, size: number): T {
  const next = new (column.constructor as new (n: number) => T)(size);
  next.set(column);
  return next;
}

export class DispatchLog {
  /** Entries held. */
  length = 0;
  private capacity: number;
  private ids: Float64Array;
  /** Per entry: opStartNs, launchStartNs, launchEndNs. */
  private times: Float64Array;
  /** Per entry: workgroup counts x, y, z. */
  private workgroups: Float64Array;
  /** Per entry: the begin query index of its GPU interval in `querySlices[i]` (the end is + 1). */
  private queryIndex: Int32Array;
  /** Per entry: the query set slice holding its GPU interval; undefined while untimed. */
  private readonly querySlices: (QuerySlice | undefined)[] = [];
  private readonly kernels: string[] = [];
  private readonly launches: string[] = [];
  private readonly workgroupSizes: (readonly number[] | undefined)[] = [];
  private readonly workgroupMemory: (number | undefined)[] = [];
  private readonly bound: (readonly number[] | undefined)[] = [];
  private readonly stacks: (StackHolder | undefined)[] = [];
  private readonly inputs: DispatchEntry['inputs'][] = [];
  private readonly costs: (KernelCost | undefined)[] = [];

  constructor(initialCapacity = 256) {
    this.capacity = initialCapacity;
    this.ids = new Float64Array(initialCapacity);
    this.times = new Float64Array(initialCapacity * TIMES_PER_ENTRY);
    this.workgroups = new Float64Array(initialCapacity * COUNTS_PER_ENTRY);
    this.queryIndex = new Int32Array(initialCapacity);
  }

  /** Appends a copy of `e`; returns its index. */
  push(e: DispatchEntry): number {
    const i = this.length;
    if (i === this.capacity) this.reserve(this.capacity * 2);
    this.ids[i] = e.id;
    const t = i * TIMES_PER_ENTRY;
    this.times[t + OP_START] = e.opStartNs;
    this.times[t + LAUNCH_START] = e.launchStartNs;
    this.times[t + LAUNCH_END] = e.launchEndNs;
    const c = i * COUNTS_PER_ENTRY;
    this.workgroups[c] = e.workgroupsX;
    this.workgroups[c + 1] = e.workgroupsY;
    this.workgroups[c + 2] = e.workgroupsZ;
    this.queryIndex[i] = 0;
    this.querySlices.push(undefined);
    this.kernels.push(e.kernel);
    this.launches.push(e.launch);
    this.workgroupSizes.push(e.workgroupSize);
    this.workgroupMemory.push(e.workgroupMemoryBytes);
    this.bound.push(e.boundBufferBytes);
    this.stacks.push(e.stack);
    this.inputs.push(e.inputs);
    this.costs.push(e.cost);
    this.length = i + 1;
    return i;
  }

  /** Gives entry `i` its GPU interval's query pair (begin index; the end is the next query). */
  setTiming(i: number, slice: QuerySlice, queryIndex: number): void {
    this.querySlices[i] = slice;
    this.queryIndex[i] = queryIndex;
  }

  /** Where entry i's begin tick lies in the readback of the submit that carried it (in 8-byte units); undefined while untimed. */
  tickIndex(i: number): number | undefined {
    const slice = this.querySlices[i];
    return slice === undefined ? undefined : slice.offset / 8 + this.queryIndex[i]!;
  }

  id(i: number): number {
    return this.ids[i]!;
  }

  /** The DispatchRecord of entry i: arrays copied, the stack formatted (at most `maxStackFrames` frames). */
  record(i: number, maxStackFrames: number): DispatchRecord {
    const id = this.ids[i]!;
    const t = i * TIMES_PER_ENTRY;
    const c = i * COUNTS_PER_ENTRY;
    const record: DispatchRecord = {
      externalId: id,
      correlation: id,
      kernel: this.kernels[i]!,
      launch: this.launches[i]!,
      opStartNs: this.times[t + OP_START]!,
      opEndNs: this.times[t + LAUNCH_END]!,
      launchStartNs: this.times[t + LAUNCH_START]!,
      launchEndNs: this.times[t + LAUNCH_END]!,
      workgroups: [this.workgroups[c]!, this.workgroups[c + 1]!, this.workgroups[c + 2]!],
    };
    const size = this.workgroupSizes[i];
    if (size) record.workgroupSize = [size[0] ?? 1, size[1] ?? 1, size[2] ?? 1];
    const workgroupMemoryBytes = this.workgroupMemory[i];
    if (workgroupMemoryBytes !== undefined) record.workgroupMemoryBytes = workgroupMemoryBytes;
    const bound = this.bound[i];
    if (bound && bound.length > 0) record.boundBufferBytes = bound.slice();
    const inputs = this.inputs[i];
    if (inputs) {
      record.inputDims = inputs.dims;
      record.inputTypes = inputs.types;
    }
    const cost = this.costs[i];
    if (cost !== undefined) record.cost = cost;
    const stack = this.stacks[i];
    if (stack !== undefined) record.stack = formatStack(stack, maxStackFrames);
    return record;
  }

  private reserve(capacity: number): void {
    this.ids = grow(this.ids, capacity);
    this.times = grow(this.times, capacity * TIMES_PER_ENTRY);
    this.workgroups = grow(this.workgroups, capacity * COUNTS_PER_ENTRY);
    this.queryIndex = grow(this.queryIndex, capacity);
    this.capacity = capacity;
  }
}
