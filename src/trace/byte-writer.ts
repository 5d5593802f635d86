// The trace's only writer: each event goes straight into UTF-8 JSON bytes (ByteOut). Output is compact
// (no whitespace but the newline before each event). An object form of the trace, where one is needed
// (buildTrace), is JSON.parse of these bytes.

import type { DispatchRecord } from '../capture/model.js';
import { knownCost } from './plan.js';
import { jsonString, sanitizeEventName } from './json.js';
import { ByteOut, utf8 } from './out.js';
import { kernelName, type ArgBag, type EventWriter, type OpOptions, type ThreadIds } from './emit.js';
import { WEBGPU_CALL_ARG } from './launch-names.js';

// Pre-encoded fragments (keys in Kineto's order per `ph`). Event heads start at the newline: the
// comma between events is written separately (none before the first).
const F = {
  metaHead: utf8('\n{"ph":"M","name":"'),
  metaTs: utf8('","ts":'),
  pid: utf8(',"pid":'),
  tid: utf8(',"tid":'),
  argsOpen: utf8(',"args":{'),
  close2: utf8('}}'),
  xHead: utf8('\n{"ph":"X","cat":'),
  name: utf8(',"name":'),
  dur: utf8(',"dur":'),
  args: utf8(',"args":'),
  iHead: utf8('\n{"ph":"i",'),
  cat: utf8('"cat":'),
  scope: utf8('"s":"'),
  scopeEnd: utf8('","name":'),
  cHead: utf8('\n{"ph":"C","cat":'),
  sHead: utf8('\n{"ph":"s","id":'),
  fHead: utf8('\n{"ph":"f","id":'),
  flowEnd: utf8(',"cat":"ac2g","name":"ac2g"}'),
  flowEndBp: utf8(',"cat":"ac2g","name":"ac2g","bp":"e"}'),
  extArgs: utf8(',"args":{"External id":'),
  corrArg: utf8(',"correlation":'),
  dims: utf8(',"Input Dims":'),
  types: utf8(',"Input type":'),
  flops: utf8(',"flops":'),
  bytes: utf8(',"bytes":'),
  stack: utf8(',"Call stack":'),
  queued: utf8(',"queued":0,"device":'),
  stream: utf8(',"stream":'),
  webgpuCall: utf8(`,${JSON.stringify(WEBGPU_CALL_ARG)}:`),
  sharedMemory: utf8(',"shared memory":'),
  grid: utf8(',"grid":'),
  block: utf8(',"block":'),
  bound: utf8(',"bound buffer bytes":'),
};
const COMMA = 44;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

/** Caches raw string -> encoded fragment, bounded so that a stream of unique strings cannot grow it without end. */
class FragmentCache {
  private readonly map = new Map<string, Uint8Array>();
  constructor(private readonly make: (raw: string) => string) {}
  get(raw: string): Uint8Array {
    let out = this.map.get(raw);
    if (out === undefined) {
      out = utf8(this.make(raw));
      if (this.map.size < 4096) this.map.set(raw, out);
    }
    return out;
  }
}

/**
 * Everything of a hot event before its `ts` value, per event name, as one fragment:
 * `\n{"ph":"X","cat":"kernel","name":"matmul","pid":0,"tid":7,"ts":`.
 */
class HeadCache {
  private readonly map = new Map<string, Uint8Array>();
  private pid = NaN;
  private tid = NaN;
  constructor(private readonly cat: string) {}
  get(name: string, pid: number, tid: number): Uint8Array {
    if (pid !== this.pid || tid !== this.tid) {
      this.map.clear();
      this.pid = pid;
      this.tid = tid;
    }
    let out = this.map.get(name);
    if (out === undefined) {
      out = utf8(`\n{"ph":"X","cat":"${this.cat}","name":${jsonString(sanitizeEventName(name))},"pid":${pid},"tid":${tid},"ts":`);
      if (this.map.size < 4096) this.map.set(name, out);
    }
    return out;
  }
}

/** The JSON text writer (see the file comment). */
export class ByteWriter implements EventWriter {
  readonly out: ByteOut;
  events = 0;
  private readonly names = new FragmentCache((raw) => jsonString(sanitizeEventName(raw)));
  private readonly strings = new FragmentCache(jsonString);
  private readonly keys = new FragmentCache((key) => jsonString(key) + ':');
  private readonly opHeads = new HeadCache('cpu_op');
  private readonly launchHeads = new HeadCache('cuda_runtime');
  private readonly kernelHeads = new HeadCache('kernel');
  // `,"pid":P,"tid":T,"ts":` for the last two threads seen (host and GPU alternate).
  private threadA = { pid: NaN as number | string, tid: NaN as number | string, bytes: new Uint8Array() as Uint8Array };
  private threadB = { pid: NaN as number | string, tid: NaN as number | string, bytes: new Uint8Array() as Uint8Array };
  // `Call stack` text by stack array (records may share one) and by joined text (stacks repeat).
  private readonly stackBytes = new WeakMap<readonly string[], Uint8Array>();

  constructor(chunkBytes: number) {
    this.out = new ByteOut(chunkBytes);
  }

  pending(): number {
    return this.out.pending();
  }
  take(): Uint8Array {
    return this.out.take();
  }
  /** The comma before every event but the first; the event's own head starts with the newline. */
  private sep(): void {
    if (this.events++ > 0) this.out.byte(COMMA);
  }
  /** `,"pid":P,"tid":T,"ts":` */
  private thread(pid: number | string, tid: number | string): Uint8Array {
    const a = this.threadA;
    if (a.pid === pid && a.tid === tid) return a.bytes;
    const b = this.threadB;
    if (b.pid === pid && b.tid === tid) return b.bytes;
    const text = `,"pid":${typeof pid === 'number' ? pid : jsonString(pid)},"tid":${typeof tid === 'number' ? tid : jsonString(tid)},"ts":`;
    this.threadB = a;
    this.threadA = { pid, tid, bytes: utf8(text) };
    return this.threadA.bytes;
  }
  private args(bag: ArgBag): void {
    const out = this.out;
    out.byte(OPEN_BRACE);
    let first = true;
    for (const key in bag) {
      const v = bag[key];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      if (!first) out.byte(COMMA);
      out.bytes(this.keys.get(key));
      out.value(v);
      first = false;
    }
    out.byte(CLOSE_BRACE);
  }
  meta(name: string, pid: number, tid: number, tsNs: number, key: string, value: string | number): void {
    const out = this.out;
    this.sep();
    out.bytes(F.metaHead);
    out.text(name);
    out.bytes(F.metaTs);
    out.us(tsNs);
    out.bytes(F.pid);
    out.num(pid);
    out.bytes(F.tid);
    out.num(tid);
    out.bytes(F.argsOpen);
    out.bytes(this.keys.get(key));
    out.value(value);
    out.bytes(F.close2);
  }
  complete(cat: string, name: string, pid: number, tid: number, tsNs: number, durNs: number, args: ArgBag): void {
    const out = this.out;
    this.sep();
    out.bytes(F.xHead);
    out.bytes(this.strings.get(cat));
    out.bytes(F.name);
    out.bytes(this.names.get(name));
    out.bytes(this.thread(pid, tid));
    out.us(tsNs);
    out.bytes(F.dur);
    out.us(durNs);
    out.bytes(F.args);
    this.args(args);
    out.byte(CLOSE_BRACE);
  }
  instant(cat: string | undefined, scope: 't' | 'g', name: string, pid: number | string, tid: number | string, tsNs: number, args: ArgBag | undefined): void {
    const out = this.out;
    this.sep();
    out.bytes(F.iHead);
    if (cat !== undefined) {
      out.bytes(F.cat);
      out.bytes(this.strings.get(cat));
      out.byte(COMMA);
    }
    out.bytes(F.scope);
    out.text(scope);
    out.bytes(F.scopeEnd);
    out.bytes(this.strings.get(name));
    out.bytes(this.thread(pid, tid));
    out.us(tsNs);
    if (args) {
      out.bytes(F.args);
      this.args(args);
    }
    out.byte(CLOSE_BRACE);
  }
  counter(cat: string, name: string, pid: number, tid: number, tsNs: number, args: ArgBag): void {
    const out = this.out;
    this.sep();
    out.bytes(F.cHead);
    out.bytes(this.strings.get(cat));
    out.bytes(F.name);
    out.bytes(this.strings.get(name));
    out.bytes(this.thread(pid, tid));
    out.us(tsNs);
    out.bytes(F.args);
    this.args(args);
    out.byte(CLOSE_BRACE);
  }
  flow(ph: 's' | 'f', id: number, pid: number, tid: number, tsNs: number): void {
    const out = this.out;
    this.sep();
    out.bytes(ph === 's' ? F.sHead : F.fHead);
    out.uint(id);
    out.bytes(this.thread(pid, tid));
    out.us(tsNs);
    out.bytes(ph === 's' ? F.flowEnd : F.flowEndBp);
  }
  private callStack(stack: readonly string[]): Uint8Array {
    let bytes = this.stackBytes.get(stack);
    if (bytes === undefined) {
      bytes = this.strings.get(stack.join(';'));
      this.stackBytes.set(stack, bytes);
    }
    return bytes;
  }
  /** `,"key":value` for each entry (inside an args object that already has a member). */
  private extraArgs(args: Record<string, unknown>): void {
    const out = this.out;
    for (const key in args) {
      const v = args[key];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      out.byte(COMMA);
      out.bytes(this.keys.get(key));
      out.value(v);
    }
  }

  cpuOp(d: DispatchRecord, tsNs: number, durNs: number, opts: OpOptions): void {
    const out = this.out;
    this.sep();
    out.bytes(this.opHeads.get(d.opName ?? d.kernel, opts.pid, opts.tid));
    out.us(tsNs);
    out.bytes(F.dur);
    out.us(durNs);
    out.bytes(F.extArgs);
    out.uint(d.externalId);
    if (d.args !== undefined) this.extraArgs(d.args);
    if (opts.withShapes) {
      if (d.inputDims !== undefined) {
        out.bytes(F.dims);
        out.value(d.inputDims);
      }
      if (d.inputTypes !== undefined) {
        out.bytes(F.types);
        out.value(d.inputTypes);
      }
    }
    const cost = opts.withFlops ? knownCost(d) : undefined;
    if (cost) {
      out.bytes(F.flops);
      out.num(cost.flops);
      out.bytes(F.bytes);
      out.num(cost.bytesRead + cost.bytesWritten);
    }
    if (opts.withStack && d.stack !== undefined && d.stack.length > 0) {
      out.bytes(F.stack);
      out.bytes(this.callStack(d.stack));
    }
    out.bytes(F.close2);
  }
  // No `cbid`: WebGPU has no CUPTI callback id, and neither HTA nor tb_plugin reads it. The launch is
  // named by the WebGPU call ('dispatchWorkgroups'), or under launchNames 'cuda' by the CUDA call HTA's
  // launch analyses key on, the WebGPU call kept as `webgpu call`; its cat (cuda_runtime) and ids are
  // what link kernels to ops either way.
  dispatchLaunch(d: DispatchRecord, launchName: string, tsNs: number, durNs: number, timed: boolean, gsNs: number, gdurNs: number, ids: ThreadIds): void {
    const out = this.out;
    const corr = d.correlation;
    this.sep();
    out.bytes(this.launchHeads.get(launchName, ids.hostPid, ids.hostTid));
    out.us(tsNs);
    out.bytes(F.dur);
    out.us(durNs);
    out.bytes(F.extArgs);
    out.uint(d.externalId);
    out.bytes(F.corrArg);
    out.uint(corr);
    if (launchName !== d.launch) {
      out.bytes(F.webgpuCall);
      out.bytes(this.strings.get(d.launch));
    }
    out.bytes(F.close2);
    if (!timed) return;
    this.flow('s', corr, ids.hostPid, ids.hostTid, tsNs);
    this.sep();
    out.bytes(this.kernelHeads.get(kernelName(d), ids.gpuPid, ids.gpuTid));
    out.us(gsNs);
    out.bytes(F.dur);
    out.us(gdurNs);
    out.bytes(F.extArgs);
    out.uint(d.externalId);
    out.bytes(F.queued);
    out.uint(ids.gpuPid);
    out.bytes(F.stream);
    out.uint(ids.gpuTid);
    out.bytes(F.corrArg);
    out.uint(corr);
    if (d.workgroupMemoryBytes !== undefined) {
      out.bytes(F.sharedMemory);
      out.uint(d.workgroupMemoryBytes);
    }
    out.bytes(F.grid);
    out.value(d.workgroups);
    if (d.workgroupSize !== undefined) {
      out.bytes(F.block);
      out.value(d.workgroupSize);
    }
    if (d.boundBufferBytes !== undefined) {
      out.bytes(F.bound);
      out.value(d.boundBufferBytes);
    }
    if (d.args !== undefined) this.extraArgs(d.args);
    out.bytes(F.close2);
    this.flow('f', corr, ids.gpuPid, ids.gpuTid, gsNs);
  }
}
