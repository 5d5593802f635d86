// Trace sinks in headless Chromium: writeTrace through OpfsSink (read back from the origin-private file
// system in the page) and DownloadSink (caught as a Playwright download), and an aborted or failed
// write that must leave nothing behind in OPFS. The page uses the package bundle (window.wgprof); no
// GPU work runs, the record is built in the page.

import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import type { Page } from '@playwright/test';
import { parseTraceBytes } from '../../src/report/parse.js';
import { validateTrace } from '../../src/report/validate.js';
import { expect, test } from './fixtures.js';

/** tb_plugin's WORKER_PATTERN, tightened to torch 2.x's 19-digit time_ns. */
const TRACE_NAME = /^(page-rank-0)\.(\d{19})\.pt\.trace\.json\.gz$/;
const SUBDIR = 'wgprof-sinks-test';

declare global {
  interface Window {
    /** Set by installHelpers(): a small CaptureRecord, and OPFS helpers. */
    sinkTest: {
      record(dispatches: number): unknown;
      list(): Promise<string[]>;
      read(name: string): Promise<Uint8Array>;
      put(name: string, text: string): Promise<void>;
      clear(): Promise<void>;
    };
  }
}

/** Helpers the tests call in the page: a CaptureRecord made there (bigints and all), and OPFS access. */
async function installHelpers(page: Page): Promise<void> {
  await page.evaluate((subdir) => {
    const dirHandle = async (): Promise<FileSystemDirectoryHandle> => (await navigator.storage.getDirectory()).getDirectoryHandle(subdir, { create: true });
    window.sinkTest = {
      record(dispatches: number) {
        // Two steps; each dispatch is op ⊃ launch → kernel (with GPU times), as the profiler records them.
        const steps = [0, 1].map((s) => ({ number: s + 2, startNs: 1_000_000 + s * 10_000_000, endNs: 1_000_000 + (s + 1) * 10_000_000 - 1000 }));
        const perStep = Math.ceil(dispatches / 2);
        const list = Array.from({ length: dispatches }, (_, i) => {
          const step = Math.floor(i / perStep);
          const start = steps[step]!.startNs + 5_000 + (i % perStep) * 4_000;
          return {
            externalId: 1 + i,
            correlation: 1 + i,
            kernel: i % 2 ? 'matmul' : 'softmax',
            launch: 'dispatchWorkgroups',
            opStartNs: start,
            opEndNs: start + 3_000,
            launchStartNs: start + 1_000,
            launchEndNs: start + 2_000,
            gpuStartNs: start + 2_500,
            gpuEndNs: start + 3_500,
            workgroups: [4, 2, 1],
            workgroupSize: [64, 1, 1],
          };
        });
        return {
          meta: {
            workerName: 'page-rank-0',
            pid: 4242,
            tid: 1,
            timeOriginEpochNs: BigInt(Math.round(performance.timeOrigin)) * 1_000_000n,
            rank: 0,
            worldSize: 1,
            deviceIndex: 0,
            streamId: 7,
          },
          steps,
          cpuSpans: [],
          dispatches: list,
          copies: [],
          memory: [],
        };
      },
      async list() {
        const names: string[] = [];
        for await (const name of (await dirHandle()) as unknown as AsyncIterable<[string, FileSystemHandle]>) names.push(name[0]);
        return names.sort();
      },
      async read(name: string) {
        const file = await (await (await dirHandle()).getFileHandle(name)).getFile();
        return new Uint8Array(await file.arrayBuffer());
      },
      async put(name: string, text: string) {
        const writable = await (await (await dirHandle()).getFileHandle(name, { create: true })).createWritable();
        await writable.write(text);
        await writable.close();
      },
      async clear() {
        await (await navigator.storage.getDirectory()).removeEntry(subdir, { recursive: true }).catch(() => undefined);
      },
    };
  }, SUBDIR);
  await page.evaluate(() => window.sinkTest.clear());
}

test.describe('trace sinks in the page', () => {
  test('OpfsSink: writes one gzipped trace that reads back, parses and validates', async ({ gpuPage: page }) => {
    await installHelpers(page);
    const result = await page.evaluate(async (subdir) => {
      const w = window.wgprof;
      const written = await w.writeTrace(window.sinkTest.record(40) as Parameters<typeof w.writeTrace>[0], { sink: new w.OpfsSink(subdir) });
      const bytes = await window.sinkTest.read(written.name);
      const trace = w.parseTraceBytes(bytes, written.name);
      return {
        written,
        entries: await window.sinkTest.list(),
        size: bytes.length,
        magic: [bytes[0], bytes[1]],
        problems: w.validateTrace(trace),
        events: trace.traceEvents.length,
        kernels: trace.traceEvents.filter((e) => e.cat === 'kernel').length,
        traceName: trace.traceName,
      };
    }, SUBDIR);
    expect(result.written.name).toMatch(TRACE_NAME);
    expect(result.written.path).toBe(`opfs:/${SUBDIR}/${result.written.name}`);
    expect(result.entries, 'the trace and nothing else (no swap or temp file)').toEqual([result.written.name]);
    expect(result.size).toBe(result.written.bytes);
    expect(result.magic).toEqual([0x1f, 0x8b]);
    expect(result.problems).toEqual([]);
    expect(result.events).toBe(result.written.events);
    expect(result.kernels).toBe(40);
    expect(result.traceName).toBe(result.written.name);
  });

  test('DownloadSink: offers {worker}.{time_ns}.pt.trace.json.gz whose bytes gunzip and validate', async ({ gpuPage: page }) => {
    await installHelpers(page);
    const [download, written] = await Promise.all([
      page.waitForEvent('download'),
      page.evaluate(async () => {
        const w = window.wgprof;
        return w.writeTrace(window.sinkTest.record(25) as Parameters<typeof w.writeTrace>[0], { sink: new w.DownloadSink() });
      }),
    ]);
    const name = download.suggestedFilename();
    expect(name).toBe(written.name);
    const match = TRACE_NAME.exec(name);
    expect(match, `${name} follows torch's file naming`).not.toBeNull();
    // time_ns is "now" in epoch ns: within a day of this machine's clock.
    expect(Math.abs(Number(BigInt(match![2]!) / 1_000_000n) - Date.now())).toBeLessThan(86_400_000);
    const path = await download.path();
    const bytes = new Uint8Array(await readFile(path));
    expect(bytes.length).toBe(written.bytes);
    const text = gunzipSync(bytes).toString('utf8');
    const trace = parseTraceBytes(new TextEncoder().encode(text), name);
    expect(validateTrace(trace)).toEqual([]);
    expect(trace.traceEvents.length).toBe(written.events);
    expect(trace.traceEvents.filter((e) => e.cat === 'kernel').length).toBe(25);
    expect(trace.traceName).toBe(name);
  });

  test('a write that fails half-way, or at commit, leaves nothing in OPFS and an older file intact', async ({ gpuPage: page }) => {
    await installHelpers(page);
    const outcome = await page.evaluate(async (subdir) => {
      const w = window.wgprof;
      type Sink = NonNullable<Parameters<typeof w.writeTrace>[1]['sink']>;
      /** OpfsSink whose 3rd write (or whose commit) throws, as a full disk or a revoked permission would. */
      const failing = (failAt: 'write' | 'commit'): Sink => {
        const inner = new w.OpfsSink(subdir);
        return {
          location: inner.location,
          async open(name: string) {
            const writer = await inner.open(name);
            let writes = 0;
            return {
              write: async (chunk: Uint8Array) => {
                if (failAt === 'write' && ++writes === 3) throw new Error('quota exceeded (test)');
                await writer.write(chunk);
              },
              commit: async () => {
                if (failAt === 'commit') throw new Error('commit refused (test)');
                return writer.commit();
              },
              abort: () => writer.abort(),
            };
          },
        };
      };
      const record = () => window.sinkTest.record(300) as Parameters<typeof w.writeTrace>[0];
      const errors: string[] = [];
      const attempt = async (options: Parameters<typeof w.writeTrace>[1]): Promise<void> => {
        await w.writeTrace(record(), options).then(
          () => errors.push('no error'),
          (error: unknown) => errors.push(String(error)),
        );
      };
      // Plain JSON in 1 KiB chunks: many writes, the 3rd fails.
      await attempt({ sink: failing('write'), useGzip: false, chunkChars: 1024, timeNs: '1795829617273139504' });
      const afterWrite = await window.sinkTest.list();
      await attempt({ sink: failing('commit'), timeNs: '1795829617273139504' });
      const afterCommit = await window.sinkTest.list();
      // An older file of the same name survives a failed rewrite.
      const name = 'page-rank-0.1795829617273139505.pt.trace.json';
      await window.sinkTest.put(name, 'previous trace');
      await attempt({ sink: failing('write'), timeNs: '1795829617273139505', useGzip: false, chunkChars: 1024 });
      const kept = new TextDecoder().decode(await window.sinkTest.read(name));
      return { errors, afterWrite, afterCommit, entries: await window.sinkTest.list(), kept };
    }, SUBDIR);
    expect(outcome.errors).toEqual([
      expect.stringContaining('quota exceeded (test)'),
      expect.stringContaining('commit refused (test)'),
      expect.stringContaining('quota exceeded (test)'),
    ]);
    expect(outcome.afterWrite, 'nothing left by the failed write').toEqual([]);
    expect(outcome.afterCommit, 'nothing left by the failed commit').toEqual([]);
    expect(outcome.entries).toEqual(['page-rank-0.1795829617273139505.pt.trace.json']);
    expect(outcome.kept).toBe('previous trace');
  });
});
