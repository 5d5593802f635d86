// The write path's failures (issue 9 items 1, 3, 4; issue 10 item 3), made real where this machine
// can make them and injected where it cannot:
// - local: a full disk (a 64 KiB tmpfs when this process may mount one, and always an ENOSPC injected
//   at the file handle), a read-only file system (a read-only tmpfs mount, else a 0555 directory for a
//   non-root user), a directory this user may not write (a child process running as nobody), a path
//   under a regular file, a name too long, /proc (used to spin forever) → TraceSinkErrors with stable
//   codes naming the file; stale temp files of interrupted writes are removed on the next write;
// - remote: http(s) against a local server (retries, backoff, fallback dir, redacted credentials),
//   s3:// with the real @aws-sdk/client-s3 against s3rver (a local S3-compatible server from npm),
//   gs:// with the real @google-cloud/storage against a recorded-protocol fake of the JSON upload API
//   (no GCS emulator installs from npm or Debian), and a missing SDK.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseTraceBytes, validateTrace } from '../../src/report/index.js';
import {
  DEAD_WRITER_GRACE_MS,
  FsSink,
  GcsSink,
  HttpSink,
  S3Sink,
  STALE_TEMP_MS,
  TraceSinkError,
  sinkForDir,
  tempFileName,
  traceFsError,
} from '../../src/trace/sinks.js';
import { writeTrace } from '../../src/trace/write.js';
import { setLogSink } from '../../src/util/log.js';
import { twoStepRecord } from './fixtures/trace-records.js';
import { injectEnospc } from './helpers/enospc.js';

const TIME_NS = 1_795_829_617_273_139_504n;
const NAME = 'abc12-rank-0.1795829617273139504.pt.trace.json.gz';
const roots: string[] = [];
const mounts: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgprof-sinks-test-'));
  roots.push(dir);
  return dir;
}
let restoreLog: () => void = () => {};
before(() => {
  restoreLog = setLogSink(() => undefined);
});
after(() => {
  restoreLog();
  for (const dir of mounts) spawnSync('umount', ['-l', dir]);
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

/** Mounts a tmpfs with these options on a new directory; undefined when this process may not mount. */
function mountTmpfs(options: string): string | undefined {
  const dir = tempDir();
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (result.status !== 0) return undefined;
  mounts.push(dir);
  return dir;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** A sink error with this code, naming `file`. */
function sinkError(code: string, file: string | RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof TraceSinkError, `a TraceSinkError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (typeof file === 'string') assert.ok(e.message.includes(file), `"${e.message}" names ${file}`);
    else assert.match(e.message, file);
    return true;
  };
}

/** A trace big enough (uncompressed) to fill 64 KiB. */
function bigRecord(): ReturnType<typeof twoStepRecord> {
  const record = twoStepRecord();
  for (let i = 0; i < 3000; i++) record.dispatches.push({ ...record.dispatches[0]!, externalId: 10_000 + i, correlation: 20_000 + i });
  return record;
}

describe('local write failures: typed, naming the file and the cause', () => {
  it('a full disk (ENOSPC, injected at the file handle): TRACE_DISK_FULL naming the file; no temp file; the old file intact', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, NAME), 'previous');
    // The FileHandle class of fs/promises: every handle's write() fails with ENOSPC while patched.
    const restore = await injectEnospc(dir);
    try {
      await assert.rejects(writeTrace(twoStepRecord(), { dir, timeNs: TIME_NS }), sinkError('TRACE_DISK_FULL', join(dir, NAME)));
    } finally {
      restore();
    }
    assert.deepEqual(readdirSync(dir), [NAME], 'no temp file left');
    assert.equal(readFileSync(join(dir, NAME), 'utf8'), 'previous');
  });

  it(`a full disk for real: a 64 KiB tmpfs${isRoot ? '' : ' (needs root; this run injects ENOSPC through the sink instead)'}`, async () => {
    const dir = mountTmpfs('size=64k');
    if (dir) {
      await assert.rejects(writeTrace(bigRecord(), { dir, timeNs: TIME_NS, useGzip: false }), (e: unknown) => {
        assert.ok(e instanceof TraceSinkError && e.code === 'TRACE_DISK_FULL' && e.errno === 'ENOSPC', String(e));
        assert.ok(e.message.includes(join(dir, NAME.replace(/\.gz$/, ''))), e.message);
        return true;
      });
      assert.deepEqual(readdirSync(dir), [], 'the temp file is removed');
      return;
    }
    // No mount here: the same error through a sink that throws ENOSPC, mapped as FsSink maps it.
    const error = traceFsError(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }), '/x/y.pt.trace.json');
    assert.ok(sinkError('TRACE_DISK_FULL', '/x/y.pt.trace.json')(error));
  });

  it('a read-only file system (EROFS) or directory: TRACE_READ_ONLY / TRACE_PERMISSION_DENIED naming the directory', async () => {
    const ro = mountTmpfs('ro,size=64k');
    if (ro) {
      await assert.rejects(writeTrace(twoStepRecord(), { dir: ro, timeNs: TIME_NS }), sinkError('TRACE_READ_ONLY', join(ro, NAME)));
      await assert.rejects(writeTrace(twoStepRecord(), { dir: join(ro, 'sub'), timeNs: TIME_NS }), sinkError('TRACE_READ_ONLY', join(ro, 'sub')));
      return;
    }
    assert.ok(!isRoot, 'root could mount a read-only tmpfs');
    const dir = tempDir();
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    await assert.rejects(writeTrace(twoStepRecord(), { dir: locked, timeNs: TIME_NS }), sinkError('TRACE_PERMISSION_DENIED', join(locked, NAME)));
  });

  it('a directory this user may not write (EACCES, a real non-root writer): TRACE_PERMISSION_DENIED naming it', async () => {
    const dir = tempDir();
    const target = join(dir, 'sub', 'traces');
    if (!isRoot) {
      // Not root: a 0555 directory is unwritable for this user.
      mkdirSync(join(dir, 'sub'), { mode: 0o555 });
      await assert.rejects(new FsSink(target).open(NAME), sinkError('TRACE_PERMISSION_DENIED', target));
      return;
    }
    // Root writes anywhere: a child running as nobody meets a real EACCES on this root-owned 0755 directory.
    const script = `import { FsSink } from ${JSON.stringify(fileURLToPath(new URL('../../src/trace/sinks.ts', import.meta.url)))};
      try { await new FsSink(${JSON.stringify(target)}).open('x.pt.trace.json'); console.log('{}'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, errno: e.errno })); }`;
    const register = fileURLToPath(new URL('../../scripts/register.mjs', import.meta.url));
    const child = spawnSync(process.execPath, ['--import', register, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      uid: 65534,
      gid: 65534,
      timeout: 60_000,
    });
    assert.equal(child.status, 0, child.stderr);
    const result = JSON.parse(child.stdout.trim().split('\n').pop()!) as { code: string; message: string; errno: string };
    assert.equal(result.code, 'TRACE_PERMISSION_DENIED');
    assert.equal(result.errno, 'EACCES');
    assert.ok(result.message.includes(join(dir, 'sub')), result.message);
  });

  it('a path under a regular file (ENOTDIR): TRACE_NOT_A_DIRECTORY naming the file in the way', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'plain'), 'x');
    await assert.rejects(
      writeTrace(twoStepRecord(), { dir: join(dir, 'plain', 'a', 'b'), timeNs: TIME_NS }),
      sinkError('TRACE_NOT_A_DIRECTORY', `${join(dir, 'plain')} is a file`),
    );
    await assert.rejects(writeTrace(twoStepRecord(), { dir: join(dir, 'plain'), timeNs: TIME_NS }), sinkError('TRACE_NOT_A_DIRECTORY', join(dir, 'plain')));
  });

  it('a name longer than the file system allows (ENAMETOOLONG): TRACE_PATH_TOO_LONG', async () => {
    const dir = join(tempDir(), 'x'.repeat(300));
    await assert.rejects(writeTrace(twoStepRecord(), { dir, timeNs: TIME_NS }), sinkError('TRACE_PATH_TOO_LONG', /use a shorter torch_profiler_dir/i));
  });

  it('a directory under /proc fails at once with TRACE_DIR_UNCREATABLE (recursive mkdir used to spin forever)', async () => {
    const dir = `/proc/wgprof-test-${process.pid}/a/b`;
    await assert.rejects(writeTrace(twoStepRecord(), { dir, timeNs: TIME_NS }), sinkError('TRACE_DIR_UNCREATABLE', `/proc/wgprof-test-${process.pid}`));
    await assert.rejects(new FsSink('/proc/self/wgprof').open('x.txt'), sinkError('TRACE_DIR_UNCREATABLE', '/proc/self/wgprof'));
  });

  it('maps each errno to its stable code and says how to fix it', () => {
    const cases: [string, string][] = [
      ['ENOSPC', 'TRACE_DISK_FULL'],
      ['EDQUOT', 'TRACE_DISK_FULL'],
      ['EROFS', 'TRACE_READ_ONLY'],
      ['EACCES', 'TRACE_PERMISSION_DENIED'],
      ['EPERM', 'TRACE_PERMISSION_DENIED'],
      ['ENAMETOOLONG', 'TRACE_PATH_TOO_LONG'],
      ['ENOTDIR', 'TRACE_NOT_A_DIRECTORY'],
      ['ELOOP', 'TRACE_DIR_UNCREATABLE'],
      ['EIO', 'TRACE_WRITE_FAILED'],
    ];
    for (const [errno, code] of cases) {
      const error = traceFsError(Object.assign(new Error(`${errno}: boom`), { code: errno }), '/d/f.pt.trace.json.gz');
      assert.equal(error.code, code, errno);
      assert.equal(error.errno, errno);
      assert.equal(error.file, '/d/f.pt.trace.json.gz');
      assert.match(error.message, new RegExp(`^${code}: could not write /d/f\\.pt\\.trace\\.json\\.gz: ${errno}: boom\\. [A-Z]`));
    }
  });
});

describe('stale temp files of interrupted writes', () => {
  it('are removed on the next write into the directory: only ours, only when stale', async () => {
    const dir = tempDir();
    // A pid that is certainly not running: a child that has exited.
    const deadPid = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const minutesAgo = (m: number): Date => new Date(Date.now() - m * 60_000);
    const files: { name: string; mtime: Date; removed: boolean }[] = [
      { name: `.a.1.pt.trace.json.gz.tmp-${deadPid}-abcdefgh`, mtime: minutesAgo(DEAD_WRITER_GRACE_MS / 60_000 + 1), removed: true },
      { name: `.b.1.pt.trace.json.gz.tmp-${deadPid}-abcdefgh`, mtime: new Date(), removed: false },
      { name: `.c.1.pt.trace.json.tmp-${process.pid}-abcdefgh`, mtime: minutesAgo(1), removed: false },
      { name: `.d.1.pt.trace.json.tmp-${process.pid}-abcdefgh`, mtime: minutesAgo(STALE_TEMP_MS / 60_000 + 1), removed: true },
      { name: '.profiler_out_0.txt.tmp-0a1b2c3d', mtime: minutesAgo(STALE_TEMP_MS / 60_000 + 1), removed: true },
      { name: `.g.1795829617273139504.profiler_out.txt.tmp-${deadPid}-abcdefgh`, mtime: minutesAgo(DEAD_WRITER_GRACE_MS / 60_000 + 1), removed: true },
      { name: '.notes.txt.tmp-0a1b2c3d', mtime: minutesAgo(60), removed: false },
      { name: '.e.1.pt.trace.json.gz.tmp-1-abc', mtime: minutesAgo(60), removed: false },
      { name: 'f.1.pt.trace.json.gz', mtime: minutesAgo(60), removed: false },
    ];
    for (const f of files) {
      writeFileSync(join(dir, f.name), 'x');
      utimesSync(join(dir, f.name), f.mtime, f.mtime);
    }
    const written = await writeTrace(twoStepRecord(), { dir, timeNs: TIME_NS });
    const left = new Set(readdirSync(dir));
    for (const f of files) assert.equal(left.has(f.name), !f.removed, `${f.name} ${f.removed ? 'removed' : 'kept'}`);
    assert.ok(left.has(NAME));
    assert.equal(left.size, files.filter((f) => !f.removed).length + 1, [...left].join(', '));
    assert.equal(written.path, join(dir, NAME));
  });

  it('temp names carry the writer pid and stay within 255 bytes', () => {
    const long = `${'w'.repeat(200)}.1795829617273139504.pt.trace.json.gz`;
    const temp = tempFileName(long, 4_194_304);
    assert.ok(Buffer.byteLength(temp) <= 255, `${temp.length}`);
    assert.match(temp, /^\.w+\.1795829617273139504\.pt\.trace\.json\.gz\.tmp-4194304-[0-9a-z]{8}$/);
  });
});

interface Received {
  method: string;
  url: string;
  authorization: string | undefined;
  body: Buffer;
}

/** A local HTTP server answering each request with the next status of `statuses` (then the last one). */
async function uploadServer(statuses: number[]): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, body: Buffer.concat(parts) });
      res.statusCode = statuses[Math.min(received.length - 1, statuses.length - 1)]!;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A port nothing listens on (bound once, then closed). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const FAST = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

describe('http(s):// directories', () => {
  it('retry 503 and 429 with backoff, then deliver the file', async () => {
    const up = await uploadServer([503, 429, 201]);
    try {
      const written = await writeTrace(twoStepRecord(), { sink: sinkForDir(`${up.url}/t`, { retry: FAST, fallbackDir: tempDir() }), timeNs: TIME_NS });
      assert.equal(written.path, `${up.url}/t/${NAME}`);
      assert.deepEqual(
        up.received.map((r) => r.url),
        [`/t/${NAME}`, `/t/${NAME}`, `/t/${NAME}`],
      );
      assert.deepEqual(validateTrace(parseTraceBytes(up.received[2]!.body)), []);
    } finally {
      await up.close();
    }
  });

  it('a refused connection keeps the file in the fallback dir and says where (TRACE_UPLOAD_FAILED, ECONNREFUSED)', async () => {
    const fallbackDir = tempDir();
    const base = `http://127.0.0.1:${await deadPort()}/traces`;
    await assert.rejects(writeTrace(twoStepRecord(), { sink: sinkForDir(base, { retry: FAST, fallbackDir }), timeNs: TIME_NS }), (e: unknown) => {
      assert.ok(e instanceof TraceSinkError);
      assert.equal(e.code, 'TRACE_UPLOAD_FAILED');
      assert.equal(e.errno, 'ECONNREFUSED');
      assert.equal(e.file, `${base}/${NAME}`);
      assert.equal(e.fallbackPath, join(fallbackDir, NAME));
      assert.match(
        e.message,
        new RegExp(`could not upload ${NAME.replace(/\./g, '\\.')} to .*\\(3 tries\\): PUT failed: connection refused.*The file is kept at ${fallbackDir}`),
      );
      return true;
    });
    assert.deepEqual(validateTrace(parseTraceBytes(readFileSync(join(fallbackDir, NAME)))), []);
  });

  it('a 403 is not retried; user:password and query values never appear in messages or results', async () => {
    const up = await uploadServer([403]);
    const fallbackDir = tempDir();
    try {
      const base = up.url.replace('http://', 'http://alice:s3cret@') + '/t?token=abc123';
      const sink = new HttpSink(base, { retry: FAST, fallback: new FsSink(fallbackDir) });
      await assert.rejects(writeTrace(twoStepRecord(), { sink, timeNs: TIME_NS }), (e: unknown) => {
        assert.ok(e instanceof TraceSinkError && e.code === 'TRACE_UPLOAD_FAILED');
        assert.match(e.message, /\(1 try\): PUT answered 403/);
        assert.doesNotMatch(`${e.message} ${e.file}`, /s3cret|abc123/);
        return true;
      });
      assert.equal(up.received.length, 1);
      assert.equal(up.received[0]!.url, `/t/${NAME}?token=abc123`, 'the name goes into the path, the query stays');
      assert.equal(up.received[0]!.authorization, `Basic ${Buffer.from('alice:s3cret').toString('base64')}`, 'user:password travel as Basic auth');
      assert.doesNotMatch(sink.location, /s3cret|abc123/);
      assert.ok(existsSync(join(fallbackDir, NAME)));
    } finally {
      await up.close();
    }
  });

  it('without a fallback the error says the trace was not kept', async () => {
    const base = `http://127.0.0.1:${await deadPort()}/t`;
    await assert.rejects(
      writeTrace(twoStepRecord(), { sink: new HttpSink(base, { retry: { attempts: 1 } }), timeNs: TIME_NS }),
      /No local fallback directory is set, so the trace was not kept/,
    );
  });
});

describe('s3:// directories (@aws-sdk/client-s3 against s3rver, a local S3-compatible server)', () => {
  let s3rver: { close(): Promise<void> };
  let endpoint: string;
  const saved: Record<string, string | undefined> = {};
  const env: Record<string, string> = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

  before(async () => {
    // s3rver has no type declarations: required as CommonJS.
    const S3rver = createRequire(import.meta.url)('s3rver') as new (o: Record<string, unknown>) => { run(): Promise<AddressInfo>; close(): Promise<void> };
    const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: tempDir(), configureBuckets: [{ name: 'traces' }] });
    const address = await server.run();
    s3rver = server;
    endpoint = `http://127.0.0.1:${address.port}`;
    // Credentials and endpoint only through the SDK's standard environment, as a user gives them.
    for (const [key, value] of Object.entries({ ...env, AWS_ENDPOINT_URL_S3: endpoint })) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
  });

  after(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await s3rver?.close();
  });

  it('PUTs each file to bucket/prefix/name; the object reads back as a valid trace', async () => {
    const written = await writeTrace(twoStepRecord(), { dir: 's3://traces/run-1/', timeNs: TIME_NS });
    assert.equal(written.path, `s3://traces/run-1/${NAME}`);
    const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const object = await new S3Client({}).send(new GetObjectCommand({ Bucket: 'traces', Key: `run-1/${NAME}` }));
    assert.equal(object.ContentType, 'application/gzip');
    assert.deepEqual(validateTrace(parseTraceBytes(await object.Body!.transformToByteArray())), []);
  });

  it('a missing bucket fails without retries and keeps the file in the fallback dir', async () => {
    const fallbackDir = tempDir();
    await assert.rejects(
      writeTrace(twoStepRecord(), { sink: sinkForDir('s3://no-such-bucket/x', { retry: FAST, fallbackDir }), timeNs: TIME_NS }),
      (e: unknown) => {
        assert.ok(e instanceof TraceSinkError && e.code === 'TRACE_UPLOAD_FAILED', String(e));
        assert.match(e.message, /to s3:\/\/no-such-bucket\/x\/.*\(1 try\).*HTTP 404.*The file is kept at/);
        assert.equal(e.fallbackPath, join(fallbackDir, NAME));
        return true;
      },
    );
    assert.ok(existsSync(join(fallbackDir, NAME)));
  });

  it('a dead endpoint is retried, then the file is kept in the fallback dir', async () => {
    const fallbackDir = tempDir();
    const previous = process.env['AWS_ENDPOINT_URL_S3'];
    process.env['AWS_ENDPOINT_URL_S3'] = `http://127.0.0.1:${await deadPort()}`;
    try {
      await assert.rejects(writeTrace(twoStepRecord(), { sink: sinkForDir('s3://traces/y', { retry: FAST, fallbackDir }), timeNs: TIME_NS }), (e: unknown) => {
        assert.ok(e instanceof TraceSinkError && e.code === 'TRACE_UPLOAD_FAILED', String(e));
        assert.match(e.message, /\(3 tries\).*ECONNREFUSED/);
        return true;
      });
    } finally {
      process.env['AWS_ENDPOINT_URL_S3'] = previous;
    }
    assert.deepEqual(validateTrace(parseTraceBytes(readFileSync(join(fallbackDir, NAME)))), []);
  });

  it('a missing region is not retried and the error says which variable to set', async () => {
    const region = process.env['AWS_REGION'];
    delete process.env['AWS_REGION'];
    const fallbackDir = tempDir();
    try {
      await assert.rejects(writeTrace(twoStepRecord(), { sink: sinkForDir('s3://traces/r', { retry: FAST, fallbackDir }), timeNs: TIME_NS }), (e: unknown) => {
        assert.ok(e instanceof TraceSinkError && e.code === 'TRACE_UPLOAD_FAILED', String(e));
        assert.match(e.message, /\(1 try\): Region is missing: set AWS_REGION/);
        assert.doesNotMatch(e.message, /S3RVER/, 'no credential value in the message');
        return true;
      });
    } finally {
      process.env['AWS_REGION'] = region;
    }
    assert.ok(existsSync(join(fallbackDir, NAME)));
  });

  it('without the SDK installed: TRACE_SINK_SDK_MISSING naming the package and how to install it, the file kept', async () => {
    const fallbackDir = tempDir();
    const missing = async (specifier: string): Promise<never> => {
      throw Object.assign(new Error(`Cannot find package '${specifier}'`), { code: 'ERR_MODULE_NOT_FOUND' });
    };
    const sink = new S3Sink('s3://traces/z', { retry: FAST, fallback: new FsSink(fallbackDir), importModule: missing });
    await assert.rejects(writeTrace(twoStepRecord(), { sink, timeNs: TIME_NS }), (e: unknown) => {
      assert.ok(e instanceof TraceSinkError && e.code === 'TRACE_SINK_SDK_MISSING', String(e));
      assert.match(e.message, /optional package @aws-sdk\/client-s3, which is not installed: run `npm install @aws-sdk\/client-s3`/);
      assert.match(e.message, /\(1 try\)/);
      assert.match(e.message, /The file is kept at/);
      return true;
    });
    assert.ok(existsSync(join(fallbackDir, NAME)));
    const gcs = new GcsSink('gs://b/p', { retry: FAST, importModule: missing });
    await assert.rejects(writeTrace(twoStepRecord(), { sink: gcs, timeNs: TIME_NS }), /optional package @google-cloud\/storage/);
  });
});

describe('gs:// directories (@google-cloud/storage against a recorded-protocol fake of the JSON upload API)', () => {
  let fake: Server;
  const objects = new Map<string, { contentType: string; body: Buffer }>();
  let failNext = 0;
  let requests = 0;
  let previous: string | undefined;

  /** multipart/related: part 1 is the object's JSON metadata, part 2 its bytes. */
  function parseMultipart(req: IncomingMessage, body: Buffer): { metadata: { name?: string; contentType?: string }; data: Buffer } {
    const boundary = /boundary=([^;]+)/.exec(String(req.headers['content-type']))![1]!;
    const text = body.toString('latin1');
    const parts = text.split(`--${boundary}`).slice(1, -1);
    const [meta, data] = parts.map((p) => p.slice(p.indexOf('\r\n\r\n') + 4, -2));
    return { metadata: JSON.parse(meta!) as { name?: string; contentType?: string }, data: Buffer.from(data!, 'latin1') };
  }

  before(async () => {
    fake = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        requests++;
        const match = /^\/upload\/storage\/v1\/b\/([^/]+)\/o\?(.*)$/.exec(req.url ?? '');
        if (req.method !== 'POST' || !match || !/uploadType=multipart/.test(match[2]!)) {
          res.writeHead(404).end();
          return;
        }
        if (failNext > 0) {
          failNext--;
          res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 503, message: 'backend unavailable' } }));
          return;
        }
        const { metadata, data } = parseMultipart(req, Buffer.concat(parts));
        // The object name comes in the query (name=...) or in the metadata part.
        const name = new URLSearchParams(match[2]).get('name') ?? metadata.name;
        objects.set(`${match[1]}/${name}`, { contentType: metadata.contentType ?? String(req.headers['x-upload-content-type'] ?? ''), body: data });
        const md5Hash = createHash('md5').update(data).digest('base64');
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ kind: 'storage#object', bucket: match[1], name, size: String(data.length), md5Hash }));
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    previous = process.env['STORAGE_EMULATOR_HOST'];
    process.env['STORAGE_EMULATOR_HOST'] = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });

  after(async () => {
    if (previous === undefined) delete process.env['STORAGE_EMULATOR_HOST'];
    else process.env['STORAGE_EMULATOR_HOST'] = previous;
    await new Promise((resolve) => fake.close(resolve));
  });

  it('uploads each file to bucket/prefix/name, MD5-checked; a 503 is retried', async () => {
    failNext = 1;
    requests = 0;
    const written = await writeTrace(twoStepRecord(), { sink: sinkForDir('gs://bkt/runs/a', { retry: FAST, fallbackDir: tempDir() }), timeNs: TIME_NS });
    assert.equal(written.path, `gs://bkt/runs/a/${NAME}`);
    assert.equal(requests, 2, 'one 503, one success');
    const object = objects.get(`bkt/runs/a/${NAME}`);
    assert.ok(object, [...objects.keys()].join(', '));
    assert.equal(object.contentType, 'application/gzip');
    assert.deepEqual(validateTrace(parseTraceBytes(object.body)), []);
  });
});
