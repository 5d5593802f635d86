// connectChromiumTracing with a fake Playwright page and browser: edges become startTracing/stopTracing
// in order, one window at a time, numbered file names, failures reported to the page and logged.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseProfilerConfig } from '../../src/config/index.js';
import {
  DEFAULT_TRACING_CATEGORIES,
  connectChromiumTracing,
  windowTracePath,
  type TracingBrowser,
  type TracingPage,
} from '../../src/playwright/chromium-tracing.js';
import { CAPTURE_RANGE_HOOK, captureRangeSettled, type UserTiming } from '../../src/profiler/cuda-range.js';
import { Profiler } from '../../src/profiler/profiler.js';
import { WgprofError } from '../../src/util/errors.js';
import { setLogSink, type LogLevel } from '../../src/util/log.js';

type Hook = (edge: unknown) => Promise<void>;

class FakePage implements TracingPage {
  readonly exposed = new Map<string, Hook>();
  async exposeFunction(name: string, callback: Hook): Promise<void> {
    if (this.exposed.has(name)) throw new Error(`Function "${name}" has been already registered`);
    this.exposed.set(name, callback);
  }
  hook(): Hook {
    const hook = this.exposed.get(CAPTURE_RANGE_HOOK);
    assert.ok(hook, 'wgprofCaptureRange exposed');
    return hook;
  }
}

/** Records calls; each call can be held open (gate) or made to fail, as Playwright's would. */
class FakeBrowser implements TracingBrowser {
  readonly calls: string[] = [];
  readonly options: { path?: string; categories?: string[]; screenshots?: boolean }[] = [];
  tracing = false;
  failNextStart: Error | undefined;
  stopGate: Promise<void> | undefined;
  async startTracing(page?: TracingPage, options: { path?: string; categories?: string[]; screenshots?: boolean } = {}): Promise<void> {
    assert.ok(page, 'the page is passed (screenshots come from it)');
    this.calls.push(`start:${options.path}`);
    this.options.push(options);
    const failure = this.failNextStart;
    this.failNextStart = undefined;
    if (failure) throw failure;
    // Playwright asserts the same: "Cannot start recording trace while already recording trace."
    if (this.tracing) throw new Error('Cannot start recording trace while already recording trace.');
    this.tracing = true;
  }
  async stopTracing(): Promise<Uint8Array> {
    this.calls.push('stop:begin');
    if (this.stopGate) await this.stopGate;
    if (!this.tracing) throw new Error('Tracing was not started.');
    this.tracing = false;
    this.calls.push('stop:end');
    return new Uint8Array();
  }
}

describe('windowTracePath', () => {
  it('numbers windows before the extension', () => {
    assert.equal(windowTracePath('out/trace.json', 0), 'out/trace.json');
    assert.equal(windowTracePath('out/trace.json', 1), 'out/trace.1.json');
    assert.equal(windowTracePath('out/trace.json', 12), 'out/trace.12.json');
    assert.equal(windowTracePath('out.d/trace', 2), 'out.d/trace.2');
    assert.equal(windowTracePath('C:\\x.y\\trace', 1), 'C:\\x.y\\trace.1');
    assert.equal(windowTracePath('dir/.trace', 1), 'dir/.trace.1');
  });
});

describe('connectChromiumTracing', () => {
  let warnings: string[];
  let restoreLog: () => void;
  beforeEach(() => {
    warnings = [];
    restoreLog = setLogSink((level: LogLevel, message: string) => void (level === 'warn' && warnings.push(message)), 'debug');
  });
  afterEach(() => {
    delete (globalThis as Record<string, unknown>)[CAPTURE_RANGE_HOOK];
    restoreLog();
  });

  it('start → startTracing(page, {path, categories}); stop → stopTracing; windows numbered; done() returns the last', async () => {
    const page = new FakePage();
    const browser = new FakeBrowser();
    const tracing = await connectChromiumTracing(page, browser, { path: 'out/chrome.json' });
    const hook = page.hook();
    await hook('start');
    await hook('stop');
    await hook('start');
    await hook('stop');
    assert.deepEqual(browser.calls, ['start:out/chrome.json', 'stop:begin', 'stop:end', 'start:out/chrome.1.json', 'stop:begin', 'stop:end']);
    assert.deepEqual(browser.options[0]!.categories, [...DEFAULT_TRACING_CATEGORIES]);
    assert.ok(browser.options[0]!.categories!.includes('blink.user_timing'));
    assert.notEqual(browser.options[0]!.categories, browser.options[1]!.categories, 'a fresh array each time (Playwright mutates it)');
    assert.equal(browser.options[0]!.screenshots, false);
    assert.equal(await tracing.done(), 'out/chrome.1.json');
    assert.deepEqual(tracing.files(), ['out/chrome.json', 'out/chrome.1.json']);
    assert.deepEqual(warnings, []);
  });

  it('a restart right after a stop waits for that stop to finish (one window at a time)', async () => {
    const page = new FakePage();
    const browser = new FakeBrowser();
    await connectChromiumTracing(page, browser, { path: 't.json', categories: ['blink.user_timing'], screenshots: true });
    const hook = page.hook();
    await hook('start');
    let release!: () => void;
    browser.stopGate = new Promise((resolve) => (release = resolve));
    // Fired back to back, as the page does: neither awaited before the next.
    const stopping = hook('stop');
    const starting = hook('start');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(browser.calls, ['start:t.json', 'stop:begin'], 'the second start waits');
    release();
    await Promise.all([stopping, starting]);
    assert.deepEqual(browser.calls, ['start:t.json', 'stop:begin', 'stop:end', 'start:t.1.json']);
    assert.deepEqual(browser.options[1], { path: 't.1.json', categories: ['blink.user_timing'], screenshots: true });
  });

  it('done() stops a window still open so its file is written', async () => {
    const page = new FakePage();
    const browser = new FakeBrowser();
    const tracing = await connectChromiumTracing(page, browser, { path: 'open.json' });
    void page.hook()('start');
    assert.equal(await tracing.done(), 'open.json');
    assert.deepEqual(browser.calls, ['start:open.json', 'stop:begin', 'stop:end']);
    assert.equal(await tracing.done(), 'open.json', 'done() twice: nothing more to stop');
  });

  it('done() with no window returns undefined', async () => {
    const tracing = await connectChromiumTracing(new FakePage(), new FakeBrowser(), { path: 'never.json' });
    assert.equal(await tracing.done(), undefined);
  });

  it('a failed start rejects the page call and is logged; its stop is ignored; the next window works', async () => {
    const page = new FakePage();
    const browser = new FakeBrowser();
    const tracing = await connectChromiumTracing(page, browser, { path: 'f.json' });
    const hook = page.hook();
    browser.failNextStart = new Error('Tracing has already been started (possibly in another tab).');
    await assert.rejects(hook('start'), /already been started/);
    await hook('stop');
    await hook('start');
    await hook('stop');
    assert.deepEqual(tracing.files(), ['f.json'], 'the failed window used no file name');
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0]!, /start failed: Tracing has already been started/);
    assert.match(warnings[1]!, /never opened/);
  });

  it('a second start while a window is open is ignored with a warning', async () => {
    const page = new FakePage();
    const browser = new FakeBrowser();
    await connectChromiumTracing(page, browser, { path: 'a.json' });
    await page.hook()('start');
    await page.hook()('start');
    assert.deepEqual(browser.calls, ['start:a.json']);
    assert.match(warnings[0]!, /a\.json is still being recorded/);
  });

  it('rejects a bad edge and a missing path', async () => {
    const page = new FakePage();
    await connectChromiumTracing(page, new FakeBrowser(), { path: 'x.json' });
    await assert.rejects(page.hook()('begin'), (e: unknown) => e instanceof WgprofError && e.code === 'BAD_RANGE_EDGE' && /"begin"/.test(e.message));
    await assert.rejects(
      connectChromiumTracing(new FakePage(), new FakeBrowser(), { path: '' }),
      (e: unknown) => e instanceof WgprofError && e.code === 'TRACING_PATH_MISSING',
    );
  });

  it("end to end in one process: a 'cuda' Profiler's window drives the fake browser through the global hook", async () => {
    const page = new FakePage();
    const browser = new FakeBrowser();
    const tracing = await connectChromiumTracing(page, browser, { path: 'e2e.json' });
    // What exposeFunction does in a real page: the function becomes a global.
    (globalThis as Record<string, unknown>)[CAPTURE_RANGE_HOOK] = page.hook();
    const perf: UserTiming = { now: () => 0, mark: () => undefined, measure: () => undefined };
    const profiler = new Profiler(parseProfilerConfig({ profiler: 'cuda', delay_iterations: 2, max_iterations: 1 }), { performance: perf });
    profiler.start();
    const seen: boolean[] = [];
    for (let i = 1; i <= 6; i++) {
      profiler.step();
      await captureRangeSettled();
      seen.push(browser.tracing);
      profiler.endIteration();
      // A new window after the auto-stop: the second file.
      if (i === 3) profiler.start();
    }
    await profiler.stop();
    assert.deepEqual(seen, [false, true, false, false, true, false]);
    assert.equal(await tracing.done(), 'e2e.1.json');
    assert.deepEqual(tracing.files(), ['e2e.json', 'e2e.1.json']);
  });
});
