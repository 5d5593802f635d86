// wgprof/auto through the wgprof/playwright fixture, on a page that uses raw WebGPU and knows nothing
// of wgprof (pages/raw-webgpu.html: per iteration one pass with a `saxpy` and a `scale` dispatch).
// Iterations by animation frame and by idle gaps between submits; a page that never stops still gets
// its trace at teardown; a page that crashes mid-window leaves no file at all.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Page } from '@playwright/test';
import { profilePages, test as wgprofTest, expect } from '../../src/playwright/fixture.js';
import { parseTraceFile } from '../../src/report/parse.js';
import { validateTrace } from '../../src/report/validate.js';
import { testBaseUrl } from './fixtures.js';

const RAW_PAGE = '/test/browser/pages/raw-webgpu.html';

const test = wgprofTest.extend({
  baseURL: async ({}, use) => {
    await use(testBaseUrl());
  },
});

/** Kernel names per ProfilerStep (by the launch inside the step), and the validation problems. */
async function readTrace(file: string) {
  const trace = await parseTraceFile(file);
  const events = trace.traceEvents;
  const steps = events.filter((e) => e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#'));
  const kernels = events.filter((e) => e.cat === 'kernel');
  const launches = new Map(events.filter((e) => e.cat === 'cuda_runtime').map((e) => [e.args?.['correlation'], e]));
  const perStep = steps.map((s) =>
    kernels
      .filter((k) => {
        const launch = launches.get(k.args?.['correlation']);
        return launch !== undefined && launch.ts >= s.ts && launch.ts <= s.ts + (s.dur ?? 0);
      })
      .map((k) => k.name),
  );
  return { problems: validateTrace(trace), steps: steps.map((s) => s.name), perStep, kernels: kernels.length, distributedInfo: trace.distributedInfo };
}

async function waitForRawPage(page: Page, what: 'ready' | 'done'): Promise<void> {
  await page.waitForFunction((key) => (window as unknown as { rawWebGpu?: Record<string, unknown> }).rawWebGpu?.[key] === true, what, { timeout: 60_000 });
}

test.describe('frame policy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgprof-auto-frame-'));
  test.use({
    wgprof: { config: { profiler: 'torch', torch_profiler_dir: dir, max_iterations: 4, ignore_frontend: true }, iterations: 'frame', autoStart: false },
  });
  test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a raw WebGPU page profiled by animation frame: one [saxpy, scale] pair per captured frame', async ({ page, profiling }) => {
    await page.goto(`${RAW_PAGE}?iterations=40`);
    await waitForRawPage(page, 'ready');
    await profiling.start();
    await waitForRawPage(page, 'done');
    const state = await page.evaluate(() => (window as unknown as { rawWebGpu: { ok: boolean; dispatches: number; error: string | null } }).rawWebGpu);
    expect(state.error).toBeNull();
    expect(state.ok).toBe(true);
    // max_iterations 4: the window closed by itself, its trace written through the fixture's binding.
    await expect.poll(() => profiling.files.filter((f) => f.endsWith('.pt.trace.json.gz')).length).toBe(1);
    const file = profiling.files.find((f) => f.endsWith('.pt.trace.json.gz'))!;
    expect(file.startsWith(dir)).toBe(true);
    expect(file).toMatch(/pw-shard1of1-w\d+-p0-dev0\.\d{19}\.pt\.trace\.json\.gz$/);
    const trace = await readTrace(file);
    expect(trace.problems).toEqual([]);
    expect(trace.steps).toEqual(['ProfilerStep#1', 'ProfilerStep#2', 'ProfilerStep#3', 'ProfilerStep#4']);
    // The page submitted one iteration per frame: every captured frame holds exactly its two dispatches.
    expect(trace.perStep).toEqual([
      ['saxpy', 'scale'],
      ['saxpy', 'scale'],
      ['saxpy', 'scale'],
      ['saxpy', 'scale'],
    ]);
    expect(trace.kernels).toBe(8);
    expect(trace.distributedInfo).toMatchObject({ rank: 0, world_size: 1 });
  });
});

test.describe('submit policy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgprof-auto-submit-'));
  test.use({
    wgprof: {
      config: { profiler: 'torch', torch_profiler_dir: dir, max_iterations: 3, ignore_frontend: true },
      iterations: 'submit',
      idleGapMs: 40,
      autoStart: false,
    },
  });
  test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a raw WebGPU page on a timer profiled by idle gaps between submits', async ({ page, profiling }) => {
    await page.goto(`${RAW_PAGE}?mode=timer&iterations=10`);
    // Started between two iterations (the page's setup upload is no iteration of its own).
    await waitForRawPage(page, 'ready');
    await profiling.start();
    await waitForRawPage(page, 'done');
    await expect.poll(() => profiling.files.filter((f) => f.endsWith('.pt.trace.json.gz')).length).toBe(1);
    const trace = await readTrace(profiling.files.find((f) => f.endsWith('.pt.trace.json.gz'))!);
    expect(trace.problems).toEqual([]);
    expect(trace.steps).toHaveLength(3);
    expect(trace.perStep).toEqual([
      ['saxpy', 'scale'],
      ['saxpy', 'scale'],
      ['saxpy', 'scale'],
    ]);
  });
});

test.describe('teardown', () => {
  for (const ending of ['never stops', 'crashes'] as const) {
    test(`a page that ${ending} mid-window: ${ending === 'crashes' ? 'no file, not even a partial one' : 'its trace is written at teardown'}`, async ({
      browser,
    }, testInfo) => {
      const dir = mkdtempSync(join(tmpdir(), 'wgprof-auto-teardown-'));
      const context = await browser.newContext({ baseURL: testBaseUrl() });
      try {
        const profiled = await profilePages(context, browser, testInfo, {
          config: { profiler: 'torch', torch_profiler_dir: dir, ignore_frontend: true },
          iterations: 'frame',
          attach: false,
        });
        const page = await context.newPage();
        await page.goto(`${RAW_PAGE}?iterations=1000000`);
        await waitForRawPage(page, 'ready');
        await expect.poll(() => page.evaluate(() => globalThis.wgprofAuto?.iterations ?? 0)).toBeGreaterThan(3);
        if (ending === 'crashes') {
          const cdp = await context.newCDPSession(page);
          const crashed = page.waitForEvent('crash');
          // The renderer dies before it could answer: do not wait for the reply.
          void cdp.send('Page.crash').catch(() => undefined);
          await crashed;
        }
        const files = await profiled.finish();
        if (ending === 'crashes') {
          expect(files).toEqual([]);
          expect(readdirSync(dir)).toEqual([]);
        } else {
          const traces = files.filter((f) => f.endsWith('.pt.trace.json.gz'));
          expect(traces).toHaveLength(1);
          expect(files.some((f) => /pw-shard1of1-w\d+-p0\S*\.\d+\.profiler_out\.txt$/.test(f))).toBe(true);
          const trace = await readTrace(traces[0]!);
          expect(trace.problems).toEqual([]);
          expect(trace.kernels).toBeGreaterThan(0);
          expect(trace.perStep.filter((names) => names.length > 0).every((names) => names.join() === 'saxpy,scale')).toBe(true);
          expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
        }
      } finally {
        await context.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
