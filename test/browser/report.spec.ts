// `wgprof report` opened in headless Chromium from a file:// URL: the page renders every chart, logs no
// error, asks for nothing over the network, and shows the same total GPU time, top kernel and peak
// memory as `wgprof summarize --json` for each trace behind the selector; the table sorts.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runReport } from '../../src/cli/report.js';
import { runSummarize } from '../../src/cli/summarize.js';
import { formatBytes, formatTimeUs } from '../../src/report/key-averages.js';
import { REPO_ROOT } from './server.js';
import { expect, test } from './fixtures.js';

const GOLDEN = join(REPO_ROOT, 'test/unit/fixtures/golden.1795829617273139504.pt.trace.json.gz');
const ORT = join(REPO_ROOT, 'test/unit/fixtures/ort/ort-cls-generic-attach.pt.trace.json.gz');
const TORCH_CPU = join(REPO_ROOT, 'test/unit/fixtures/torch/torch-2.13-minimal.rank0.1795829618252646147.pt.trace.json.gz');

interface SummaryJson {
  selfGpuTotalUs: number;
  peakGpuMemoryBytes: number | null;
  rows: { name: string; calls: number }[];
}

async function summarize(path: string): Promise<SummaryJson> {
  let out = '';
  let err = '';
  const code = await runSummarize([path, '--json', '--limit', '1000'], { out: (t) => (out += t), err: (t) => (err += t) });
  expect(code, err).toBe(0);
  return JSON.parse(out) as SummaryJson;
}

async function report(dir: string, ...argv: string[]): Promise<string> {
  const out = join(dir, 'report.html');
  let err = '';
  const code = await runReport([...argv, '-o', out, '--peak-gflops', '40', '--peak-gbps', '12'], { out: () => undefined, err: (t) => (err += t) });
  expect(code, err).toBe(0);
  return out;
}

test.describe('wgprof report in Chromium', () => {
  let dir = '';
  test.beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wgprof-report-spec-'));
  });
  test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('renders offline with no console error and shows summarize’s numbers for each trace', async ({ page }) => {
    const path = await report(dir, GOLDEN, ORT);
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) problems.push(`network request: ${r.url()}`);
    });
    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.goto(pathToFileURL(path).href);
    const names = await page.locator('#trace-select option').allTextContents();
    expect(names).toEqual(['golden.1795829617273139504.pt.trace.json.gz', 'ort-cls-generic-attach.pt.trace.json.gz']);
    for (const [i, file] of [GOLDEN, ORT].entries()) {
      await page.selectOption('#trace-select', String(i));
      await expect(page.locator('body')).toHaveAttribute('data-rendered', names[i]!);
      const s = await summarize(file);
      await expect(page.locator('#total-gpu')).toHaveText(formatTimeUs(s.selfGpuTotalUs));
      expect(Number(await page.locator('#total-gpu').getAttribute('data-us'))).toBe(s.selfGpuTotalUs);
      await expect(page.locator('#top-kernel')).toHaveAttribute('data-name', s.rows[0]!.name);
      if (s.peakGpuMemoryBytes !== null) {
        await expect(page.locator('#peak-memory')).toHaveText(formatBytes(s.peakGpuMemoryBytes));
        await expect(page.locator('#peak-memory')).toHaveAttribute('data-bytes', String(s.peakGpuMemoryBytes));
      } else await expect(page.locator('#peak-memory')).toHaveText(/no memory events/);
      // Every chart drew on a canvas of real size.
      for (const chart of ['timeline', 'kernels', 'memory', 'roofline']) {
        const box = await page.locator(`#chart-${chart} canvas`).first().boundingBox();
        expect(box && box.width > 100 && box.height > 100, chart).toBe(true);
      }
      await expect(page.locator('#key-averages tbody tr')).toHaveCount(s.rows.length);
      await expect(page.locator('#roofline-peak')).toHaveText(/^Device peak from the command line: 40 GFLOP\/s and 12 GB\/s given on the command line\.$/);
    }
    // The golden trace's facts come from its wgprof block.
    await page.selectOption('#trace-select', '0');
    await expect(page.locator('#facts')).toContainText('timestamp modepass-boundaries');
    await expect(page.locator('#facts')).toContainText('clock-fit error±0.800us');
    expect(problems).toEqual([]);
  });

  test('sorts the key-averages table by the clicked column', async ({ page }) => {
    const path = await report(dir, ORT);
    await page.goto(pathToFileURL(path).href);
    const firstName = () => page.locator('#key-averages tbody tr').first().locator('td').first().textContent();
    const s = await summarize(ORT);
    expect(await firstName()).toBe(s.rows[0]!.name);
    await page.locator('#key-averages th', { hasText: '# of Calls' }).click();
    const mostCalls = [...s.rows].sort((a, b) => b.calls - a.calls)[0]!;
    expect(await firstName()).toBe(mostCalls.name);
    await expect(page.locator('#key-averages th', { hasText: '# of Calls' })).toHaveAttribute('aria-sort', 'descending');
    await page.locator('#key-averages th', { hasText: '# of Calls' }).click();
    await expect(page.locator('#key-averages th', { hasText: '# of Calls' })).toHaveAttribute('aria-sort', 'ascending');
  });

  test('says what is missing for a CPU-only torch trace instead of drawing zeros', async ({ page }) => {
    const sub = mkdtempSync(join(dir, 'cpu-'));
    const path = await report(sub, TORCH_CPU);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(path).href);
    await expect(page.locator('#total-gpu')).toHaveText('no GPU time in this trace');
    await expect(page.locator('#peak-memory')).toHaveText(/^no memory events/);
    await expect(page.locator('#kernels-note')).toHaveText('No GPU time in this trace.');
    await expect(page.locator('#facts')).toContainText('not wgprof');
    expect(errors).toEqual([]);
    expect(readdirSync(sub)).toEqual(['report.html']);
  });
});
