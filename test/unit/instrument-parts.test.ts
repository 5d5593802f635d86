// The pure pieces of the instrumentation: WGSL workgroup sizes, memory accounting, stacks, bind group sizes.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DispatchLog, emptyDispatchEntry, type DispatchEntry } from '../../src/instrument/dispatch-log.js';
import { bindGroupBufferBytes } from '../../src/instrument/instrumentation.js';
import { MemoryTracker, textureBytes } from '../../src/instrument/memory.js';
import { captureStackHolder, cleanStack, foreignOwner, formatStack } from '../../src/instrument/stack.js';
import { parseWorkgroupMemoryBytes, parseWorkgroupSize } from '../../src/instrument/wgsl.js';

describe('parseWorkgroupSize', () => {
  test('literals, suffixes, hex, and the default 1s', () => {
    assert.deepEqual(parseWorkgroupSize('@compute @workgroup_size(64) fn main() {}'), [64, 1, 1]);
    assert.deepEqual(parseWorkgroupSize('@compute @workgroup_size(8u, 0x4, 2i)\nfn main() {}'), [8, 4, 2]);
    assert.deepEqual(parseWorkgroupSize('@workgroup_size(16, 16) @compute fn k() {}'), [16, 16, 1]);
  });

  test('override and const identifiers, pipeline constants by name or @id', () => {
    const code = `
      @id(7) override WG_X: u32 = 8;
      override WG_Y = 4u;
      const WG_Z: u32 = 2;
      @compute @workgroup_size(WG_X, WG_Y, WG_Z) fn main() {}`;
    assert.deepEqual(parseWorkgroupSize(code), [8, 4, 2]);
    assert.deepEqual(parseWorkgroupSize(code, 'main', { WG_Y: 16 }), [8, 16, 2]);
    assert.deepEqual(parseWorkgroupSize(code, 'main', { '7': 32 }), [32, 4, 2]);
  });

  test('picks the named entry point; ignores comments; several entry points need a name', () => {
    const code = `
      // @compute @workgroup_size(1) fn commented() {}
      /* @compute @workgroup_size(2) fn blocked() {} */
      @compute @workgroup_size(32) fn a() {}
      @compute @workgroup_size(4, 4) fn b() {}
      @vertex fn v() -> @builtin(position) vec4f { return vec4f(); }`;
    assert.deepEqual(parseWorkgroupSize(code, 'b'), [4, 4, 1]);
    assert.deepEqual(parseWorkgroupSize(code, 'a'), [32, 1, 1]);
    assert.equal(parseWorkgroupSize(code), undefined, 'ambiguous without an entry point');
    assert.equal(parseWorkgroupSize(code, 'commented'), undefined);
  });

  test('gives up rather than guess: expressions, unknown identifiers, missing attribute', () => {
    assert.equal(parseWorkgroupSize('@compute @workgroup_size(8 * 2) fn main() {}'), undefined);
    assert.equal(parseWorkgroupSize('@compute @workgroup_size(UNKNOWN) fn main() {}'), undefined);
    assert.equal(parseWorkgroupSize('override N: u32; @compute @workgroup_size(N) fn main() {}'), undefined);
    assert.equal(parseWorkgroupSize('fn main() {}'), undefined);
    assert.equal(parseWorkgroupSize('@compute @workgroup_size(0) fn main() {}'), undefined);
  });
});

describe('parseWorkgroupMemoryBytes', () => {
  test('sums roundUp(16, SizeOf(T)) of the workgroup variables the entry point uses, as WebGPU counts them', () => {
    const code = `
      var<workgroup> a: array<vec3f, 5>;        // stride 16: 80 B
      var<workgroup> b: mat3x3<f32>;            // 3 columns of 16 B: 48 B
      var<workgroup> c: atomic<u32>;            // 4 B, counted as 16
      var<workgroup> d: array<array<f16, 3>, 2>; // 2 x (3 x 2 B = 6 B): 12 B, counted as 16
      @compute @workgroup_size(1) fn main() { a[0] = vec3f(); let m = b; atomicAdd(&c, 1u); let h = d[1][2]; }`;
    assert.equal(parseWorkgroupMemoryBytes(code), 80 + 48 + 16 + 16);
  });

  test('array lengths from literals, const and override expressions, pipeline constants by name or @id', () => {
    const code = `
      @id(3) override WG_X: u32 = 16;
      override WG_Y: u32 = 8u;
      const TK: u32 = 2 * 8u;
      var<workgroup> aTile: array<f32, WG_Y * 4 * TK>;
      var<workgroup> bTile: array<f32, (TK * WG_X) * 4 - 0x10>;
      @compute @workgroup_size(WG_X, WG_Y) fn main() { aTile[0] = bTile[0]; }`;
    assert.equal(parseWorkgroupMemoryBytes(code), 4 * (8 * 4 * 16) + 4 * (16 * 16 * 4 - 16));
    assert.equal(parseWorkgroupMemoryBytes(code, 'main', { WG_Y: 2, '3': 1 }), 4 * (2 * 4 * 16) + 4 * (16 * 4 - 16));
    const tiled = readFileSync(new URL('../../kernels/matmulTiled.wgsl', import.meta.url), 'utf8');
    assert.equal(
      parseWorkgroupMemoryBytes(tiled, 'main', { WG_X: 8, WG_Y: 8, WG_Z: 1 }),
      2 * 4 * (8 * 4 * 16),
      "the repo's tiled matmul: two 8x4x16 f32 tiles",
    );
  });

  test('counts only what the entry point reaches (its callees, transitively); none used is 0', () => {
    const code = `
      var<workgroup> mine: array<u32, 64>;
      var<workgroup> theirs: array<u32, 1024>;
      fn helper() { mine[0] = 1u; }
      fn indirect() { helper(); }
      @compute @workgroup_size(64) fn a() { indirect(); }
      @compute @workgroup_size(64) fn b() { theirs[0] = 2u; }
      @compute @workgroup_size(64) fn c() {}`;
    assert.equal(parseWorkgroupMemoryBytes(code, 'a'), 256);
    assert.equal(parseWorkgroupMemoryBytes(code, 'b'), 4096);
    assert.equal(parseWorkgroupMemoryBytes(code, 'c'), 0);
    assert.equal(parseWorkgroupMemoryBytes('@compute @workgroup_size(1) fn main() {}'), 0);
  });

  test('gives up rather than guess: structs, aliases, bool, unknown lengths, shadowing, ambiguous entry point', () => {
    const with_ = (decl: string, body = 'v;'): number | undefined => parseWorkgroupMemoryBytes(`${decl}\n@compute @workgroup_size(1) fn main() { ${body} }`);
    assert.equal(with_('struct S { a: f32 } var<workgroup> v: S;'), undefined);
    assert.equal(with_('alias T = f32; var<workgroup> v: T;'), undefined);
    assert.equal(with_('var<workgroup> v: bool;'), undefined);
    assert.equal(with_('var<workgroup> v: array<f32, N>;'), undefined, 'N is not declared');
    assert.equal(with_('override N: u32; var<workgroup> v: array<f32, N>;'), undefined, 'an override without a value');
    assert.equal(with_('var<workgroup> v: array<f32, u32(4)>;'), undefined, 'a conversion call');
    assert.equal(with_('var<workgroup> v: array<f32, 4 / 0>;'), undefined);
    assert.equal(with_('var<workgroup> v: array<f32, 4>;', 'let v = 1;'), undefined, 'a local of the same name');
    assert.equal(with_('const A: u32 = B; const B: u32 = A; var<workgroup> v: array<f32, A>;'), undefined, 'a cycle');
    assert.equal(parseWorkgroupMemoryBytes('@compute @workgroup_size(1) fn a() {} @compute @workgroup_size(1) fn b() {}'), undefined, 'which entry point?');
    assert.equal(parseWorkgroupMemoryBytes('@compute @workgroup_size(1) fn a() {}', 'missing'), undefined);
  });
});

describe('MemoryTracker', () => {
  test('running totals, stable distinct addresses, records only when asked, double free ignored', () => {
    const m = new MemoryTracker(100);
    const a = m.alloc('buffer', 1000, 'a', 1, true);
    const b = m.alloc('querySet', 16, undefined, 2, false);
    const c = m.alloc('texture', 300, 'c', 3, true);
    assert.equal(new Set([a, b, c]).size, 3);
    assert.ok(b - a >= 1000 && c - b >= 16, 'addresses do not overlap');
    assert.equal(m.allocatedBytes, 1416);
    assert.equal(m.free(a, 4, true), true);
    assert.equal(m.free(a, 5, true), false);
    assert.equal(m.free(12345, 5, true), false);
    assert.deepEqual(
      m.takeRecords().map((r) => [r.tsNs, r.addr, r.bytes, r.totalAllocatedBytes, r.totalReservedBytes, r.kind, r.label]),
      [
        [1, a, 1000, 1100, 1100, 'buffer', 'a'],
        [3, c, 300, 1416, 1416, 'texture', 'c'],
        [4, a, -1000, 416, 416, 'buffer', 'a'],
      ],
    );
    assert.deepEqual(m.takeRecords(), []);
  });

  test('markStep returns the peak since the previous mark and restarts at the current total', () => {
    const m = new MemoryTracker();
    const a = m.alloc('buffer', 500, undefined, 0, false);
    const b = m.alloc('buffer', 700, undefined, 0, false);
    m.free(a, 0, false);
    m.free(b, 0, false);
    assert.equal(m.markStep(), 1200);
    assert.equal(m.markStep(), 0);
    m.alloc('buffer', 50, undefined, 0, false);
    assert.equal(m.peakAllocatedBytes, 50);
    m.freeAll(0, false);
    assert.equal(m.allocatedBytes, 0);
    assert.equal(m.markStep(), 50);
  });

  test('textureBytes: mips, layers, 3D, samples, compressed blocks; unknown formats are undefined', () => {
    assert.equal(textureBytes({ size: [4, 4], format: 'rgba8unorm', usage: 0 }), 64);
    assert.equal(textureBytes({ size: { width: 4, height: 4 }, format: 'rgba8unorm', usage: 0, mipLevelCount: 3 }), 64 + 16 + 4);
    assert.equal(textureBytes({ size: [8, 8, 6], format: 'r32float', usage: 0 }), 8 * 8 * 6 * 4);
    assert.equal(textureBytes({ size: [8, 8, 8], format: 'r8unorm', usage: 0, dimension: '3d', mipLevelCount: 2 }), 512 + 64);
    assert.equal(textureBytes({ size: [4, 4], format: 'rgba8unorm', usage: 0, sampleCount: 4 }), 256);
    assert.equal(textureBytes({ size: [10, 10], format: 'bc1-rgba-unorm', usage: 0 }), 3 * 3 * 8);
    assert.equal(textureBytes({ size: [12, 12], format: 'astc-6x6-unorm', usage: 0 }), 2 * 2 * 16);
    assert.equal(textureBytes({ size: [4, 4], format: 'made-up-format' as GPUTextureFormat, usage: 0 }), undefined);
  });
});

describe('cleanStack', () => {
  test('folds runs of wasm and library frames into one marker each, keeps the user frames, and caps after folding', () => {
    const wasm = Array.from(
      { length: 22 },
      (_, i) => `    at ort.wasm.wasm-function[${100 + i}] (wasm://wasm/0123abcd:wasm-function[${100 + i}]:0x${(i * 16).toString(16)})`,
    );
    const stack = [
      'Error',
      '    at GPUComputePassEncoder.dispatchWorkgroups (http://127.0.0.1/ort/ort.webgpu.min.mjs:6:1234)',
      '    at run (http://127.0.0.1/ort/ort.webgpu.min.mjs:6:5678)',
      ...wasm,
      '    at Object.run (/app/node_modules/onnxruntime-web/dist/ort.node.js:10:5)',
      '    at InferenceSession.run (/app/node_modules/onnxruntime-common/dist/session.js:3:9)',
      '    at classify (/app/src/ocr.js:12:20)',
      '    at async main (/app/src/main.js:4:3)',
    ].join('\n');
    const frames = cleanStack(stack, 5);
    assert.deepEqual(frames, [
      '[2 frames in ort.webgpu.min.mjs]',
      '[22 frames in wasm]',
      'Object.run (/app/node_modules/onnxruntime-web/dist/ort.node.js:10:5)',
      'InferenceSession.run (/app/node_modules/onnxruntime-common/dist/session.js:3:9)',
      'classify (/app/src/ocr.js:12:20)',
    ]);
    assert.ok(cleanStack(stack, 10).includes('async main (/app/src/main.js:4:3)'), 'the async caller chain is kept');
    assert.equal(cleanStack(stack, 10).length, 6, 'two packages with one frame each: kept as they are');
    assert.equal(foreignOwner('f (/a/node_modules/@scope/pkg/x.js:1:1)'), '@scope/pkg');
    assert.equal(foreignOwner('classify (/app/src/ocr.js:12:20)'), undefined);
  });

  test('V8 frames: message dropped, "at " stripped, wgprof instrument/profiler frames removed, capped', () => {
    const stack = [
      'Error',
      '    at Instrumentation.dispatch (/repo/src/instrument/instrumentation.ts:10:5)',
      '    at runLayer (/app/model.js:42:7)',
      '    at Profiler.frontendSpan (/repo/src/profiler/profiler.ts:3:1)',
      '    at async main (/app/main.js:5:3)',
      '    at /app/main.js:9:1',
    ].join('\n');
    assert.deepEqual(cleanStack(stack, 10), ['runLayer (/app/model.js:42:7)', 'async main (/app/main.js:5:3)', '/app/main.js:9:1']);
    assert.deepEqual(cleanStack(stack, 1), ['runLayer (/app/model.js:42:7)']);
    assert.deepEqual(cleanStack(undefined, 5), []);
  });

  test('Firefox/Safari frames are kept as they are', () => {
    assert.deepEqual(cleanStack('runLayer@http://x/app.js:4:2\n@http://x/app.js:9:1\n', 5), ['runLayer@http://x/app.js:4:2', '@http://x/app.js:9:1']);
  });
});

describe('bindGroupBufferBytes', () => {
  const buffer = (size: number) => ({ size, mapAsync: () => Promise.resolve() }) as unknown as GPUBuffer;
  test('binding sizes in binding order: explicit size, rest of the buffer after offset, bare buffers; others skipped', () => {
    const entries = [
      { binding: 3, resource: { buffer: buffer(1024), offset: 256 } },
      { binding: 0, resource: { buffer: buffer(4096), size: 16 } },
      { binding: 2, resource: {} as GPUSampler },
      { binding: 1, resource: buffer(64) },
    ] as GPUBindGroupEntry[];
    assert.deepEqual(bindGroupBufferBytes(entries), [16, 64, 768]);
    assert.deepEqual(bindGroupBufferBytes([]), []);
  });
});

describe('bindGroupBufferBytes on one-shot iterables', () => {
  test('an iterator the real call already consumed gives no sizes rather than wrong ones', () => {
    const buffer = { size: 64, mapAsync: () => Promise.resolve() } as unknown as GPUBuffer;
    function* entries(): Generator<GPUBindGroupEntry> {
      yield { binding: 0, resource: buffer };
    }
    assert.deepEqual(bindGroupBufferBytes(entries()), []);
  });
});

describe('DispatchLog', () => {
  const entry = (id: number): DispatchEntry => ({
    ...emptyDispatchEntry(),
    id,
    kernel: `k${id}`,
    launch: 'dispatchWorkgroups',
    opStartNs: id * 10,
    launchStartNs: id * 10 + 1,
    launchEndNs: id * 10 + 2,
    workgroupsX: id,
    workgroupsY: 1,
    workgroupsZ: 1,
    boundBufferBytes: [id],
  });

  test('keeps every field through growth and copies shared arrays into the record', () => {
    const log = new DispatchLog(2);
    const shared = [7, 8];
    const indices = [1, 2, 3, 4, 5].map((id) =>
      log.push(id === 4 ? { ...entry(id), boundBufferBytes: shared, workgroupSize: [8, 8], workgroupMemoryBytes: 4096 } : entry(id)),
    );
    assert.deepEqual(indices, [0, 1, 2, 3, 4]);
    assert.equal(log.length, 5);
    const r = log.record(3, 32);
    assert.deepEqual(r, {
      externalId: 4,
      correlation: 4,
      kernel: 'k4',
      launch: 'dispatchWorkgroups',
      opStartNs: 40,
      opEndNs: 42,
      launchStartNs: 41,
      launchEndNs: 42,
      workgroups: [4, 1, 1],
      workgroupSize: [8, 8, 1],
      workgroupMemoryBytes: 4096,
      boundBufferBytes: [7, 8],
    });
    assert.equal('workgroupMemoryBytes' in log.record(0, 32), false, 'unknown stays absent');
    assert.notEqual(r.boundBufferBytes, shared, 'copied, not shared');
    assert.deepEqual(log.record(0, 32).workgroups, [1, 1, 1]);
    assert.equal(log.id(4), 5);
  });

  test('a timed entry knows where its ticks lie in its submit readback; an untimed one does not', () => {
    const log = new DispatchLog();
    log.push(entry(1));
    log.push(entry(2));
    const slice = { set: {} as GPUQuerySet, used: 8, offset: 512 };
    log.setTiming(1, slice, 6);
    assert.equal(log.tickIndex(1), 512 / 8 + 6);
    assert.equal(log.tickIndex(0), undefined);
  });
});

describe('deferred stacks', () => {
  interface V8Error {
    prepareStackTrace?: ((error: Error, frames: unknown[]) => unknown) | undefined;
  }
  const E = Error as unknown as V8Error;

  test('capturing formats nothing; formatStack formats once, innermost first, without the omitted frame', () => {
    const previous = E.prepareStackTrace;
    let formatted = 0;
    E.prepareStackTrace = (error, frames) => {
      formatted++;
      return `${String(error)}\n${frames.map((f) => `    at ${String(f)}`).join('\n')}`;
    };
    try {
      function omitted(): object {
        return captureStackHolder(omitted, 8);
      }
      function callerOfOmitted(): object {
        return omitted();
      }
      const holder = callerOfOmitted();
      assert.equal(formatted, 0, 'nothing formatted at capture');
      const frames = formatStack(holder, 8);
      assert.equal(formatted, 1);
      assert.match(frames[0] ?? '', /^callerOfOmitted /);
      assert.ok(!frames.some((f) => f.startsWith('omitted ')), JSON.stringify(frames));
      assert.ok(frames.length <= 8);
    } finally {
      E.prepareStackTrace = previous;
    }
  });

  test('a prepareStackTrace that throws at flush gives no frames instead of failing the flush', () => {
    const previous = E.prepareStackTrace;
    try {
      function capture(): object {
        return captureStackHolder(capture, 4);
      }
      const holder = capture();
      let calls = 0;
      E.prepareStackTrace = () => {
        calls++;
        throw new Error('broken hook');
      };
      assert.deepEqual(formatStack(holder, 4), []);
      assert.equal(calls, 1, 'the hook ran (and threw)');
    } finally {
      E.prepareStackTrace = previous;
    }
  });
});
