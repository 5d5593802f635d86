// Trace files: names, gzip, sinks, atomic writes, reading back. No GPU.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'fflate';
import {
  CallbackSink,
  FsSink,
  GcsSink,
  HttpSink,
  S3Sink,
  buildTrace,
  sanitizeWorkerName,
  sinkForDir,
  traceFileName,
  writeTrace,
} from '../../src/trace/index.js';
import { profilerOutFileName } from '../../src/trace/files.js';
import { parseTraceBytes, parseTraceFile, validateTrace } from '../../src/report/index.js';
import type { TraceSink, TraceSinkWriter } from '../../src/trace/index.js';
import { WgprofError } from '../../src/util/errors.js';
import { GOLDEN_NAME, goldenBytes } from './fixtures/make-trace-fixtures.js';
import { twoStepRecord } from './fixtures/trace-records.js';

const TB_PLUGIN_WORKER_PATTERN = /^(.*?)(\.\d+)?\.pt\.trace\.json(?:\.gz)?$/;
const TIME_NS = 1_795_829_617_273_139_504n;
const fixtures = dirname(fileURLToPath(import.meta.url)) + '/fixtures';
const roots: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgprof-trace-test-'));
  roots.push(dir);
  return dir;
}
after(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

const isCode = (code: string) => (error: unknown) => error instanceof WgprofError && error.code === code;

describe('file names', () => {
  it('follows torch’s {worker}.{time_ns}.pt.trace.json[.gz], which tb_plugin and HTA load', () => {
    const name = traceFileName('ab12c-rank-0', TIME_NS, true);
    assert.equal(name, 'ab12c-rank-0.1795829617273139504.pt.trace.json.gz');
    const match = TB_PLUGIN_WORKER_PATTERN.exec(name)!;
    assert.equal(match[1], 'ab12c-rank-0');
    assert.equal(match[2], '.1795829617273139504');
    assert.equal(traceFileName('host_123.async_llm', '1795829617273139504', false), 'host_123.async_llm.1795829617273139504.pt.trace.json');
    assert.match(traceFileName('x', TIME_NS, true), /\.\d{19}\.pt\.trace\.json\.gz$/);
    assert.throws(() => traceFileName('x', '12ab', true), isCode('TRACE_BAD_TIME'));
  });

  it('names the key-averages table after its trace, {worker}.{time_ns}.profiler_out.txt, so every window keeps its own', () => {
    assert.equal(profilerOutFileName('ab12c-rank-0.1795829617273139504.pt.trace.json.gz'), 'ab12c-rank-0.1795829617273139504.profiler_out.txt');
    assert.equal(profilerOutFileName('w.1795829617273139505.pt.trace.json'), 'w.1795829617273139505.profiler_out.txt');
    assert.throws(() => profilerOutFileName('notes.txt'), isCode('TRACE_BAD_FILE_NAME'));
    assert.throws(() => profilerOutFileName('.pt.trace.json.gz'), isCode('TRACE_BAD_FILE_NAME'));
  });

  it('sanitizes worker names so that nothing escapes the directory', () => {
    assert.equal(sanitizeWorkerName('../../etc/x'), '____etc_x');
    assert.equal(sanitizeWorkerName('..'), '_');
    assert.equal(sanitizeWorkerName('.hidden'), '_hidden');
    assert.equal(sanitizeWorkerName('a/b\\c:d e'), 'a_b_c_d_e');
    assert.equal(sanitizeWorkerName('dp0_pp0_tp0.rank-1'), 'dp0_pp0_tp0.rank-1');
    assert.equal(sanitizeWorkerName(''), 'worker');
    assert.equal(sanitizeWorkerName('naïve🚀'), 'na_ve__');
    assert.equal(sanitizeWorkerName('w'.repeat(500)).length, 200);
    for (const nasty of ['../../etc/x', '/abs/path', '..\\..\\x', 'a/../../b', '\u0000']) {
      const name = traceFileName(nasty, TIME_NS, true);
      assert.doesNotMatch(name, /[/\\]|\.\./);
      assert.ok(TB_PLUGIN_WORKER_PATTERN.test(name));
    }
  });
});

describe('writeTrace to a directory', () => {
  it('writes one gzipped, valid trace atomically and reports what it wrote', async () => {
    const dir = tempDir();
    const written = await writeTrace(twoStepRecord(), { dir: join(dir, 'nested', 'traces'), timeNs: TIME_NS });
    assert.equal(written.name, 'abc12-rank-0.1795829617273139504.pt.trace.json.gz');
    assert.equal(written.path, join(dir, 'nested', 'traces', written.name));
    assert.deepEqual(readdirSync(join(dir, 'nested', 'traces')), [written.name], 'no temp file left behind');
    const bytes = readFileSync(written.path);
    assert.equal(written.bytes, bytes.length);
    assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b]);
    const trace = JSON.parse(new TextDecoder().decode(gunzipSync(bytes)));
    assert.equal(written.events, trace.traceEvents.length);
    assert.equal(trace.traceName, written.name);
    assert.deepEqual(validateTrace(trace), []);
    assert.deepEqual(trace, buildTrace(twoStepRecord(), { traceName: written.name }));
  });

  it('keeps a hostile worker name inside the directory', async () => {
    const dir = tempDir();
    const written = await writeTrace(twoStepRecord(), { dir, workerName: '../../etc/x', timeNs: TIME_NS });
    assert.equal(dirname(written.path), dir);
    assert.deepEqual(readdirSync(dir), ['____etc_x.1795829617273139504.pt.trace.json.gz']);
  });

  it('writes plain JSON without use_gzip', async () => {
    const dir = tempDir();
    const written = await writeTrace(twoStepRecord(), { dir, useGzip: false, timeNs: TIME_NS });
    assert.match(written.name, /\.pt\.trace\.json$/);
    const trace = await parseTraceFile(written.path);
    assert.deepEqual(validateTrace(trace), []);
  });

  it('gives byte-identical gzip for the same input, with either engine', async () => {
    for (const gzipEngine of ['fflate', 'node-zlib'] as const) {
      const outs: Uint8Array[] = [];
      for (let run = 0; run < 2; run++) {
        await writeTrace(twoStepRecord({ withMemory: true }), { sink: new CallbackSink((_n, b) => void outs.push(b)), timeNs: TIME_NS, gzipEngine });
      }
      assert.deepEqual(outs[0], outs[1], gzipEngine);
      assert.deepEqual(outs[0]!.subarray(4, 8), new Uint8Array(4), `${gzipEngine}: gzip mtime is 0`);
    }
  });

  it('matches the checked-in golden file (fflate; regenerate with test/unit/fixtures/make-trace-fixtures.ts)', () => {
    assert.deepEqual(new Uint8Array(readFileSync(join(fixtures, GOLDEN_NAME + '.gz'))), goldenBytes(true));
    assert.equal(readFileSync(join(fixtures, GOLDEN_NAME), 'utf8'), new TextDecoder().decode(goldenBytes(false)));
  });

  it('leaves no file and no temp file when the sink fails half-way, and keeps an existing file intact', async () => {
    const dir = tempDir();
    const name = traceFileName('abc12-rank-0', TIME_NS, true);
    writeFileSync(join(dir, name), 'previous trace');
    class FailingSink implements TraceSink {
      readonly location = dir;
      private readonly inner = new FsSink(dir);
      async open(fileName: string): Promise<TraceSinkWriter> {
        const w = await this.inner.open(fileName);
        let writes = 0;
        return {
          write: async (chunk) => {
            if (++writes === 2) throw new Error('disk full');
            await w.write(chunk);
          },
          commit: () => w.commit(),
          abort: () => w.abort(),
        };
      }
    }
    const big = twoStepRecord();
    for (let i = 0; i < 2000; i++) big.dispatches.push({ ...big.dispatches[0]!, externalId: 10_000 + i, correlation: 20_000 + i });
    await assert.rejects(writeTrace(big, { sink: new FailingSink(), timeNs: TIME_NS, gzipEngine: 'fflate', chunkChars: 1024 }), /disk full/);
    assert.deepEqual(readdirSync(dir), [name], 'no temp file');
    assert.equal(readFileSync(join(dir, name), 'utf8'), 'previous trace', 'not clobbered');
    await assert.rejects(writeTrace(big, { sink: new FailingSink(), timeNs: TIME_NS, gzipEngine: 'node-zlib', chunkChars: 1024 }), /disk full/);
    assert.deepEqual(readdirSync(dir), [name]);
  });

  it('checks the record before opening anything', async () => {
    const dir = tempDir();
    const record = twoStepRecord();
    record.dispatches[0]!.opEndNs = NaN;
    await assert.rejects(writeTrace(record, { dir: join(dir, 'never'), timeNs: TIME_NS }), isCode('TRACE_INVALID_RECORD'));
    assert.equal(existsSync(join(dir, 'never')), false);
  });

  it('needs a destination and a known gzip engine', async () => {
    await assert.rejects(writeTrace(twoStepRecord(), {}), isCode('TRACE_NO_SINK'));
    await assert.rejects(
      writeTrace(twoStepRecord(), { sink: new CallbackSink(() => undefined), gzipEngine: 'brotli' as 'fflate' }),
      isCode('TRACE_BAD_OPTION'),
    );
  });

  it('lets the event loop run while a large trace is written', async () => {
    const big = twoStepRecord();
    for (let i = 0; i < 20_000; i++) big.dispatches.push({ ...big.dispatches[0]!, externalId: 10_000 + i, correlation: 40_000 + i });
    for (const gzipEngine of ['fflate', 'node-zlib'] as const) {
      let turns = 0;
      const timer = setInterval(() => turns++, 0);
      await writeTrace(big, { sink: new CallbackSink(() => undefined), timeNs: TIME_NS, sliceMs: 0, gzipEngine });
      clearInterval(timer);
      assert.ok(turns > 0, `${gzipEngine}: timers ran during the write`);
    }
  });
});

describe('sinks', () => {
  it('picks a sink from torch_profiler_dir and names unsupported schemes', () => {
    assert.ok(sinkForDir('/tmp/traces') instanceof FsSink);
    assert.ok(sinkForDir('relative/dir') instanceof FsSink);
    assert.ok(sinkForDir('C:\\traces') instanceof FsSink, 'a drive letter is not a scheme');
    assert.equal((sinkForDir('file:///tmp/my%20traces') as FsSink).dir, '/tmp/my traces');
    assert.ok(sinkForDir('http://127.0.0.1:9/t') instanceof HttpSink);
    assert.ok(sinkForDir('https://example.com/t') instanceof HttpSink);
    assert.ok(sinkForDir('s3://bucket/traces') instanceof S3Sink);
    assert.ok(sinkForDir('gs://bucket/traces') instanceof GcsSink);
    assert.throws(
      () => sinkForDir('ftp://host/traces'),
      (e: unknown) => isCode('TRACE_SINK_UNSUPPORTED')(e) && /"ftp:\/\/"/.test((e as Error).message),
    );
  });

  it('CallbackSink hands over the whole file once, on commit', async () => {
    const got: [string, Uint8Array][] = [];
    const written = await writeTrace(twoStepRecord(), { sink: new CallbackSink((n, b) => void got.push([n, b])), timeNs: TIME_NS });
    assert.equal(got.length, 1);
    assert.equal(got[0]![0], written.name);
    assert.equal(written.path, written.name);
    assert.deepEqual(validateTrace(parseTraceBytes(got[0]![1])), []);
  });

  it('HttpSink PUTs the file to {dir}/{name} and reports a non-2xx answer', async () => {
    const received: { method: string; url: string; type: string; body: Buffer }[] = [];
    let status = 201;
    const server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        received.push({ method: req.method!, url: req.url!, type: String(req.headers['content-type']), body: Buffer.concat(parts) });
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload/`;
      const written = await writeTrace(twoStepRecord(), { dir: base, timeNs: TIME_NS });
      assert.equal(written.path, `${base}abc12-rank-0.1795829617273139504.pt.trace.json.gz`);
      assert.equal(received.length, 1);
      assert.deepEqual(
        [received[0]!.method, received[0]!.url, received[0]!.type],
        ['PUT', '/upload/abc12-rank-0.1795829617273139504.pt.trace.json.gz', 'application/gzip'],
      );
      assert.deepEqual(validateTrace(parseTraceBytes(received[0]!.body)), []);
      status = 500;
      const sink = new HttpSink(base, { method: 'POST', retry: { attempts: 2, baseDelayMs: 1 } });
      await assert.rejects(
        writeTrace(twoStepRecord(), { sink, timeNs: TIME_NS }),
        (e: unknown) => isCode('TRACE_UPLOAD_FAILED')(e) && /answered 500/.test((e as Error).message) && /2 tries/.test((e as Error).message),
      );
      assert.deepEqual(
        received.slice(1).map((r) => r.method),
        ['POST', 'POST'],
        'a 500 is retried',
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses names that are not plain file names', async () => {
    for (const sink of [new FsSink(tempDir()), new CallbackSink(() => undefined)]) {
      await assert.rejects(sink.open('../x'), isCode('TRACE_BAD_FILE_NAME'));
      await assert.rejects(sink.open('a/b'), isCode('TRACE_BAD_FILE_NAME'));
    }
  });
});

describe('reading traces back', () => {
  it('reads .json and .json.gz, from a path or from bytes', async () => {
    const gz = await parseTraceFile(join(fixtures, GOLDEN_NAME + '.gz'));
    const plain = await parseTraceFile(join(fixtures, GOLDEN_NAME));
    assert.deepEqual(gz.traceEvents, plain.traceEvents);
    assert.deepEqual(await parseTraceFile(readFileSync(join(fixtures, GOLDEN_NAME + '.gz'))), gz);
  });

  it('says clearly what is wrong with a file that is not a trace', async () => {
    const dir = tempDir();
    await assert.rejects(parseTraceFile(join(dir, 'missing.pt.trace.json.gz')), isCode('TRACE_NOT_FOUND'));
    await assert.rejects(parseTraceFile(dir), isCode('TRACE_NOT_FOUND'));
    writeFileSync(join(dir, 'bad.json'), '{"traceEvents": [');
    await assert.rejects(parseTraceFile(join(dir, 'bad.json')), isCode('TRACE_PARSE_ERROR'));
    writeFileSync(join(dir, 'legacy.json'), '[{"name":"aten::mm","ph":"X","ts":1,"dur":2,"tid":1,"pid":"CPU functions","args":{}}]');
    await assert.rejects(
      parseTraceFile(join(dir, 'legacy.json')),
      (e: unknown) => isCode('TRACE_NOT_KINETO')(e) && /legacy autograd/.test((e as Error).message),
    );
    writeFileSync(join(dir, 'other.json'), '{"name":"wgprof"}');
    await assert.rejects(parseTraceFile(join(dir, 'other.json')), isCode('TRACE_NOT_KINETO'));
    const gz = readFileSync(join(fixtures, GOLDEN_NAME + '.gz'));
    assert.throws(() => parseTraceBytes(gz.subarray(0, gz.length / 2)), isCode('TRACE_TRUNCATED'));
  });
});

describe('browser bundle', () => {
  it('bundles src/trace for the browser with Node modules only behind dynamic imports', async () => {
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: [fileURLToPath(new URL('../../src/trace/index.ts', import.meta.url))],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
      external: ['node:*'],
    });
    const code = result.outputFiles[0]!.text;
    assert.doesNotMatch(code, /^import[^\n]*["']node:/m, 'no static node: import');
    assert.match(code, /import\(["']node:fs\/promises["']\)/, 'fs only through a dynamic import');
  });
});
