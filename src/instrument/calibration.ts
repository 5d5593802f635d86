// Clock calibration pings: tiny submits — one empty compute pass writing two timestamps — with the CPU
// clock read right before the submit and right when the readback resolves. The GPU is otherwise idle
// for them or nearly so, so each brackets the GPU→CPU offset by little more than the submit and
// completion latencies (~30–100 µs on SwiftShader), where a workload submit's bracket also holds its
// whole run. A few at each window edge tighten the fit (./clock.ts intersects every bracket) and, being
// far apart in time, let it see drift. They carry no workload and record nothing but their sample.

import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import type { Method } from './patch.js';
import { destroyPair, type QuerySetPool, type ReadbackPool } from './queries.js';
import type { CaptureWindow } from './window.js';

const MAP_READ = 0x0001;
const PING_LABEL = 'wgprof.clock-ping';

/** One ping's bracket: raw ticks, CPU ns. */
export interface PingSample {
  cpuSubmitNs: number;
  cpuDoneNs: number;
  beginTick: bigint;
  endTick: bigint;
}

export class ClockPings {
  /** Set by detach(): no further ping is sent, and objects coming back are destroyed, not pooled. */
  detached = false;

  constructor(
    private readonly device: GPUDevice,
    private readonly deviceProto: Record<string, Method>,
    private readonly queueProto: Record<string, Method>,
    private readonly querySets: QuerySetPool,
    private readonly readbacks: ReadbackPool,
    private readonly clock: () => number,
  ) {}

  /**
   * Sends `count` pings one after another (each after the previous came back) and adds their samples to
   * the window; the window's collect() waits for them. `inside`: the timestamps are written inside the
   * pass (a device with only inside-pass timestamps cannot use timestampWrites).
   */
  send(window: CaptureWindow, count: number, inside: boolean): void {
    if (count <= 0) return;
    const run = (async () => {
      for (let i = 0; i < count && !this.detached; i++) {
        const sample = await this.ping(inside);
        if (sample) window.pings.push(sample);
      }
    })().catch((error: unknown) => {
      // Pings only tighten the fit: losing them loses no data (the workload's own submits still bracket
      // it), so a failure — typically the device destroyed before the window was collected — is logged, not reported.
      log.debug(
        `a clock calibration ping failed (${errorMessage(error) || (error instanceof Error ? error.name : 'no message')}); the clock fit uses the ` +
          `workload's submits alone.`,
      );
    });
    window.pending.add(run);
    void run.finally(() => window.pending.delete(run));
  }

  private async ping(inside: boolean): Promise<PingSample | undefined> {
    const set = this.querySets.acquire();
    const pair = this.readbacks.acquire(16);
    let mapped = false;
    try {
      const encoder = this.deviceProto['createCommandEncoder']!.call(this.device, { label: PING_LABEL }) as GPUCommandEncoder;
      const pass = inside
        ? encoder.beginComputePass({ label: PING_LABEL })
        : encoder.beginComputePass({ label: PING_LABEL, timestampWrites: { querySet: set, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
      if (inside) {
        const write = (pass as unknown as { writeTimestamp(set: GPUQuerySet, index: number): void }).writeTimestamp;
        write.call(pass, set, 0);
        write.call(pass, set, 1);
      }
      pass.end();
      encoder.resolveQuerySet(set, 0, 2, pair.resolve, 0);
      encoder.copyBufferToBuffer(pair.resolve, 0, pair.read, 0, 16);
      const commands = encoder.finish();
      const cpuSubmitNs = this.clock();
      this.queueProto['submit']!.call(this.device.queue, [commands]);
      await pair.read.mapAsync(MAP_READ, 0, 16);
      const cpuDoneNs = this.clock();
      mapped = true;
      const ticks = new BigUint64Array(pair.read.getMappedRange(0, 16).slice(0));
      pair.read.unmap();
      mapped = false;
      const [beginTick, endTick] = [ticks[0]!, ticks[1]!];
      // Zero or backwards ticks (Dawn's null backend): no sample.
      return beginTick !== 0n && endTick >= beginTick ? { cpuSubmitNs, cpuDoneNs, beginTick, endTick } : undefined;
    } finally {
      if (mapped) pair.read.unmap();
      if (this.detached) {
        set.destroy();
        destroyPair(pair);
      } else {
        this.querySets.release(set);
        this.readbacks.release(pair);
      }
    }
  }
}
