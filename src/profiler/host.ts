// Facts of the host the profiler runs in: names and ids for the trace files and metadata, and an
// adapter's facts read off a device when the caller has none.

import type { AdapterFacts } from '../gpu/device.js';
import { timestampModeOf } from '../gpu/device.js';
import { isNode } from '../util/runtime.js';

export function randomHex(chars: number): string {
  const bytes = new Uint8Array(Math.ceil(chars / 2));
  globalThis.crypto.getRandomValues(bytes);
  return [...bytes]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('')
    .slice(0, chars);
}

/** A pseudo pid for pages: stable for the page's life, in the range of real pids. */
const browserPid = 1 + (Math.floor(performance.timeOrigin) % 4_000_000);

export function hostPid(): number {
  return isNode ? process.pid : browserPid;
}

interface NodeOs {
  hostname(): string;
}

/** The host name part of the frontend file name (Node: os.hostname(); browser: the page's host). */
export function hostName(): string {
  if (isNode) {
    const os = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:os') as NodeOs | undefined;
    const name = os?.hostname();
    if (name) return name;
    return 'localhost';
  }
  const host = typeof location !== 'undefined' ? location.hostname : '';
  // File-name safe: what a page's host may hold beyond [A-Za-z0-9.-] becomes '-'.
  return (host || 'browser').replace(/[^A-Za-z0-9.-]/g, '-');
}

export function timeOriginEpochNs(): bigint {
  return BigInt(Math.round(performance.timeOrigin * 1e6));
}

/** AdapterFacts of a device when the caller has none: what GPUDevice itself exposes. */
export function factsFromDevice(device: GPUDevice): AdapterFacts {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const limits: Record<string, number> = {};
  for (let proto: object | null = device.limits; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = (device.limits as unknown as Record<string, unknown>)[key];
      if (key !== 'constructor' && !(key in limits) && typeof value === 'number') limits[key] = value;
    }
  }
  return {
    runtime: isNode ? 'node' : 'browser',
    backend: isNode ? 'unknown' : 'webgpu',
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: Boolean((info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined)?.isFallbackAdapter),
    features: [...device.features].sort(),
    limits,
    timestampMode: timestampModeOf(device.features),
    timestampQuantizationDisabled: null,
  };
}
