// A full disk, injected: every fs/promises FileHandle.write() fails with ENOSPC until the returned
// function is called. Shared by the sink and profiler tests (test/shared/enospc-preload.mjs does the
// same inside a child process).

import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Patches the FileHandle class (found through a probe file written in `dir`, then removed); returns the undo. */
export async function injectEnospc(dir: string): Promise<() => void> {
  const probePath = join(dir, '.enospc-probe');
  const probe = await open(probePath, 'w');
  const proto = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> };
  await probe.close();
  await rm(probePath);
  const original = proto.write;
  proto.write = async () => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  };
  return () => {
    proto.write = original;
  };
}
