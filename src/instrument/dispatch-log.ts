// The dispatches of a capture window as the hot path records them: parallel columns (typed arrays
// for numbers, dense arrays for references), so a dispatch allocates no object of its own and a
// long window keeps no per-dispatch objects alive for the garbage collector to copy and promote.
// flush() turns the entries into DispatchRecords (Instrumentation.buildRecord) and clears the log.
//
// Entries are addressed by a sequence number that keeps counting across flushes: an entry whose
// sequence number is below `base` was handed over by an earlier flush (encoders and submits may
// still name it; they skip it).

/** Numbers per entry in the times and counts columns. */
const TIMES = 3;
const COUNTS = 3;

function grow<T extends Float64Array | Int32Array>(column: T, size: number): T {
  const next = new (column.constructor as new (n: number) => T)(size);
  next.set(column);
  return next;
}

export class DispatchLog<Slice, Stack, Inputs, Cost> {
  /** Sequence number of the first entry held. */
  base = 0;
  /** Entries held. */
  length = 0;
  private capacity: number;

  /** Per entry: External id / correlation. */
  ids: Float64Array;
  /** Per entry: opStartNs, launchStartNs, launchEndNs. */
  times: Float64Array;
  /** Per entry: workgroup counts x, y, z. */
  counts: Float64Array;
  /** Per entry: begin query index of its GPU interval in `slices[i]` (the end is + 1). */
  queryIndex: Int32Array;
  readonly kernels: string[] = [];
  readonly launches: string[] = [];
  /** Shared with the hint's descriptor or the pipeline info: copy before handing out. */
  readonly workgroupSizes: (readonly number[] | undefined)[] = [];
  /** Shared with a bind group's sizes or a pass's snapshot (never mutated): copy before handing out. */
  readonly bound: (readonly number[] | undefined)[] = [];
  readonly stacks: (Stack | undefined)[] = [];
  /** The query set slice holding its GPU interval; undefined while untimed. */
  readonly slices: (Slice | undefined)[] = [];
  readonly inputs: (Inputs | undefined)[] = [];
  readonly costs: (Cost | undefined)[] = [];

  constructor(initialCapacity = 256) {
    this.capacity = initialCapacity;
    this.ids = new Float64Array(initialCapacity);
    this.times = new Float64Array(initialCapacity * TIMES);
    this.counts = new Float64Array(initialCapacity * COUNTS);
    this.queryIndex = new Int32Array(initialCapacity);
  }

  /** The sequence number the next entry gets. */
  get end(): number {
    return this.base + this.length;
  }

  /** Whether `seq` names an entry held now (not handed over by an earlier take). */
  holds(seq: number): boolean {
    return seq >= this.base && seq < this.base + this.length;
  }

  /** Appends an entry; returns its sequence number. */
  push(
    id: number,
    kernel: string,
    launch: string,
    opStartNs: number,
    launchStartNs: number,
    launchEndNs: number,
    x: number,
    y: number,
    z: number,
    workgroupSize: readonly number[] | undefined,
    bound: readonly number[] | undefined,
    stack: Stack | undefined,
    inputs: Inputs | undefined,
    cost: Cost | undefined,
  ): number {
    const i = this.length;
    if (i === this.capacity) this.reserve(this.capacity * 2);
    this.ids[i] = id;
    const t = i * TIMES;
    this.times[t] = opStartNs;
    this.times[t + 1] = launchStartNs;
    this.times[t + 2] = launchEndNs;
    const c = i * COUNTS;
    this.counts[c] = x;
    this.counts[c + 1] = y;
    this.counts[c + 2] = z;
    this.queryIndex[i] = 0;
    this.kernels.push(kernel);
    this.launches.push(launch);
    this.workgroupSizes.push(workgroupSize);
    this.bound.push(bound);
    this.stacks.push(stack);
    this.slices.push(undefined);
    this.inputs.push(inputs);
    this.costs.push(cost);
    this.length = i + 1;
    return this.base + i;
  }

  /** Gives entry `seq` its GPU interval's query pair. */
  setTiming(seq: number, slice: Slice, queryIndex: number): void {
    const i = seq - this.base;
    this.slices[i] = slice;
    this.queryIndex[i] = queryIndex;
  }

  /** Forgets every entry (their sequence numbers stay used); keeps the column buffers for reuse. */
  clear(): void {
    this.base += this.length;
    this.length = 0;
    // Drop the references so nothing of the window stays alive.
    this.kernels.length = 0;
    this.launches.length = 0;
    this.workgroupSizes.length = 0;
    this.bound.length = 0;
    this.stacks.length = 0;
    this.slices.length = 0;
    this.inputs.length = 0;
    this.costs.length = 0;
  }

  private reserve(capacity: number): void {
    this.ids = grow(this.ids, capacity);
    this.times = grow(this.times, capacity * TIMES);
    this.counts = grow(this.counts, capacity * COUNTS);
    this.queryIndex = grow(this.queryIndex, capacity);
    this.capacity = capacity;
  }
}
