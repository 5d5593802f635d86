// The device's memory ledger (with_memory): createBuffer / createQuerySet / createTexture and their
// destroy() feed a MemoryTracker (pseudo addresses, running totals, per-step peaks, `[memory]` records
// inside the window). Each tracked object gets one own `destroy` (shared by all, no closure per
// object) and a WeakRef; objects garbage-collected without destroy() are freed through a
// FinalizationRegistry (late). device.destroy() frees everything. detach() removes our own `destroy`s.

import type { MemoryRecord } from '../capture/model.js';
import { log } from '../util/log.js';
import { MemoryTracker, textureBytes, type MemoryKind } from './memory.js';
import type { OwnPatch } from './patch.js';

type Tracked = GPUBuffer | GPUQuerySet | GPUTexture;

export class MemoryLedger {
  private readonly tracker: MemoryTracker;
  private readonly addresses = new WeakMap<object, number>();
  private readonly live = new Map<number, WeakRef<object>>();
  private readonly finalizer: FinalizationRegistry<number> | undefined;

  constructor(
    baselineBytes: number,
    private readonly clock: () => number,
    /** Whether allocations and frees now fall inside the capture window (and are recorded). */
    private readonly recording: () => boolean,
  ) {
    this.tracker = new MemoryTracker(baselineBytes);
    this.finalizer =
      typeof FinalizationRegistry === 'function'
        ? new FinalizationRegistry<number>((addr) => {
            if (this.live.delete(addr)) this.tracker.free(addr, this.clock(), this.recording());
          })
        : undefined;
  }

  get allocatedBytes(): number {
    return this.tracker.allocatedBytes;
  }

  /** Peak allocated bytes since the previous call; starts the next step at the current total. */
  markStep(): number {
    return this.tracker.markStep();
  }

  /** `[memory]` records held for the open window. */
  get pendingRecords(): number {
    return this.tracker.pendingRecords;
  }

  /** The `[memory]` records since the previous call. */
  takeRecords(): MemoryRecord[] {
    return this.tracker.takeRecords();
  }

  install(patch: OwnPatch<GPUDevice>): void {
    const ledger = this;
    patch.define(
      'createBuffer',
      (original) =>
        function (this: GPUDevice, desc: GPUBufferDescriptor) {
          const buffer = original().apply(this, arguments) as GPUBuffer;
          ledger.track(buffer, 'buffer', buffer.size, desc.label);
          return buffer;
        },
    );
    patch.define(
      'createQuerySet',
      (original) =>
        function (this: GPUDevice, desc: GPUQuerySetDescriptor) {
          const set = original().apply(this, arguments) as GPUQuerySet;
          // Every query type stores 8 bytes per query (timestamps: u64 ticks; occlusion: u64 counts).
          ledger.track(set, 'querySet', desc.count * 8, desc.label);
          return set;
        },
    );
    patch.define(
      'createTexture',
      (original) =>
        function (this: GPUDevice, desc: GPUTextureDescriptor) {
          const texture = original().apply(this, arguments) as GPUTexture;
          const bytes = textureBytes(desc);
          if (bytes !== undefined) ledger.track(texture, 'texture', bytes, desc.label);
          else
            log.warnOnce(
              `instrument.texture-format.${desc.format}`,
              `memory: texture format "${desc.format}" has no known size; its textures are not counted.`,
            );
          return texture;
        },
    );
    patch.define(
      'destroy',
      (original) =>
        function (this: GPUDevice) {
          // Destroying the device frees everything it owns.
          ledger.tracker.freeAll(ledger.clock(), ledger.recording());
          ledger.live.clear();
          return original().apply(this, arguments);
        },
    );
  }

  /** Removes our own `destroy` from every live tracked object. */
  detach(): void {
    for (const ref of this.live.values()) {
      const obj = ref.deref();
      if (!obj) continue;
      if (Object.prototype.hasOwnProperty.call(obj, 'destroy')) delete (obj as { destroy?: unknown }).destroy;
      this.finalizer?.unregister(obj);
    }
    this.live.clear();
  }

  private track(obj: Tracked, kind: MemoryKind, bytes: number, label: string | undefined): void {
    const addr = this.tracker.alloc(kind, bytes, label || undefined, this.clock(), this.recording());
    this.addresses.set(obj, addr);
    this.live.set(addr, new WeakRef(obj));
    this.finalizer?.register(obj, addr, obj);
    Object.defineProperty(obj, 'destroy', { value: this.destroyTracked, configurable: true, writable: true, enumerable: false });
  }

  /** Shared by every tracked object (one function, no per-object closure). */
  private readonly destroyTracked = ((ledger: MemoryLedger) =>
    function destroy(this: Tracked): undefined {
      const addr = ledger.addresses.get(this);
      if (addr !== undefined) {
        ledger.addresses.delete(this);
        ledger.live.delete(addr);
        ledger.finalizer?.unregister(this);
        delete (this as { destroy?: unknown }).destroy;
        ledger.tracker.free(addr, ledger.clock(), ledger.recording());
      }
      return (Object.getPrototypeOf(this) as { destroy(): undefined }).destroy.call(this);
    })(this);
}
