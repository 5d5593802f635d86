// GPU memory accounting for one attached device: pseudo addresses, running totals, per-step peaks,
// and the `[memory]` records of the capture window. Pure bookkeeping; the instrumentation feeds it
// from createBuffer/createQuerySet/createTexture and destroy.
//
// Only objects created while attached are known. Pass `baselineBytes` for what existed before (it is
// counted in the totals but has no address and no record). WebGPU exposes no allocator, so
// "reserved" equals "allocated".

import type { MemoryRecord } from '../capture/model.js';

export type MemoryKind = MemoryRecord['kind'];

/** Pseudo addresses start here (1 TiB: looks like a device address, far from small integers). */
const ADDRESS_BASE = 2 ** 40;
const ADDRESS_ALIGN = 256;

interface Live {
  bytes: number;
  kind: MemoryKind;
  label?: string;
}

export class MemoryTracker {
  private nextAddr = ADDRESS_BASE;
  private readonly live = new Map<number, Live>();
  private allocated: number;
  private peak: number;
  private records: MemoryRecord[] = [];

  constructor(baselineBytes = 0) {
    this.allocated = baselineBytes;
    this.peak = baselineBytes;
  }

  /** Bytes allocated now (baseline included). */
  get allocatedBytes(): number {
    return this.allocated;
  }

  /** `[memory]` records held since the last takeRecords(). */
  get pendingRecords(): number {
    return this.records.length;
  }

  /** Live tracked objects. */
  get liveCount(): number {
    return this.live.size;
  }

  /** Records an allocation; returns its stable pseudo address. `record` = inside the capture window. */
  alloc(kind: MemoryKind, bytes: number, label: string | undefined, tsNs: number, record: boolean): number {
    const addr = this.nextAddr;
    // Addresses are never reused, so a trace never shows two objects at one address.
    this.nextAddr += Math.max(ADDRESS_ALIGN, Math.ceil(bytes / ADDRESS_ALIGN) * ADDRESS_ALIGN);
    const entry: Live = { bytes, kind };
    if (label) entry.label = label;
    this.live.set(addr, entry);
    this.allocated += bytes;
    if (this.allocated > this.peak) this.peak = this.allocated;
    if (record) this.push(tsNs, addr, bytes, entry);
    return addr;
  }

  /** Records a free; false when the address is not live (double destroy, or unknown). */
  free(addr: number, tsNs: number, record: boolean): boolean {
    const entry = this.live.get(addr);
    if (!entry) return false;
    this.live.delete(addr);
    this.allocated -= entry.bytes;
    if (record) this.push(tsNs, addr, -entry.bytes, entry);
    return true;
  }

  /** Frees every live object (device.destroy()). */
  freeAll(tsNs: number, record: boolean): void {
    for (const addr of [...this.live.keys()]) this.free(addr, tsNs, record);
  }

  /**
   * Ends a step: returns the peak of allocated bytes since the previous call (or since construction),
   * and starts the next step at the current total.
   */
  markStep(): number {
    const peak = this.peak;
    this.peak = this.allocated;
    return peak;
  }

  /** Peak of allocated bytes since the last markStep(), without resetting it. */
  get peakAllocatedBytes(): number {
    return this.peak;
  }

  /** The records since the last call. */
  takeRecords(): MemoryRecord[] {
    const out = this.records;
    this.records = [];
    return out;
  }

  private push(tsNs: number, addr: number, bytes: number, entry: Live): void {
    const rec: MemoryRecord = {
      tsNs,
      addr,
      bytes,
      totalAllocatedBytes: this.allocated,
      totalReservedBytes: this.allocated,
      kind: entry.kind,
    };
    if (entry.label) rec.label = entry.label;
    this.records.push(rec);
  }
}

/** Bytes per texel of uncompressed formats, and [blockWidth, blockHeight, bytesPerBlock] of compressed ones. */
const TEXEL_BYTES: Record<string, number> = {
  r8unorm: 1,
  r8snorm: 1,
  r8uint: 1,
  r8sint: 1,
  stencil8: 1,
  r16uint: 2,
  r16sint: 2,
  r16float: 2,
  r16unorm: 2,
  r16snorm: 2,
  rg8unorm: 2,
  rg8snorm: 2,
  rg8uint: 2,
  rg8sint: 2,
  depth16unorm: 2,
  r32uint: 4,
  r32sint: 4,
  r32float: 4,
  rg16uint: 4,
  rg16sint: 4,
  rg16float: 4,
  rg16unorm: 4,
  rg16snorm: 4,
  rgba8unorm: 4,
  'rgba8unorm-srgb': 4,
  rgba8snorm: 4,
  rgba8uint: 4,
  rgba8sint: 4,
  bgra8unorm: 4,
  'bgra8unorm-srgb': 4,
  rgb9e5ufloat: 4,
  rgb10a2uint: 4,
  rgb10a2unorm: 4,
  rg11b10ufloat: 4,
  depth24plus: 4,
  'depth24plus-stencil8': 4,
  depth32float: 4,
  'depth32float-stencil8': 5,
  rg32uint: 8,
  rg32sint: 8,
  rg32float: 8,
  rgba16uint: 8,
  rgba16sint: 8,
  rgba16float: 8,
  rgba16unorm: 8,
  rgba16snorm: 8,
  rgba32uint: 16,
  rgba32sint: 16,
  rgba32float: 16,
};

function blockInfo(format: string): [number, number, number] | undefined {
  if (/^bc[14]-/.test(format) || /^etc2-rgb8|^eac-r11/.test(format)) return [4, 4, 8];
  if (/^bc[235-7]-/.test(format) || /^etc2-rgba8|^eac-rg11/.test(format)) return [4, 4, 16];
  const astc = /^astc-(\d+)x(\d+)-/.exec(format);
  if (astc) return [Number(astc[1]), Number(astc[2]), 16];
  return undefined;
}

function extent(size: GPUExtent3D): [number, number, number] {
  if (Symbol.iterator in Object(size) && !('width' in (size as object))) {
    const [w = 1, h = 1, d = 1] = [...(size as Iterable<number>)];
    return [w, h, d];
  }
  const s = size as GPUExtent3DDict;
  return [s.width, s.height ?? 1, s.depthOrArrayLayers ?? 1];
}

/** Bytes of a texture over all mip levels and samples; undefined for a format we do not know. */
export function textureBytes(desc: GPUTextureDescriptor): number | undefined {
  const [width, height, layers] = extent(desc.size);
  const texel = TEXEL_BYTES[desc.format];
  const block = texel === undefined ? blockInfo(desc.format) : undefined;
  if (texel === undefined && !block) return undefined;
  const is3d = desc.dimension === '3d';
  const samples = desc.sampleCount ?? 1;
  let total = 0;
  for (let level = 0; level < (desc.mipLevelCount ?? 1); level++) {
    const w = Math.max(1, width >> level);
    const h = desc.dimension === '1d' ? 1 : Math.max(1, height >> level);
    const d = is3d ? Math.max(1, layers >> level) : layers;
    total += block ? Math.ceil(w / block[0]) * Math.ceil(h / block[1]) * block[2] * d : w * h * d * (texel ?? 0);
  }
  return total * samples;
}
