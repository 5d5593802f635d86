// wgprof/auto: `import 'wgprof/auto'` (or the classic script dist/browser/wgprof-auto.js, e.g. through
// Playwright's page.addInitScript or a <script> tag) instruments every WebGPU device the page requests.
// Options come from `globalThis.WGPROF_AUTO` (set before), or the script tag's `data-wgprof` JSON;
// see ./auto.ts. In Node (no navigator.gpu) importing it does nothing.
import { installFromPage } from './page.js';

export { installAuto, ITERATION_POLICIES } from './auto.js';
export type { AutoOptions, IterationPolicy, WgprofAuto } from './auto.js';
export { installFromPage, AUTO_OPTIONS_GLOBAL } from './page.js';

installFromPage();
