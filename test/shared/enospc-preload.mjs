// A full disk, injected: loaded into a child process (`NODE_OPTIONS=--import <this file>`), it makes
// every fs/promises FileHandle.write() fail with ENOSPC, as a full file system does. The CLI tests use
// it where this process may not mount a small tmpfs to fill for real.
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const probePath = join(tmpdir(), `.wgprof-enospc-probe-${process.pid}`);
const probe = await open(probePath, 'w');
const proto = Object.getPrototypeOf(probe);
await probe.close();
await rm(probePath, { force: true });
proto.write = async function write() {
  throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
};
