// Importing wgprof changes nothing: no WebGPU prototype is patched as an import side effect (STYLE §8).
// The instrumentation modules are imported dynamically, after the snapshot.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestGpuDevice } from '../../src/gpu/device.js';

function methodsOf(obj: object): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (let proto = Object.getPrototypeOf(obj) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (d && !out.has(name)) out.set(name, d.value ?? d.get);
    }
  }
  out.set('own:', Object.getOwnPropertyNames(obj).join(','));
  return out;
}

test('importing wgprof (and the instrumentation) patches no WebGPU prototype and no device', async () => {
  const runtime = await requestGpuDevice({ backend: 'null' });
  try {
    const { device } = runtime;
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    const buffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    const objects = { device, queue: device.queue, encoder, pass, buffer };
    const before = Object.fromEntries(Object.entries(objects).map(([k, o]) => [k, methodsOf(o)]));
    const instrument = await import('../../src/instrument/index.js');
    await import('../../src/index.js');
    assert.equal(typeof instrument.Instrumentation, 'function');
    const after = Object.fromEntries(Object.entries(objects).map(([k, o]) => [k, methodsOf(o)]));
    assert.deepEqual(after, before);
    pass.end();
    buffer.destroy();
  } finally {
    runtime.destroy();
  }
});
