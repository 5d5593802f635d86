// Reading traces as a stream (issue 9 item 6): any size, gzip checked (CRC-32, ISIZE, members,
// trailing data), only regular files, junk elements skipped by name. No GPU.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { runSummarize } from '../../src/cli/summarize.js';
import { keyAverages, parseTraceBytes, parseTraceFile, readTrace, readTraceBytes } from '../../src/report/index.js';
import type { TraceReadResult } from '../../src/report/index.js';
import { setLogSink } from '../../src/util/log.js';
import { WgprofError } from '../../src/util/errors.js';
import { GOLDEN_NAME } from './fixtures/make-trace-fixtures.js';
import { writeBigTrace } from './helpers/big-trace.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = dirname(fileURLToPath(import.meta.url)) + '/fixtures';
const GOLDEN_GZ = join(fixtures, GOLDEN_NAME + '.gz');
const TORCH_STACK = join(fixtures, 'torch/torch-2.13-full-with-stack.rank0.1795829617273139504.pt.trace.json.gz');
const goldenText = readFileSync(join(fixtures, GOLDEN_NAME), 'utf8');
const golden = JSON.parse(goldenText);

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgprof-read-test-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function file(name: string, bytes: Uint8Array | string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, bytes);
  return path;
}

const code = (c: string) => (e: unknown) => e instanceof WgprofError && e.code === c;

async function summarize(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await runSummarize(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code: status, out, err };
}

/** The golden trace as gzip with a byte changed (offset from the end). */
function goldenGzWith(fromEnd: number, xor: number): Uint8Array {
  const gz = Uint8Array.from(readFileSync(GOLDEN_GZ));
  gz[gz.length - fromEnd]! ^= xor;
  return gz;
}

describe('readTrace / readTraceBytes', () => {
  it('gives every event, in order, whatever the chunk size (seams inside strings, escapes, numbers)', () => {
    const torch = readFileSync(TORCH_STACK);
    const want = JSON.parse(gunzipSync(torch).toString('utf8'));
    for (const chunkBytes of [5, 64, 4096]) {
      const events: unknown[] = [];
      const read = readTraceBytes(torch, (e, i) => events.push([i, e]), 'torch', { chunkBytes });
      assert.deepEqual(
        events,
        want.traceEvents.map((e: unknown, i: number) => [i, e]),
        `chunk ${chunkBytes}`,
      );
      assert.equal(read.events, want.traceEvents.length);
      assert.deepEqual(read.keyOrder, Object.keys(want));
      assert.equal(read.header['traceName'], want.traceName);
    }
    const events: unknown[] = [];
    readTraceBytes(Buffer.from(goldenText), (e) => events.push(e), 'golden', { chunkBytes: 1 });
    assert.deepEqual(events, golden.traceEvents);
  });

  it('reads a file from disk (plain or gzip) into the same trace JSON.parse gives', async () => {
    assert.deepEqual(await parseTraceFile(GOLDEN_GZ), JSON.parse(gunzipSync(readFileSync(GOLDEN_GZ)).toString('utf8')));
    assert.deepEqual(await parseTraceFile(join(fixtures, GOLDEN_NAME)), golden);
    const read = await readTrace(GOLDEN_GZ, () => undefined, { chunkBytes: 5 });
    assert.equal(read.gzip, true);
    assert.equal(read.uncompressedBytes, gunzipSync(readFileSync(GOLDEN_GZ)).length);
    assert.equal(read.headerRaw['baseTimeNanoseconds'], String(golden.baseTimeNanoseconds));
  });

  it('accepts multi-member gzip (members cut anywhere), from bytes and from a file', async () => {
    const cuts = [0, 100, 101, 2000, goldenText.length];
    const members = cuts.slice(1).map((end, i) => gzipSync(goldenText.slice(cuts[i], end)));
    const bytes = Buffer.concat(members);
    const events: unknown[] = [];
    const read = readTraceBytes(bytes, (e) => events.push(e), 'multi', { chunkBytes: 17 });
    assert.equal(read.gzipMembers, 4);
    assert.deepEqual(events, golden.traceEvents);
    assert.deepEqual(await parseTraceFile(file('multi.pt.trace.json.gz', bytes)), golden);
    // Zero padding after the last member (tar, some copies) is what gzip itself accepts.
    assert.deepEqual(parseTraceBytes(Buffer.concat([bytes, Buffer.alloc(9)])), golden);
  });

  it('refuses a bad CRC-32 or ISIZE with the true reason (bytes and file)', async () => {
    const badCrc = goldenGzWith(8, 0x01);
    assert.throws(
      () => parseTraceBytes(badCrc, 'x.gz'),
      (e: unknown) => code('TRACE_GZIP_CRC')(e) && /fails its CRC-32 check \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}/.test((e as Error).message),
    );
    await assert.rejects(parseTraceFile(file('crc.pt.trace.json.gz', badCrc)), code('TRACE_GZIP_CRC'));
    const badSize = goldenGzWith(2, 0x01);
    assert.throws(() => parseTraceBytes(badSize), code('TRACE_GZIP_SIZE'));
    await assert.rejects(parseTraceFile(file('size.pt.trace.json.gz', badSize)), code('TRACE_GZIP_SIZE'));
    // A CRC error in the first of two members too.
    const twoMembers = Buffer.concat([gzipSync(goldenText.slice(0, 500)), gzipSync(goldenText.slice(500))]);
    const firstTrailer = gzipSync(goldenText.slice(0, 500)).length - 8;
    twoMembers[firstTrailer]! ^= 0x80;
    assert.throws(
      () => parseTraceBytes(twoMembers),
      (e: unknown) => code('TRACE_GZIP_CRC')(e) && /member 1 /.test((e as Error).message),
    );
  });

  it('refuses trailing garbage after the gzip data and after the JSON', async () => {
    const gz = readFileSync(GOLDEN_GZ);
    for (const junk of ['garbage!', 'ab']) {
      const bytes = Buffer.concat([gz, Buffer.from(junk)]);
      assert.throws(
        () => parseTraceBytes(bytes),
        (e: unknown) => code('TRACE_TRAILING_GARBAGE')(e) && new RegExp(`has ${junk.length} bytes after the end of its gzip data`).test((e as Error).message),
        junk,
      );
    }
    await assert.rejects(parseTraceFile(file('tail.pt.trace.json.gz', Buffer.concat([gz, Buffer.from('garbage!')]))), code('TRACE_TRAILING_GARBAGE'));
    assert.throws(
      () => parseTraceBytes(Buffer.from(goldenText + '{"x": 1}')),
      (e: unknown) => code('TRACE_PARSE_ERROR')(e) && /trailing garbage/.test((e as Error).message),
    );
  });

  it('says a cut-short file is incomplete (gzip or plain)', async () => {
    const gz = readFileSync(GOLDEN_GZ);
    await assert.rejects(parseTraceFile(file('cut.pt.trace.json.gz', gz.subarray(0, gz.length - 200))), code('TRACE_TRUNCATED'));
    assert.throws(() => parseTraceBytes(gz.subarray(0, gz.length - 200)), code('TRACE_TRUNCATED'));
    assert.throws(
      () => parseTraceBytes(Buffer.from(goldenText.slice(0, 3000))),
      (e: unknown) => code('TRACE_PARSE_ERROR')(e) && /ends before its JSON does .*in traceEvents\[\d+\].*incomplete/.test((e as Error).message),
    );
  });

  it('refuses non-regular files at once: a symlink to /dev/zero, a FIFO, a directory', async () => {
    const dir = tempDir();
    const zero = join(dir, 'zero.pt.trace.json.gz');
    symlinkSync('/dev/zero', zero);
    await assert.rejects(
      readTrace(zero, () => undefined),
      (e: unknown) =>
        code('TRACE_NOT_A_FILE')(e) && /zero\.pt\.trace\.json\.gz \(-> \/dev\/zero\) is a character device, not a regular file/.test((e as Error).message),
    );
    const fifo = join(dir, 'fifo.pt.trace.json');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    await assert.rejects(
      readTrace(fifo, () => undefined),
      (e: unknown) => code('TRACE_NOT_A_FILE')(e) && /is a FIFO \(named pipe\)/.test((e as Error).message),
    );
    await assert.rejects(
      readTrace(dir, () => undefined),
      (e: unknown) => code('TRACE_NOT_FOUND')(e) && /is a directory/.test((e as Error).message),
    );
    const r = await summarize(zero);
    assert.equal(r.code, 1);
    assert.match(r.err, /^wgprof summarize: TRACE_NOT_A_FILE: /);
  });

  it('names the format problems: legacy array, no traceEvents, traceEvents not an array, not JSON, empty', () => {
    assert.throws(
      () => parseTraceBytes(Buffer.from('[{"name": "x"}]')),
      (e: unknown) => code('TRACE_NOT_KINETO')(e) && /legacy autograd-profiler format/.test((e as Error).message),
    );
    assert.throws(
      () => parseTraceBytes(Buffer.from('{"a": 1}')),
      (e: unknown) => code('TRACE_NOT_KINETO')(e) && /no "traceEvents" array/.test((e as Error).message),
    );
    assert.throws(
      () => parseTraceBytes(Buffer.from('{"traceEvents": {}}')),
      (e: unknown) => code('TRACE_NOT_KINETO')(e) && /"traceEvents" is a object/.test((e as Error).message),
    );
    assert.throws(
      () => parseTraceBytes(Buffer.from('{"traceEvents": [{"ph": "X",}]}'), 'bad.json'),
      (e: unknown) => code('TRACE_PARSE_ERROR')(e) && /bad\.json is not valid JSON at character \d+ \(in traceEvents\[0\]\)/.test((e as Error).message),
    );
    assert.throws(
      () => parseTraceBytes(Buffer.from('  ')),
      (e: unknown) => code('TRACE_PARSE_ERROR')(e) && /is empty/.test((e as Error).message),
    );
    assert.throws(
      () => parseTraceBytes(Buffer.from([0x1f, 0x8b, 0x08, 0xff, 1, 2, 3, 4, 5, 6, 7])),
      (e: unknown) => e instanceof WgprofError && /^TRACE_(GZIP_CORRUPT|TRUNCATED)$/.test(e.code),
    );
  });

  it('skips junk elements of traceEvents by name instead of crashing on them', async () => {
    const junk = { ...golden, traceEvents: [null, ...golden.traceEvents.slice(0, 20), 5, 'x', [], ...golden.traceEvents.slice(20)] };
    const path = file('junk.pt.trace.json', JSON.stringify(junk));
    const events: unknown[] = [];
    const read: TraceReadResult = await readTrace(path, (e) => events.push(e));
    assert.equal(read.skipped, 4);
    assert.deepEqual(read.skippedExamples, [
      'traceEvents[0] is null',
      'traceEvents[21] is a number',
      'traceEvents[22] is a string',
      'traceEvents[23] is an array',
    ]);
    assert.deepEqual(events, golden.traceEvents);
    const warnings: string[] = [];
    const restore = setLogSink((level, message) => warnings.push(`${level} ${message}`));
    try {
      const r = await summarize(path);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, (await summarize(GOLDEN_GZ)).out);
    } finally {
      restore();
    }
    assert.ok(
      warnings.some((w) => /^warn .*junk\.pt\.trace\.json: skipped 4 traceEvents element\(s\) that are not JSON objects \(traceEvents\[0\] is null/.test(w)),
      warnings.join('\n'),
    );
    // keyAverages on an in-memory trace holding junk skips it too.
    assert.deepEqual(keyAverages(junk).rows, keyAverages(golden).rows);
  });

  it('reads a trace far larger than its heap: summarize of ~100 MB of JSON under --max-old-space-size=48', async () => {
    const path = join(tempDir(), 'big.pt.trace.json.gz');
    const totals = await writeBigTrace(path, { steps: 300, dispatchesPerStep: 100, stackChars: 3000 });
    assert.ok(totals.uncompressedBytes > 90e6, `${totals.uncompressedBytes} bytes`);
    const result = spawnSync(process.execPath, ['--max-old-space-size=48', 'scripts/run-ts.mjs', 'src/cli/main.ts', 'summarize', path, '--json'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(result.status, 0, result.stderr.slice(-2000));
    const json = JSON.parse(result.stdout);
    assert.equal(json.kernels, totals.kernels);
    assert.equal(json.steps, 300);
    assert.equal(Math.round(json.selfGpuTotalUs * 1000), Math.round(totals.kernelGpuUs * 1000));
    assert.equal(json.rows.find((r: { name: string }) => r.name === 'matmul').calls, totals.kernels / 4);
  });
});
