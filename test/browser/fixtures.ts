// Shared Playwright helpers for wgprof's browser tests.
//
// - The default export is the run's globalSetup (playwright.config.ts): it builds dist/ when the browser
//   bundle is missing or older than the sources, starts test/browser/server.ts, and hands its URL to the
//   workers through WGPROF_TEST_BASE_URL (env set in globalSetup reaches the workers).
// - `test` overrides `baseURL` with that URL and adds `gpuPage`: a cross-origin isolated page with the
//   bundle loaded as `window.wgprof`; page errors are collected and fail the test.

import { test as base, expect, type Page } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, portFrom, startStaticServer } from './server.js';

export type WgprofBundle = typeof import('../../src/index.js');

declare global {
  interface Window {
    wgprof: WgprofBundle;
    wgprofReady?: boolean;
    wgprofLoadError?: string;
  }
}

export const BASE_URL_ENV = 'WGPROF_TEST_BASE_URL';
export const BROWSER_BUNDLE = join(REPO_ROOT, 'dist/browser/wgprof.js');
/** The page every GPU test starts from. */
export const GPU_PAGE = '/test/browser/pages/gpu.html';

/** Newest modification time (ms) of any file under the given folders. */
function newestMtimeMs(dirs: readonly string[]): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of dirs) if (existsSync(dir)) walk(dir);
  return newest;
}

/** Builds dist/ (no declarations) when the browser bundle is missing or older than src/ or kernels/. */
export function ensureBrowserBundle(): void {
  const sources = newestMtimeMs([join(REPO_ROOT, 'src'), join(REPO_ROOT, 'kernels')]);
  const present = existsSync(BROWSER_BUNDLE);
  if (present && statSync(BROWSER_BUNDLE).mtimeMs >= sources) return;
  process.stderr.write(
    `wgprof tests: ${present ? 'dist/ is older than the sources' : 'dist/browser/wgprof.js is missing'}; running node scripts/build.mjs --no-types\n`,
  );
  const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs'), '--no-types'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (build.status !== 0) {
    if (!present) throw new Error(`building dist/ failed (exit ${build.status}); fix the build error above, then rerun (node scripts/build.mjs --no-types)`);
    // A stale bundle still tests the device layer; say so loudly rather than fail every test on someone else's edit.
    process.stderr.write('wgprof tests: WARNING: the build failed; testing the existing (stale) dist/browser/wgprof.js\n');
  }
}

/** Playwright globalSetup: build, serve, and return the teardown. */
export default async function globalSetup(): Promise<() => Promise<void>> {
  ensureBrowserBundle();
  // A fixed port only when asked for: parallel runs on one machine must not collide.
  const port = process.env['WGPROF_TEST_PORT'] ? portFrom([]) : 0;
  const server = await startStaticServer({ port });
  process.env[BASE_URL_ENV] = server.url;
  return () => server.close();
}

export function testBaseUrl(): string {
  const url = process.env[BASE_URL_ENV];
  if (!url)
    throw new Error(
      `${BASE_URL_ENV} is not set: run the browser tests through playwright.config.ts (npx playwright test), whose globalSetup starts the server`,
    );
  return url;
}

/** Opens the GPU test page and waits for the bundle; throws with the import error when it failed to load. */
export async function openGpuPage(page: Page): Promise<void> {
  const response = await page.goto(GPU_PAGE);
  expect(response?.status(), `GET ${GPU_PAGE}`).toBe(200);
  await page.waitForFunction(() => window.wgprofReady === true || window.wgprofLoadError !== undefined);
  const loadError = await page.evaluate(() => window.wgprofLoadError);
  if (loadError !== undefined) throw new Error(`the page could not import /dist/browser/wgprof.js: ${loadError}`);
}

export const test = base.extend<{ gpuPage: Page; pageErrors: string[] }>({
  baseURL: async ({}, use) => {
    await use(testBaseUrl());
  },
  pageErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console.error: ${message.text()}`);
    });
    await use(errors);
  },
  gpuPage: async ({ page, pageErrors }, use) => {
    await openGpuPage(page);
    await use(page);
    expect(pageErrors, 'errors the page reported').toEqual([]);
  },
});

export { expect };
