// Instrumentation against a fake WebGPU device (no GPU): pass splitting and state re-application,
// inside-pass timestamps, quantized ticks, failed submits, the off-window fast path. The fake executes
// command buffers on a simulated GPU clock (tick = cpu ns + OFFSET) and validates what WebGPU would.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Instrumentation } from '../../src/instrument/index.js';
import { resetWarnOnce, setLogSink } from '../../src/util/log.js';

const OFFSET = 1_000_000_000_000n; // GPU ticks = CPU ns + OFFSET
const DISPATCH_NS = 10_000;
const COPY_NS = 3_000;
const MAP_READ = 0x0001;

interface Clock {
  now: number;
  read(): number;
}

function makeClock(): Clock {
  const clock = {
    now: 1_000_000,
    read(): number {
      clock.now += 100;
      return clock.now;
    },
  };
  return clock;
}

interface Executed {
  pass: number;
  pipeline: string | undefined;
  groups: string[];
  immediates: string;
  debug: string[];
}

interface World {
  clock: Clock;
  executed: Executed[];
  errors: string[];
  submits: number[];
  destroyed: string[];
  quantumNs: number;
  failMaps: boolean;
  passCount: number;
  /** Whether validation of timestamp query sets fails (the probe of a device with only inside-pass timestamps). */
  timestampQueriesInvalid?: boolean;
}

class FakeBuffer {
  readonly data: Uint8Array;
  constructor(
    private readonly world: World,
    readonly size: number,
    readonly usage: number,
    readonly label: string,
  ) {
    this.data = new Uint8Array(size);
  }
  mapAsync(_mode: number, offset = 0, size = this.size - offset): Promise<undefined> {
    const world = this.world;
    return Promise.resolve().then(() => {
      if (world.failMaps) throw new Error('device lost');
      void offset;
      void size;
      return undefined;
    });
  }
  getMappedRange(offset = 0, size = this.size - offset): ArrayBuffer {
    return this.data.slice(offset, offset + size).buffer;
  }
  unmap(): void {}
  destroy(): void {
    this.world.destroyed.push(this.label);
  }
}

class FakeQuerySet {
  readonly values: bigint[];
  constructor(
    private readonly world: World,
    readonly count: number,
    readonly label: string,
  ) {
    this.values = new Array<bigint>(count).fill(0n);
  }
  readonly type = 'timestamp';
  destroy(): void {
    this.world.destroyed.push(this.label);
  }
}

type Cmd = { op: string; pass?: FakePass; args: unknown[] };

class FakePass {
  ended = false;
  label = '';
  readonly id: number;
  constructor(
    private readonly encoder: FakeEncoder,
    readonly desc: GPUComputePassDescriptor | undefined,
  ) {
    this.id = encoder.world.passCount++;
  }
  private push(op: string, args: unknown[]): undefined {
    if (this.ended) this.encoder.invalid(`${op} on an ended pass`);
    this.encoder.cmds.push({ op, pass: this, args });
    return undefined;
  }
  setPipeline(p: unknown) {
    return this.push('setPipeline', [p]);
  }
  setBindGroup(index: number, group: unknown, offsets?: Iterable<number> | Uint32Array, start?: number, length?: number) {
    const copy = offsets instanceof Uint32Array && start !== undefined ? [...offsets.subarray(start, start + (length ?? 0))] : offsets ? [...offsets] : [];
    return this.push('setBindGroup', [index, group, copy]);
  }
  setImmediates(rangeOffset: number, data: Uint8Array) {
    return this.push('setImmediates', [rangeOffset, [...new Uint8Array(data.buffer, data.byteOffset, data.byteLength)].join(',')]);
  }
  dispatchWorkgroups(x: number, y = 1, z = 1) {
    return this.push('dispatch', [x, y, z]);
  }
  dispatchWorkgroupsIndirect(buffer: unknown, offset: number) {
    return this.push('dispatch', [buffer, offset]);
  }
  pushDebugGroup(label: string) {
    return this.push('pushDebugGroup', [label]);
  }
  popDebugGroup() {
    return this.push('popDebugGroup', []);
  }
  insertDebugMarker(label: string) {
    return this.push('insertDebugMarker', [label]);
  }
  /** An accessor, like WebGPU's `label`: a captured pass must read it from the real pass. */
  get passId(): number {
    return this.id;
  }
  end() {
    this.push('end', []);
    this.ended = true;
    this.encoder.openPass = undefined;
    return undefined;
  }
}

class FakeInsidePass extends FakePass {
  writeTimestamp(set: FakeQuerySet, index: number) {
    this.encoderRef().cmds.push({ op: 'writeTimestamp', pass: this, args: [set, index] });
    return undefined;
  }
  private encoderRef(): FakeEncoder {
    return (this as unknown as { encoder: FakeEncoder }).encoder;
  }
}

class FakeCommandBuffer {
  constructor(
    readonly cmds: Cmd[],
    readonly valid: boolean,
    readonly label: string,
  ) {}
}

class FakeEncoder {
  readonly cmds: Cmd[] = [];
  openPass: FakePass | undefined;
  private valid = true;
  constructor(
    readonly world: World,
    private readonly inside: boolean,
    readonly label: string,
  ) {}
  invalid(why: string): void {
    this.valid = false;
    this.world.errors.push(why);
  }
  beginComputePass(desc?: GPUComputePassDescriptor) {
    if (this.openPass) this.invalid('beginComputePass while a pass is open');
    const pass = this.inside ? new FakeInsidePass(this, desc) : new FakePass(this, desc);
    this.openPass = pass;
    this.cmds.push({ op: 'begin', pass, args: [desc] });
    return pass;
  }
  copyBufferToBuffer(...args: unknown[]) {
    this.cmds.push({ op: 'copy', args });
    return undefined;
  }
  clearBuffer(...args: unknown[]) {
    this.cmds.push({ op: 'clear', args });
    return undefined;
  }
  resolveQuerySet(set: FakeQuerySet, first: number, count: number, dst: FakeBuffer, offset: number) {
    if (offset % 256 !== 0) this.invalid('resolve offset not 256-aligned');
    this.cmds.push({ op: 'resolve', args: [set, first, count, dst, offset] });
    return undefined;
  }
  finish() {
    if (this.openPass) this.invalid('finish with an open pass');
    return new FakeCommandBuffer(this.cmds, this.valid, this.label);
  }
}

class FakeQueue {
  constructor(private readonly world: World) {}
  writeBuffer(buffer: FakeBuffer, offset: number, data: ArrayBufferView | ArrayBuffer) {
    const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
    buffer.data.set(bytes, offset);
    return undefined;
  }
  submit(cbs: FakeCommandBuffer[]) {
    const world = this.world;
    world.submits.push(cbs.length);
    // WebGPU: one invalid command buffer and nothing in the submit runs.
    if (cbs.some((cb) => !cb.valid)) {
      world.errors.push('submit with an invalid command buffer');
      return undefined;
    }
    let cpu = world.clock.now + 5_000; // launch latency
    const tick = () => {
      const t = BigInt(Math.round(cpu)) + OFFSET;
      const q = BigInt(world.quantumNs || 1);
      return (t / q) * q;
    };
    for (const cb of cbs) {
      const state = new Map<FakePass, { pipeline?: string; groups: string[]; immediates: string[]; debug: string[] }>();
      for (const cmd of cb.cmds) {
        const pass = cmd.pass;
        const st = pass ? (state.get(pass) ?? { groups: [], immediates: [], debug: [] }) : undefined;
        if (pass && st) state.set(pass, st);
        switch (cmd.op) {
          case 'begin': {
            const tw = (cmd.args[0] as GPUComputePassDescriptor | undefined)?.timestampWrites;
            if (tw?.beginningOfPassWriteIndex !== undefined) (tw.querySet as unknown as FakeQuerySet).values[tw.beginningOfPassWriteIndex] = tick();
            break;
          }
          case 'setPipeline':
            st!.pipeline = (cmd.args[0] as { label: string }).label;
            break;
          case 'setBindGroup':
            st!.groups[cmd.args[0] as number] = `${(cmd.args[1] as { label: string }).label}@${(cmd.args[2] as number[]).join(',')}`;
            break;
          case 'setImmediates':
            st!.immediates.push(`${cmd.args[0] as number}:${cmd.args[1] as string}`);
            break;
          case 'pushDebugGroup':
            st!.debug.push(cmd.args[0] as string);
            break;
          case 'popDebugGroup':
            st!.debug.pop();
            break;
          case 'dispatch':
            if (!st!.pipeline) world.errors.push('dispatch without a pipeline');
            world.executed.push({
              pass: pass!.id,
              pipeline: st!.pipeline,
              groups: [...st!.groups],
              immediates: st!.immediates.join(' '),
              debug: [...st!.debug],
            });
            cpu += DISPATCH_NS;
            break;
          case 'writeTimestamp':
            (cmd.args[0] as FakeQuerySet).values[cmd.args[1] as number] = tick();
            break;
          case 'end': {
            if (st!.debug.length) world.errors.push('pass ended with open debug groups');
            const tw = pass!.desc?.timestampWrites;
            if (tw?.endOfPassWriteIndex !== undefined) (tw.querySet as unknown as FakeQuerySet).values[tw.endOfPassWriteIndex] = tick();
            cpu += 1_000;
            break;
          }
          case 'resolve': {
            const [set, first, count, dst, offset] = cmd.args as [FakeQuerySet, number, number, FakeBuffer, number];
            const view = new DataView(dst.data.buffer);
            for (let i = 0; i < count; i++) view.setBigUint64(offset + 8 * i, set.values[first + i] ?? 0n, true);
            break;
          }
          case 'copy': {
            const a = cmd.args;
            const long = typeof a[1] === 'number';
            const src = a[0] as FakeBuffer;
            const dst = (long ? a[2] : a[1]) as FakeBuffer;
            const so = long ? (a[1] as number) : 0;
            const doff = long ? (a[3] as number) : 0;
            const size = ((long ? a[4] : a[2]) as number | undefined) ?? src.size - so;
            dst.data.set(src.data.subarray(so, so + size), doff);
            cpu += COPY_NS;
            break;
          }
        }
      }
    }
    // The CPU observes completion after the GPU finished.
    world.clock.now = Math.max(world.clock.now, cpu + 2_000);
    return undefined;
  }
}

class FakeDevice {
  readonly queue: FakeQueue;
  readonly label = 'fake';
  constructor(
    readonly world: World,
    readonly features: Set<string>,
  ) {
    this.queue = new FakeQueue(world);
  }
  createShaderModule(desc: { label?: string; code: string }) {
    return { label: desc.label ?? '' };
  }
  createComputePipeline(desc: { label?: string }) {
    return { label: desc.label ?? '' };
  }
  createBindGroup(desc: { label?: string }) {
    return { label: desc.label ?? '' };
  }
  createCommandEncoder(desc?: { label?: string }) {
    return new FakeEncoder(this.world, this.features.has('chromium-experimental-timestamp-query-inside-passes'), desc?.label ?? '');
  }
  createBuffer(desc: { size: number; usage: number; label?: string }) {
    return new FakeBuffer(this.world, desc.size, desc.usage, desc.label ?? '');
  }
  createQuerySet(desc: { count: number; label?: string }) {
    if (this.world.timestampQueriesInvalid) this.scopeErrors.push('timestamp query sets need a feature this device lacks');
    return new FakeQuerySet(this.world, desc.count, desc.label ?? '');
  }
  private readonly scopeErrors: string[] = [];
  private scopes = 0;
  pushErrorScope(): void {
    this.scopes++;
  }
  async popErrorScope(): Promise<{ message: string } | null> {
    this.scopes--;
    const message = this.scopeErrors.shift();
    return message === undefined ? null : { message };
  }
  destroy() {}
}

function setup(features: string[] = ['timestamp-query'], options: ConstructorParameters<typeof Instrumentation>[0] = {}) {
  const world: World = { clock: makeClock(), executed: [], errors: [], submits: [], destroyed: [], quantumNs: 0, failMaps: false, passCount: 0 };
  const device = new FakeDevice(world, new Set(features));
  const inst = new Instrumentation({ clock: () => world.clock.read(), clockPings: 0, ...options });
  inst.attach(device as unknown as GPUDevice);
  const gpu = device as unknown as GPUDevice;
  const pipeline = (label: string) => gpu.createComputePipeline({ label, layout: 'auto', compute: { module: gpu.createShaderModule({ code: '' }) } });
  const group = (label: string) => gpu.createBindGroup({ label, layout: {} as GPUBindGroupLayout, entries: [] });
  return { world, device, gpu, inst, pipeline, group };
}

describe('pass splitting (pass-boundaries mode)', () => {
  test('each dispatch gets its own pass with the pipeline, bind groups (dynamic offsets), immediates and debug groups re-applied', async () => {
    const { world, gpu, inst, pipeline, group } = setup();
    const [pa, pb] = [pipeline('A'), pipeline('B')];
    const [g0, g1] = [group('g0'), group('g1')];
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    const pass = encoder.beginComputePass({ label: 'mine' });
    pass.pushDebugGroup('layer');
    pass.setPipeline(pa);
    const offsets = new Uint32Array([0, 256, 512]);
    pass.setBindGroup(0, g0, offsets, 1, 1); // offset 256, from the (data, start, length) form
    pass.setBindGroup(1, g1);
    (pass as unknown as FakePass).setImmediates(0, new Uint8Array([1, 2]));
    pass.dispatchWorkgroups(1);
    offsets[1] = 999; // the caller reuses its array: the copy must keep 256
    pass.dispatchWorkgroups(2);
    pass.setPipeline(pb);
    pass.setBindGroup(0, g0, [512]);
    pass.popDebugGroup();
    pass.dispatchWorkgroups(3);
    pass.end();
    assert.ok(pass instanceof FakePass, 'the pass the user holds is still a FakePass (instanceof holds)');
    const ownFns = (obj: object) => Object.getOwnPropertyNames(obj).filter((n) => typeof (obj as Record<string, unknown>)[n] === 'function');
    assert.deepEqual(ownFns(pass), [], 'its methods live on its prototype');
    const encoderProto = Object.getPrototypeOf(encoder) as object;
    assert.ok(
      encoderProto !== FakeEncoder.prototype && Object.getPrototypeOf(encoderProto) === FakeEncoder.prototype,
      'a captured encoder is instrumented until finish()',
    );
    assert.deepEqual(ownFns(encoder), [], 'through its prototype: nothing is defined on the encoder itself');
    const cb = encoder.finish();
    assert.equal(Object.getPrototypeOf(encoder), FakeEncoder.prototype, 'and restored by finish()');
    gpu.queue.submit([cb]);
    inst.setCapturing(false);
    const captured = await inst.flush();

    assert.deepEqual(world.errors, []);
    assert.deepEqual(
      world.executed.map((e) => [e.pipeline, e.groups, e.immediates, e.debug]),
      [
        ['A', ['g0@256', 'g1@'], '0:1,2', ['layer']],
        ['A', ['g0@256', 'g1@'], '0:1,2', ['layer']],
        ['B', ['g0@512', 'g1@'], '0:1,2', []],
      ],
    );
    assert.equal(new Set(world.executed.map((e) => e.pass)).size, 3, 'three real passes');
    assert.equal(captured.stats.passSplits, 2);
    assert.deepEqual(
      captured.dispatches.map((d) => [d.kernel, d.workgroups]),
      [
        ['A', [1, 1, 1]],
        ['A', [2, 1, 1]],
        ['B', [3, 1, 1]],
      ],
    );
    assert.equal(world.submits[0], 2, 'the resolve command buffer rides along in the same submit');
    assert.equal(captured.stats.timedDispatches, 3);
    assert.equal(captured.clock?.method, 'submit-completion-bracket');
    const u = captured.clock!.uncertaintyNs;
    for (const d of captured.dispatches) {
      assert.ok(d.gpuEndNs! - d.gpuStartNs! >= DISPATCH_NS, 'a pass spans at least its dispatch');
    }
    // The fitted offset recovers the simulation's true one within the stated uncertainty.
    assert.ok(Math.abs(captured.clock!.offsetNs + Number(OFFSET)) <= u + 1e-3, `offset ${captured.clock!.offsetNs} ± ${u}`);
    assert.equal(inst.querySetsCreated, 1, 'one pooled query set');
  });

  test('a pass with its own timestampWrites is left whole and untimed', async () => {
    const { world, gpu, inst, pipeline } = setup();
    const userSet = gpu.createQuerySet({ type: 'timestamp', count: 2 });
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    const pass = encoder.beginComputePass({ timestampWrites: { querySet: userSet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    pass.setPipeline(pipeline('A'));
    pass.dispatchWorkgroups(1);
    pass.dispatchWorkgroups(1);
    pass.end();
    gpu.queue.submit([encoder.finish()]);
    const captured = await inst.flush();
    assert.deepEqual(world.errors, []);
    assert.equal(new Set(world.executed.map((e) => e.pass)).size, 1);
    assert.equal(captured.stats.untimedUserTimestampWrites, 2);
    assert.equal(captured.dispatches.filter((d) => d.gpuStartNs !== undefined).length, 0);
    assert.equal(world.submits[0], 1, 'nothing to resolve: no extra command buffer');
    assert.equal(inst.querySetsCreated, 0);
  });
});

describe('the pass the user holds while capturing', () => {
  test('forwards untracked methods and accessors to the real pass receiving commands, also after a split', async () => {
    const { world, gpu, inst, pipeline } = setup();
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    const pass = encoder.beginComputePass() as unknown as FakePass;
    const firstId = pass.passId;
    pass.setPipeline(pipeline('A'));
    pass.dispatchWorkgroups(1);
    pass.insertDebugMarker('before split');
    pass.dispatchWorkgroups(2); // splits: a second real pass
    pass.insertDebugMarker('after split');
    assert.equal(pass.passId, firstId + 1, 'the accessor reads the current real pass');
    pass.end();
    const cb = encoder.finish() as unknown as FakeCommandBuffer;
    const markers = cb.cmds.filter((c) => c.op === 'insertDebugMarker').map((c) => [c.args[0], c.pass?.id]);
    assert.deepEqual(markers, [
      ['before split', firstId],
      ['after split', firstId + 1],
    ]);
    gpu.queue.submit([cb as unknown as GPUCommandBuffer]);
    const captured = await inst.flush();
    assert.deepEqual(world.errors, []);
    assert.equal(captured.dispatches.length, 2);
    assert.equal(captured.stats.passSplits, 1);
  });

  test('offers exactly the methods the real pass has (feature tests still work)', () => {
    const plain = setup();
    plain.inst.setCapturing(true);
    const pass = plain.gpu.createCommandEncoder().beginComputePass() as unknown as Record<string, unknown>;
    assert.equal(typeof pass['writeTimestamp'], 'undefined', 'a FakePass has no writeTimestamp: neither has the captured pass');
    assert.equal(typeof pass['insertDebugMarker'], 'function');
    assert.ok(pass instanceof FakePass && !(pass instanceof FakeInsidePass));
    const inside = setup(['timestamp-query', 'chromium-experimental-timestamp-query-inside-passes']);
    inside.inst.setCapturing(true);
    const insidePass = inside.gpu.createCommandEncoder().beginComputePass() as unknown as Record<string, unknown>;
    assert.equal(typeof insidePass['writeTimestamp'], 'function');
    assert.ok(insidePass instanceof FakeInsidePass);
  });

  test('after end() calls only forward: a dispatch on the ended pass reaches the runtime (which rejects it) and is not recorded', async () => {
    const { world, gpu, inst, pipeline } = setup();
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline('A'));
    pass.dispatchWorkgroups(1);
    pass.end();
    pass.dispatchWorkgroups(1);
    assert.deepEqual(world.errors, ['dispatch on an ended pass']);
    gpu.queue.submit([encoder.finish()]);
    const captured = await inst.flush();
    assert.equal(captured.dispatches.length, 1);
  });
});

describe('inside-passes mode', () => {
  test('writeTimestamp around each dispatch in one unsplit pass', async () => {
    const { world, gpu, inst, pipeline } = setup(['timestamp-query', 'chromium-experimental-timestamp-query-inside-passes']);
    assert.equal(inst.timestampMode, 'inside-passes');
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline('A'));
    for (let i = 0; i < 4; i++) pass.dispatchWorkgroups(1);
    pass.end();
    gpu.queue.submit([encoder.finish()]);
    const captured = await inst.flush();
    assert.deepEqual(world.errors, []);
    assert.equal(new Set(world.executed.map((e) => e.pass)).size, 1, 'one real pass');
    assert.equal(captured.stats.passSplits, 0);
    assert.equal(captured.timestamps.mode, 'inside-passes');
    const d = captured.dispatches;
    assert.equal(d.length, 4);
    for (let i = 0; i < d.length; i++) {
      // Inside a pass the interval is exactly the dispatch: DISPATCH_NS on the simulated clock.
      assert.equal(d[i]!.gpuEndNs! - d[i]!.gpuStartNs!, DISPATCH_NS);
      if (i > 0) assert.ok(d[i - 1]!.gpuEndNs! <= d[i]!.gpuStartNs!);
    }
  });
});

describe('timestamp data the instrumentation must not over-interpret', () => {
  test('quantized ticks: detected, warned once, and equal begin/end ticks give no interval', async () => {
    const warnings: string[] = [];
    const restore = setLogSink((level, message) => void (level === 'warn' && warnings.push(message)));
    resetWarnOnce();
    try {
      const { world, gpu, inst, pipeline } = setup(['timestamp-query', 'chromium-experimental-timestamp-query-inside-passes']);
      world.quantumNs = 65_536;
      inst.setCapturing(true);
      for (let s = 0; s < 2; s++) {
        const encoder = gpu.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline('A'));
        for (let i = 0; i < 8; i++) pass.dispatchWorkgroups(1);
        pass.end();
        gpu.queue.submit([encoder.finish()]);
      }
      const captured = await inst.flush();
      assert.equal(captured.timestamps.quantized, true);
      assert.equal(captured.timestamps.quantumNs, 65_536);
      assert.match(captured.timestamps.note ?? '', /quantized to 65536 ns/);
      const zero = captured.stats.zeroWidth;
      assert.ok(zero > 0, 'most 10 µs kernels fall inside one 65.5 µs quantum');
      assert.match(captured.timestamps.note ?? '', new RegExp(`${zero} dispatch\\(es\\) had equal begin and end ticks`));
      const withInterval = captured.dispatches.filter((d) => d.gpuStartNs !== undefined);
      assert.equal(withInterval.length + zero, 16);
      for (const d of withInterval) assert.ok(d.gpuEndNs! > d.gpuStartNs!, 'never a zero duration');
      assert.equal(warnings.filter((w) => /quantized/.test(w)).length, 1);
      await inst.flush();
      assert.equal(warnings.filter((w) => /quantized/.test(w)).length, 1, 'warned once');
    } finally {
      restore();
    }
  });

  test('a submit that did not run never shows the ticks a reused readback buffer still holds', async () => {
    const { world, gpu, inst, pipeline } = setup();
    const pa = pipeline('A');
    inst.setCapturing(true);
    const good = gpu.createCommandEncoder();
    let pass = good.beginComputePass();
    pass.setPipeline(pa);
    pass.dispatchWorkgroups(1);
    pass.end();
    gpu.queue.submit([good.finish()]);
    const first = await inst.flush();
    assert.equal(first.stats.timedDispatches, 1);

    // Same shape of work, but the command buffer is invalid (dispatch without a pipeline is fine in the
    // fake; an open pass at finish is not), so the whole submit is dropped.
    const bad = gpu.createCommandEncoder();
    pass = bad.beginComputePass();
    pass.setPipeline(pa);
    pass.dispatchWorkgroups(1);
    pass.end();
    (bad as unknown as FakeEncoder).invalid('simulated validation error');
    gpu.queue.submit([bad.finish()]);
    const second = await inst.flush();
    assert.equal(second.dispatches.length, 1);
    assert.equal(second.dispatches[0]?.gpuStartNs, undefined);
    assert.equal(second.stats.failedSubmits, 1);
    assert.match(second.timestamps.note ?? '', /did not run/);
    void world;
  });

  test('a failed map is returned by flush() as an error, never thrown from a detached promise', async () => {
    const { world, gpu, inst, pipeline } = setup();
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline('A'));
    pass.dispatchWorkgroups(1);
    pass.end();
    world.failMaps = true;
    gpu.queue.submit([encoder.finish()]);
    const captured = await inst.flush();
    assert.equal(captured.errors.length, 1);
    assert.match(captured.errors[0]!.message, /READBACK_FAILED.*device lost/);
    assert.equal(captured.dispatches[0]?.gpuStartNs, undefined);
    assert.ok(world.destroyed.includes('wgprof.readback'), 'a broken readback pair is not reused');
  });

  test('work finished but not submitted by flush() comes without GPU times; a later submit is harmless', async () => {
    const { world, gpu, inst, pipeline } = setup();
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline('A'));
    pass.dispatchWorkgroups(1);
    pass.end();
    const cb = encoder.finish();
    const captured = await inst.flush();
    assert.equal(captured.dispatches.length, 1);
    assert.equal(captured.stats.unsubmitted, 1);
    gpu.queue.submit([cb]);
    const later = await inst.flush();
    assert.deepEqual(later.dispatches, []);
    assert.deepEqual(later.errors, []);
    assert.deepEqual(world.errors, []);
  });
});

describe('modes and window', () => {
  test('without timestamp-query: mode none, TIMESTAMP_QUERY_UNSUPPORTED note and one warning', async () => {
    const warnings: string[] = [];
    const restore = setLogSink((level, message) => void (level === 'warn' && warnings.push(message)));
    resetWarnOnce();
    try {
      const { gpu, inst, pipeline } = setup([]);
      assert.equal(inst.timestampMode, 'none');
      inst.setCapturing(true);
      const encoder = gpu.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline('A'));
      pass.dispatchWorkgroups(1);
      pass.dispatchWorkgroups(1);
      pass.end();
      gpu.queue.submit([encoder.finish()]);
      const captured = await inst.flush();
      assert.equal(captured.dispatches.length, 2);
      assert.equal(captured.timestamps.mode, 'none');
      assert.equal(captured.timestamps.quantized, null);
      assert.match(captured.timestamps.note ?? '', /^TIMESTAMP_QUERY_UNSUPPORTED: device "fake" lacks "timestamp-query"/);
      assert.equal(captured.stats.passSplits, 0);
      assert.equal(inst.querySetsCreated, 0);
      assert.equal(warnings.filter((w) => w.startsWith('TIMESTAMP_QUERY_UNSUPPORTED')).length, 1);
    } finally {
      restore();
    }
  });

  test('a device created with only the inside-passes feature (onnxruntime-web JSEP): probed, then timed inside passes; said in the trace', async () => {
    const warnings: string[] = [];
    const restore = setLogSink((level, message) => void (level === 'warn' && warnings.push(message)));
    resetWarnOnce();
    try {
      const { world, gpu, inst, pipeline } = setup(['chromium-experimental-timestamp-query-inside-passes']);
      // Until the probe settles nothing is injected: work captured then is untimed but valid.
      assert.equal(inst.timestampMode, 'none');
      inst.setCapturing(true);
      const early = gpu.createCommandEncoder();
      const earlyPass = early.beginComputePass();
      earlyPass.setPipeline(pipeline('early'));
      earlyPass.dispatchWorkgroups(1);
      earlyPass.end();
      gpu.queue.submit([early.finish()]);
      await inst.ready();
      assert.equal(inst.timestampMode, 'inside-passes');
      const encoder = gpu.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline('A'));
      pass.dispatchWorkgroups(1);
      pass.dispatchWorkgroups(1);
      pass.end();
      gpu.queue.submit([encoder.finish()]);
      inst.setCapturing(false);
      const captured = await inst.flush();
      assert.deepEqual(world.errors, []);
      assert.deepEqual(
        captured.dispatches.map((d) => [d.kernel, d.gpuStartNs !== undefined]),
        [
          ['early', false],
          ['A', true],
          ['A', true],
        ],
      );
      assert.equal(captured.timestamps.mode, 'inside-passes');
      assert.match(captured.timestamps.reason ?? '', /only "chromium-experimental-timestamp-query-inside-passes".*probe found its timestamp query sets valid/);
      assert.equal(warnings.filter((w) => /GPU timing mode inside-passes/.test(w)).length, 1);
    } finally {
      restore();
    }
  });

  test('…and when the probe finds timestamp query sets invalid there: no GPU times, and the note says why', async () => {
    const restore = setLogSink(() => undefined);
    try {
      const world: World = {
        clock: makeClock(),
        executed: [],
        errors: [],
        submits: [],
        destroyed: [],
        quantumNs: 0,
        failMaps: false,
        passCount: 0,
        timestampQueriesInvalid: true,
      };
      const device = new FakeDevice(world, new Set(['chromium-experimental-timestamp-query-inside-passes']));
      const inst = new Instrumentation({ clock: () => world.clock.read(), clockPings: 0 });
      inst.attach(device as unknown as GPUDevice);
      await inst.ready();
      assert.equal(inst.timestampMode, 'none');
      const captured = await inst.flush();
      assert.match(captured.timestamps.note ?? '', /TIMESTAMP_QUERY_UNSUPPORTED.*a probe found timestamp query sets invalid/);
      assert.equal(captured.timestamps.reason, captured.timestamps.note);
    } finally {
      restore();
    }
  });

  test('with timestamp-query the reason names the mode without a probe', async () => {
    const { inst } = setup(['timestamp-query']);
    const captured = await inst.flush();
    assert.match(captured.timestamps.reason ?? '', /has "timestamp-query" but not .*split into one pass per dispatch/);
  });

  test('clock pings: tiny timestamped submits at each window edge tighten the clock fit and record nothing', async () => {
    const run = async (clockPings: number) => {
      const { world, gpu, inst, pipeline } = setup(['timestamp-query'], { clockPings });
      inst.setCapturing(true);
      const encoder = gpu.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline('A'));
      pass.dispatchWorkgroups(1);
      pass.end();
      gpu.queue.submit([encoder.finish()]);
      inst.setCapturing(false);
      const captured = await inst.flush();
      return { world, captured };
    };
    const without = await run(0);
    const withPings = await run(3);
    assert.deepEqual(withPings.world.errors, []);
    // One workload submit (its command buffers plus the resolve), then 3 + 3 pings of one command buffer each.
    assert.equal(without.world.submits.length, 1);
    assert.equal(withPings.world.submits.length, 7);
    assert.equal(withPings.captured.dispatches.length, 1);
    assert.equal(withPings.captured.submits.length, 1, 'pings are not workload submits');
    assert.equal(withPings.captured.clock?.samples, 7);
    assert.ok(
      withPings.captured.clock!.uncertaintyNs < without.captured.clock!.uncertaintyNs,
      `${withPings.captured.clock!.uncertaintyNs} vs ${without.captured.clock!.uncertaintyNs}`,
    );
    const d = withPings.captured.dispatches[0]!;
    const submit = withPings.captured.submits[0]!;
    assert.ok(d.gpuStartNs! >= submit.cpuSubmitNs && d.gpuEndNs! <= submit.cpuDoneNs!, 'still inside its own submit');
  });

  test('outside the window: native encoders, plain submits, nothing recorded', async () => {
    const { world, gpu, inst, pipeline } = setup();
    const encoder = gpu.createCommandEncoder();
    assert.deepEqual(
      Object.getOwnPropertyNames(encoder).filter((n) => typeof (encoder as unknown as Record<string, unknown>)[n] === 'function'),
      [],
    );
    assert.equal(Object.getPrototypeOf(encoder), FakeEncoder.prototype, 'the encoder is untouched');
    const pass = encoder.beginComputePass();
    assert.equal(Object.getPrototypeOf(pass), FakePass.prototype, 'the pass is untouched');
    assert.ok(!('timestampWrites' in ((pass as unknown as FakePass).desc ?? {})), 'no timestamps injected');
    pass.setPipeline(pipeline('A'));
    pass.dispatchWorkgroups(1);
    pass.dispatchWorkgroups(1);
    pass.end();
    gpu.queue.writeBuffer(gpu.createBuffer({ size: 4, usage: 0 }), 0, new Uint8Array(4));
    gpu.queue.submit([encoder.finish()]);
    const captured = await inst.flush();
    assert.deepEqual([captured.dispatches, captured.copies, captured.submits], [[], [], []]);
    assert.deepEqual(world.submits, [1]);
    assert.equal(new Set(world.executed.map((e) => e.pass)).size, 1, 'no split');
    assert.equal(inst.querySetsCreated, 0);
  });

  test('a copy to a MAP_READ buffer is DtoH, others DtoD; both argument forms', async () => {
    const { gpu, inst } = setup();
    const a = gpu.createBuffer({ size: 64, usage: 0 });
    const b = gpu.createBuffer({ size: 64, usage: 0 });
    const r = gpu.createBuffer({ size: 64, usage: MAP_READ });
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    encoder.copyBufferToBuffer(a, 16, b, 0, 32);
    encoder.copyBufferToBuffer(a, r);
    encoder.copyBufferToBuffer(a, 8, r, 0);
    gpu.queue.submit([encoder.finish()]);
    const { copies } = await inst.flush();
    assert.deepEqual(
      copies.map((c) => [c.kind, c.bytes]),
      [
        ['DtoD', 32],
        ['DtoH', 64],
        ['DtoH', 56],
      ],
    );
  });

  test('detach while a readback is in flight: its buffers are destroyed when it completes, not pooled', async () => {
    const { world, gpu, inst, pipeline } = setup();
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline('A'));
    pass.dispatchWorkgroups(1);
    pass.end();
    gpu.queue.submit([encoder.finish()]);
    inst.detach();
    const captured = await inst.flush();
    assert.equal(captured.dispatches.length, 1);
    assert.ok(captured.dispatches[0]?.gpuStartNs !== undefined, 'the in-flight readback still completes');
    assert.ok(world.destroyed.includes('wgprof.readback') && world.destroyed.includes('wgprof.timestamps'));
    assert.equal(Object.getOwnPropertyNames(gpu).includes('createCommandEncoder'), false);
  });
});

describe("copyBufferToBuffer timing (the neighbouring passes' ticks; an empty tick pass only where there is none)", () => {
  /** dispatch, 64-byte copy, dispatch on one encoder; returns the flush. */
  async function dispatchCopyDispatch(features: string[], spoil?: (encoder: GPUCommandEncoder) => void) {
    const { world, gpu, inst, pipeline } = setup(features);
    const pa = pipeline('A');
    const a = gpu.createBuffer({ size: 64, usage: 0 });
    const b = gpu.createBuffer({ size: 64, usage: 0 });
    new Uint8Array((a as unknown as FakeBuffer).data.buffer).fill(7);
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    let pass = encoder.beginComputePass();
    pass.setPipeline(pa);
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(a, 0, b, 0, 64);
    pass = encoder.beginComputePass();
    pass.setPipeline(pa);
    pass.dispatchWorkgroups(1);
    pass.end();
    spoil?.(encoder);
    const cmds = (encoder as unknown as FakeEncoder).cmds;
    gpu.queue.submit([encoder.finish()]);
    inst.setCapturing(false);
    const captured = await inst.flush();
    return { world, captured, cmds, b: b as unknown as FakeBuffer };
  }

  for (const [mode, features] of [
    ['pass-boundaries', ['timestamp-query']],
    ['inside-passes', ['timestamp-query', 'chromium-experimental-timestamp-query-inside-passes']],
  ] as const) {
    test(`${mode}: a copy between two timed passes is timed by their ticks alone (no extra pass), and still runs`, async () => {
      const { world, captured, cmds, b } = await dispatchCopyDispatch([...features]);
      assert.deepEqual(world.errors, []);
      assert.ok(
        b.data.every((v) => v === 7),
        'the copy ran',
      );
      const begins = cmds.filter((c) => c.op === 'begin').map((c) => (c.args[0] as GPUComputePassDescriptor | undefined)?.label);
      assert.deepEqual(begins, [undefined, undefined], 'only the two passes of the workload');
      assert.equal(captured.stats.copyTickPasses, 0);
      const [d0, d1] = captured.dispatches;
      const [copy] = captured.copies;
      assert.equal(captured.stats.timedCopies, 1);
      assert.equal(captured.stats.untimedCopies, 0);
      assert.equal(captured.stats.timedDispatches, 2);
      assert.ok(copy?.gpuStartNs !== undefined && copy.gpuEndNs !== undefined);
      // [the last tick before it, the first tick after it]: the copy plus the pass boundaries around it.
      assert.ok(copy.gpuEndNs - copy.gpuStartNs >= COPY_NS, `${copy.gpuEndNs - copy.gpuStartNs} ns`);
      assert.ok(d0!.gpuEndNs! <= copy.gpuStartNs && copy.gpuEndNs <= d1!.gpuStartNs!, 'ordered between the dispatches');
      const submit = captured.submits[0]!;
      assert.ok(copy.gpuStartNs >= submit.cpuSubmitNs && copy.gpuEndNs <= submit.cpuDoneNs!);
    });
  }

  test('copies with no timed neighbour: one tick pass before a leading copy, one between two copies, one at finish; an untimed command ends the run', async () => {
    const { world, gpu, inst, pipeline } = setup();
    const bufs = Array.from({ length: 4 }, () => gpu.createBuffer({ size: 64, usage: 0 }));
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    encoder.copyBufferToBuffer(bufs[0]!, 0, bufs[1]!, 0, 64); // leads the encoder: a tick pass before it
    encoder.copyBufferToBuffer(bufs[1]!, 0, bufs[2]!, 0, 64); // right after a copy: one tick pass between
    const pass = encoder.beginComputePass(); // its begin tick closes the second copy
    pass.setPipeline(pipeline('A'));
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(bufs[2]!, 0, bufs[3]!, 0, 64); // after a timed pass: its end tick; the tick at finish closes it
    const cmds = (encoder as unknown as FakeEncoder).cmds;
    gpu.queue.submit([encoder.finish()]);
    inst.setCapturing(false);
    const captured = await inst.flush();
    assert.deepEqual(world.errors, []);
    const ops = cmds
      .filter((c) => c.op === 'begin' || c.op === 'copy')
      .map((c) => (c.op === 'copy' ? 'copy' : ((c.args[0] as GPUComputePassDescriptor | undefined)?.label ?? 'pass')));
    assert.deepEqual(ops, ['wgprof.copy-tick', 'copy', 'wgprof.copy-tick', 'copy', 'pass', 'copy', 'wgprof.copy-tick']);
    assert.equal(captured.stats.copyTickPasses, 3);
    assert.equal(captured.stats.timedCopies, 3);
    const [c0, c1, c2] = captured.copies;
    assert.ok(c0!.gpuEndNs! <= c1!.gpuStartNs!, 'consecutive copies do not overlap');
    assert.ok(c1!.gpuEndNs! <= captured.dispatches[0]!.gpuStartNs! && captured.dispatches[0]!.gpuEndNs! <= c2!.gpuStartNs!);
  });

  test('an untimed encoder command between a copy and the next pass ends the copy there (a tick pass before it)', async () => {
    const { world, gpu, inst, pipeline } = setup();
    const [a, b] = [gpu.createBuffer({ size: 64, usage: 0 }), gpu.createBuffer({ size: 64, usage: 0 })];
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    let pass = encoder.beginComputePass();
    pass.setPipeline(pipeline('A'));
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(a, 0, b, 0, 64);
    (encoder as unknown as { clearBuffer(buffer: unknown): void }).clearBuffer(b);
    pass = encoder.beginComputePass();
    pass.setPipeline(pipeline('A'));
    pass.dispatchWorkgroups(1);
    pass.end();
    const cmds = (encoder as unknown as FakeEncoder).cmds;
    gpu.queue.submit([encoder.finish()]);
    inst.setCapturing(false);
    const captured = await inst.flush();
    assert.deepEqual(world.errors, []);
    const ops = cmds
      .filter((c) => ['begin', 'copy', 'clear'].includes(c.op))
      .map((c) => (c.op === 'begin' ? ((c.args[0] as GPUComputePassDescriptor | undefined)?.label ?? 'pass') : c.op));
    assert.deepEqual(ops, ['pass', 'copy', 'wgprof.copy-tick', 'clear', 'pass']);
    assert.equal(captured.stats.timedCopies, 1);
  });

  test('a submit that did not run: the copy gets no interval', async () => {
    const { captured } = await dispatchCopyDispatch(['timestamp-query'], (encoder) =>
      (encoder as unknown as FakeEncoder).invalid('simulated validation error'),
    );
    assert.equal(captured.copies[0]?.gpuStartNs, undefined);
    assert.equal(captured.copies[0]?.gpuEndNs, undefined);
    assert.equal(captured.stats.timedCopies, 0);
    assert.equal(captured.stats.untimedCopies, 1);
  });

  test('equal ticks (quantized clock): no interval', async () => {
    const { world, gpu, inst } = setup();
    world.quantumNs = 1_000_000_000;
    const a = gpu.createBuffer({ size: 64, usage: 0 });
    const b = gpu.createBuffer({ size: 64, usage: 0 });
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    encoder.copyBufferToBuffer(a, b);
    gpu.queue.submit([encoder.finish()]);
    const captured = await inst.flush();
    const [copy] = captured.copies;
    // The fake submit runs at ~1 ms, well inside one 1 s quantum: both ticks are equal.
    assert.equal(copy?.gpuStartNs, undefined);
    assert.equal(captured.stats.untimedCopies, 1);
    assert.equal(captured.stats.timedCopies, 0);
  });

  test('no timestamps, or outside the window, or with a pass open: no bracket passes', async () => {
    const none = setup([]);
    none.inst.setCapturing(true);
    const a = none.gpu.createBuffer({ size: 64, usage: 0 });
    const b = none.gpu.createBuffer({ size: 64, usage: 0 });
    let encoder = none.gpu.createCommandEncoder();
    encoder.copyBufferToBuffer(a, b);
    assert.deepEqual(
      (encoder as unknown as FakeEncoder).cmds.map((c) => c.op),
      ['copy'],
    );
    none.gpu.queue.submit([encoder.finish()]);
    const noneCaptured = await none.inst.flush();
    assert.equal(noneCaptured.copies[0]?.gpuStartNs, undefined);
    assert.equal(noneCaptured.stats.untimedCopies, 0);

    const { gpu, inst } = setup();
    encoder = gpu.createCommandEncoder();
    encoder.copyBufferToBuffer(a, b);
    assert.deepEqual(
      (encoder as unknown as FakeEncoder).cmds.map((c) => c.op),
      ['copy'],
    );
    inst.setCapturing(true);
    encoder = gpu.createCommandEncoder();
    const pass = encoder.beginComputePass();
    encoder.copyBufferToBuffer(a, b); // the caller's validation error: left alone
    pass.end();
    assert.deepEqual(
      (encoder as unknown as FakeEncoder).cmds.map((c) => c.op),
      ['begin', 'copy', 'end'],
    );
    assert.equal(inst.querySetsCreated, 1);
  });

  test('a bracketed copy not submitted before flush stays untimed, and a later submit does not touch it', async () => {
    const { gpu, inst } = setup();
    const a = gpu.createBuffer({ size: 64, usage: 0 });
    const b = gpu.createBuffer({ size: 64, usage: 0 });
    inst.setCapturing(true);
    const encoder = gpu.createCommandEncoder();
    encoder.copyBufferToBuffer(a, b);
    const cb = encoder.finish();
    const first = await inst.flush();
    assert.equal(first.stats.untimedCopies, 1);
    gpu.queue.submit([cb]);
    const second = await inst.flush();
    assert.equal(first.copies[0]?.gpuStartNs, undefined);
    assert.deepEqual([second.copies, second.stats.timedCopies], [[], 0]);
  });
});
