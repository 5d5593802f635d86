// Where the init script finds its options in a page, and the install that never throws into the page.
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { installAuto, type AutoOptions, type WgprofAuto } from './auto.js';

/** `globalThis.WGPROF_AUTO = { config, iterations, ... }` set before the init script runs. */
export const AUTO_OPTIONS_GLOBAL = 'WGPROF_AUTO';

function pageOptions(): AutoOptions {
  const fromGlobal = (globalThis as Record<string, unknown>)[AUTO_OPTIONS_GLOBAL];
  if (fromGlobal && typeof fromGlobal === 'object') return fromGlobal as AutoOptions;
  const script = typeof document !== 'undefined' ? (document.currentScript as HTMLScriptElement | null) : null;
  const data = script?.dataset?.['wgprof'];
  return data ? (JSON.parse(data) as AutoOptions) : {};
}

/** Installs with the page's options when the page has WebGPU; logs (never throws) on bad options. */
export function installFromPage(): WgprofAuto | undefined {
  if (typeof navigator === 'undefined' || !(navigator as Navigator & { gpu?: GPU }).gpu) return undefined;
  try {
    return installAuto(pageOptions());
  } catch (error) {
    log.error(`wgprof/auto: not installed: ${errorMessage(error)}`);
    return undefined;
  }
}
