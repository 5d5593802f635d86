// The browser example page's profiling panels (examples/browser/): start/stop around generation on the
// engine, and an onnxruntime-web session (the PaddleOCR classifier, JSEP); after stop the key-averages
// table is in the page and the .pt.trace.json.gz downloads, parses and validates.
import { readFileSync } from 'node:fs';
import { checkStepTotals, parseTraceBytes, validateTrace } from '../../src/report/index.js';
import { expect, test } from './fixtures.js';

const PAGE = '/examples/browser/index.html?maxTokens=4&temperature=0';

interface Panel {
  status: string;
  error?: string;
  files?: string[];
  trace?: string;
  problems?: string[];
  steps?: number;
  kernels?: number;
  tableRows?: number;
  table?: string;
}

declare global {
  interface Window {
    wgprofProfiling?: { engine: Panel; ort: Panel };
  }
}

test('engine panel: start, generate, stop → the key-averages table in the page and a trace that downloads and validates', async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto(PAGE);
  await page.waitForFunction(() => window.wgprofExample?.status === 'done' || window.wgprofExample?.status === 'error', null, { timeout: 120_000 });
  await page.click('#engine-start');
  await expect(page.locator('#engine-generate')).toBeEnabled({ timeout: 120_000 });
  await page.click('#engine-generate');
  await expect(page.locator('#engine-live')).toContainText(/profiling: [1-9]\d* iteration/, { timeout: 60_000 });
  await expect(page.locator('#engine-generate')).toBeEnabled({ timeout: 120_000 });
  await page.click('#engine-stop');
  await page.waitForFunction(() => window.wgprofProfiling?.engine.status === 'done' || window.wgprofProfiling?.engine.status === 'error', null, {
    timeout: 120_000,
  });
  const engine = (await page.evaluate(() => window.wgprofProfiling!.engine)) as Panel;
  expect(engine.error).toBeUndefined();
  expect(engine.problems).toEqual([]);
  expect(engine.steps).toBeGreaterThan(0);
  expect(engine.kernels).toBeGreaterThan(engine.steps!);
  await expect(page.locator('#engine-table table.ka tbody tr')).toHaveCount(Math.min(40, engine.tableRows!));
  await expect(page.locator('#engine-table')).toContainText('matmul');

  const link = page.locator('#engine-downloads a', { hasText: '.pt.trace.json.gz' }).first();
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  expect(download.suggestedFilename()).toBe(engine.trace);
  const trace = parseTraceBytes(readFileSync((await download.path())!), download.suggestedFilename());
  expect(validateTrace(trace)).toEqual([]);
  expect(checkStepTotals(trace).problems).toEqual([]);
  expect(trace.traceEvents.filter((e) => e.cat === 'kernel')).toHaveLength(engine.kernels!);
});

test('onnxruntime-web panel (JSEP): each run an iteration, kernels named by ONNX node, the table and the download', async ({ page }) => {
  test.setTimeout(300_000);
  await page.goto(PAGE);
  await page.waitForFunction(() => window.wgprofExample?.status === 'done' || window.wgprofExample?.status === 'error', null, { timeout: 120_000 });
  await page.fill('#ort-runs', '2');
  await page.selectOption('#ort-build', 'jsep');
  await page.click('#ort-run');
  await page.waitForFunction(() => window.wgprofProfiling?.ort.status === 'done' || window.wgprofProfiling?.ort.status === 'error', null, { timeout: 280_000 });
  const ort = (await page.evaluate(() => window.wgprofProfiling!.ort)) as Panel;
  expect(ort.error).toBeUndefined();
  expect(ort.problems).toEqual([]);
  expect(ort.steps).toBe(2);
  expect(ort.kernels).toBeGreaterThan(100);
  await expect(page.locator('#ort-table')).toContainText('Conv');
  await expect(page.locator('#ort-downloads a', { hasText: '.pt.trace.json.gz' })).toHaveCount(1);
});
