// The example page (examples/browser/) runs the engine in Chromium; for the same seed its token ids
// must equal a Node run (dawn.node) of the same requests: seeded sampling is runtime-independent.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, test } from './fixtures.js';
import { REPO_ROOT } from './server.js';

interface ExampleOutcome {
  status: 'running' | 'done' | 'error';
  error?: string;
  code?: string | null;
  steps?: number;
  results?: { prompt: string; text: string; tokenIds: number[]; finishReason: string; seed: number }[];
}

declare global {
  interface Window {
    wgprofExample?: ExampleOutcome;
  }
}

const PAGE = '/examples/browser/index.html';

async function pageOutcome(page: import('@playwright/test').Page, query: string): Promise<ExampleOutcome> {
  const response = await page.goto(`${PAGE}?${query}`);
  expect(response?.status(), `GET ${PAGE}`).toBe(200);
  await page.waitForFunction(() => window.wgprofExample !== undefined && window.wgprofExample.status !== 'running', undefined, { timeout: 110_000 });
  return (await page.evaluate(() => window.wgprofExample)) as ExampleOutcome;
}

test('the example page generates the same tokens as Node for the same seed', async ({ page, pageErrors }) => {
  const prompts = ['Hello from the browser', 'héllo wörld'];
  const settings = { seed: 7, maxTokens: 8, temperature: 1 };
  const query = new URLSearchParams([
    ['model', 'tiny'],
    ['seed', String(settings.seed)],
    ['maxTokens', String(settings.maxTokens)],
    ['temperature', String(settings.temperature)],
    ...prompts.map((p) => ['prompt', p]),
  ]).toString();
  const browser = await pageOutcome(page, query);
  expect(browser.error ?? '', 'the page reported an error').toBe('');
  expect(browser.status).toBe('done');
  expect(browser.results?.map((r) => r.prompt)).toEqual(prompts);
  for (const r of browser.results ?? []) expect(r.tokenIds).toHaveLength(settings.maxTokens);
  await expect(page.locator('.request')).toHaveCount(prompts.length);

  // The same requests in Node, through the built package's wgprof/engine (the page's bundle is built from the same sources).
  const wgprofEngine = (await import(pathToFileURL(join(REPO_ROOT, 'dist/engine.js')).href)) as typeof import('../../src/engine/index.js');
  const engine = await wgprofEngine.createEngine({ model: 'tiny', seed: settings.seed });
  try {
    const node = await engine.generate(prompts, { maxTokens: settings.maxTokens, temperature: settings.temperature });
    expect(browser.results?.map((r) => r.tokenIds)).toEqual(node.map((r) => r.tokenIds));
    expect(browser.results?.map((r) => r.seed)).toEqual(node.map((r) => r.seed));
  } finally {
    await engine.destroy();
  }
  expect(pageErrors).toEqual([]);
});

test('the example page reports an unknown model clearly', async ({ page }) => {
  const outcome = await pageOutcome(page, 'model=huge&maxTokens=4');
  expect(outcome.status).toBe('error');
  expect(outcome.code).toBe('UNKNOWN_MODEL');
  expect(outcome.error).toContain('valid presets: tiny, small, gpt2');
  await expect(page.locator('#status')).toContainText('failed: UNKNOWN_MODEL');
});
