// Runs benchmark code in headless Chromium (the Debian browser, WebGPU on SwiftShader): bundles an
// entry module with esbuild into dist/bench/, serves the repository with test/browser/server.ts
// (cross-origin isolated, so performance.now() has 5 µs steps) and opens a blank page on it. The bench
// then imports the bundle inside the page with page.evaluate.

import { chromium, type Browser, type Page } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../playwright.config.js';
import { startStaticServer, type StaticServer } from '../browser/server.js';
import { buildPageBundle } from '../shared/page-bundle.js';

export interface ChromiumBench {
  page: Page;
  /** URL of the bundle, for `await import(url)` inside page.evaluate. */
  bundleUrl: string;
  close(): Promise<void>;
}

/** `entry` is TypeScript source whose imports resolve from the repository root (e.g. `export { x } from './src/...'`). */
export async function openChromiumBench(name: string, entry: string): Promise<ChromiumBench> {
  const bundleUrl = await buildPageBundle(name, entry, 'bench');
  let server: StaticServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startStaticServer({ port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS], headless: true });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.goto(`${server.url}/test/browser/pages/gpu.html`);
    await page.waitForFunction(() => window.wgprofReady === true || window.wgprofLoadError !== undefined);
    if (errors.length > 0) throw new Error(`the bench page failed: ${errors.join('; ')}`);
    // Bench code runs under tsx, whose keepNames wraps functions in __name(): functions handed to
    // page.evaluate carry those calls into the page, so the page gets a no-op __name.
    await page.evaluate('globalThis.__name = (fn) => fn');
    const opened = { browser, server };
    return {
      page,
      bundleUrl,
      close: async () => {
        await opened.browser.close();
        await opened.server.close();
      },
    };
  } catch (error) {
    await browser?.close();
    await server?.close();
    throw error;
  }
}
