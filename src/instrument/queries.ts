// Pooled timestamp query sets and readback buffers (STYLE §6: pooled query sets, one resolve per
// submit, async map). Created through the device's prototype methods, so the instrumentation's own
// objects never show up in the workload's memory records, and labelled `wgprof.*` (STYLE §9).

/** Timestamp queries per pooled set (128 begin/end pairs). */
export const QUERIES_PER_SET = 256;
/** resolveQuerySet's destination offset must be a multiple of 256. */
export const RESOLVE_ALIGN = 256;
const MIN_READBACK_BYTES = 4096;

const BUFFER_USAGE = { MAP_READ: 0x0001, COPY_SRC: 0x0004, COPY_DST: 0x0008, QUERY_RESOLVE: 0x0200 } as const;

/** The part of one pooled query set an encoder uses: queries [0, used), resolved at `offset` in its submit's readback. */
export interface QuerySlice {
  set: GPUQuerySet;
  used: number;
  /** Byte offset of its ticks in the readback of the submit that carried it (set at submit). */
  offset: number;
}

/** The query sets one command encoder draws begin/end pairs from (one slice after another). */
export class EncoderQueries {
  readonly slices: QuerySlice[] = [];
  /** The slice the last pair came from. */
  current: QuerySlice | undefined = undefined;

  constructor(private readonly pool: QuerySetPool) {}

  /** A begin/end pair in `current` (a new slice when it is full); returns the begin index. */
  allocPair(): number {
    return this.alloc(2);
  }

  /** One query in `current` (a new slice when it is full); returns its index. */
  allocOne(): number {
    return this.alloc(1);
  }

  private alloc(count: number): number {
    let slice = this.current;
    if (slice === undefined || slice.used + count > this.pool.queriesPerSet) {
      slice = { set: this.pool.acquire(), used: 0, offset: 0 };
      this.slices.push(slice);
      this.current = slice;
    }
    const index = slice.used;
    slice.used += count;
    return index;
  }
}

export function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

/** The device methods the pools create objects with (the unwrapped originals). */
export interface PoolFactory {
  createQuerySet(descriptor: GPUQuerySetDescriptor): GPUQuerySet;
  createBuffer(descriptor: GPUBufferDescriptor): GPUBuffer;
}

export class QuerySetPool {
  private readonly idle: GPUQuerySet[] = [];
  /** Query sets created since construction (tests assert none outside the capture window). */
  created = 0;

  constructor(
    private readonly factory: PoolFactory,
    readonly queriesPerSet = QUERIES_PER_SET,
  ) {}

  acquire(): GPUQuerySet {
    const reused = this.idle.pop();
    if (reused) return reused;
    this.created++;
    return this.factory.createQuerySet({ label: 'wgprof.timestamps', type: 'timestamp', count: this.queriesPerSet });
  }

  release(set: GPUQuerySet): void {
    this.idle.push(set);
  }

  /** Destroys the idle sets (sets still in use are destroyed by whoever releases them after detach). */
  destroyIdle(): void {
    for (const set of this.idle.splice(0)) set.destroy();
  }
}

/** A resolve target and the mappable copy of it. */
export interface ReadbackPair {
  bytes: number;
  resolve: GPUBuffer;
  read: GPUBuffer;
}

export class ReadbackPool {
  private readonly idle = new Map<number, ReadbackPair[]>();
  created = 0;

  constructor(private readonly factory: PoolFactory) {}

  /** A pair of at least `bytes` (rounded up to a power of two so pairs are reused across submits). */
  acquire(bytes: number): ReadbackPair {
    let size = MIN_READBACK_BYTES;
    while (size < bytes) size *= 2;
    const reused = this.idle.get(size)?.pop();
    if (reused) return reused;
    this.created++;
    return {
      bytes: size,
      // COPY_DST: the per-submit marker is written into it with queue.writeBuffer.
      resolve: this.factory.createBuffer({
        label: 'wgprof.resolve',
        size,
        usage: BUFFER_USAGE.QUERY_RESOLVE | BUFFER_USAGE.COPY_SRC | BUFFER_USAGE.COPY_DST,
      }),
      read: this.factory.createBuffer({ label: 'wgprof.readback', size, usage: BUFFER_USAGE.MAP_READ | BUFFER_USAGE.COPY_DST }),
    };
  }

  release(pair: ReadbackPair): void {
    const list = this.idle.get(pair.bytes);
    if (list) list.push(pair);
    else this.idle.set(pair.bytes, [pair]);
  }

  destroyIdle(): void {
    for (const list of this.idle.values()) for (const pair of list.splice(0)) destroyPair(pair);
    this.idle.clear();
  }
}

export function destroyPair(pair: ReadbackPair): void {
  pair.resolve.destroy();
  pair.read.destroy();
}
