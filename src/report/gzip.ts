// Gzip reading that checks what gzip promises: every member's CRC-32 and ISIZE, several members one
// after another (RFC 1952 §2.2), and nothing but zero padding after the last one. Pure JS (fflate's
// streaming Gunzip), for bytes already in memory in any runtime; files in Node go through node:zlib,
// which makes the same checks natively (see read.ts).

import { Gunzip } from 'fflate';
import { WgprofError, errorMessage } from '../util/errors.js';

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as gzip uses), continuing from `crc`. */
export function crc32(data: Uint8Array, crc = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const table = crcTable;
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function u32le(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** Where a member's 8-byte trailer (CRC-32, ISIZE) with these values sits in bytes[from, to), searching from the end; -1 if nowhere. */
function findTrailer(bytes: Uint8Array, from: number, to: number, crc: number, size: number): number {
  for (let at = to - 8; at >= from; at--) if (u32le(bytes, at) === crc && u32le(bytes, at + 4) === size >>> 0) return at;
  return -1;
}

export interface GunzipStats {
  members: number;
  uncompressedBytes: number;
}

/**
 * Decompresses gzip bytes chunk by chunk into `onData` (never the whole text at once), checking each
 * member's CRC-32 and ISIZE and refusing trailing data. Throws WgprofError naming what is wrong.
 */
export function gunzipChecked(bytes: Uint8Array, onData: (chunk: Uint8Array) => void, source: string, chunkBytes = 1 << 20): GunzipStats {
  const starts = [0];
  let crc = 0;
  let size = 0;
  let total = 0;
  const checks: { crc: number; size: number }[] = [];
  const gunzip = new Gunzip((chunk) => {
    if (chunk.length === 0) return;
    crc = crc32(chunk, crc);
    size += chunk.length;
    total += chunk.length;
    onData(chunk);
  });
  gunzip.onmember = (offset) => {
    checks.push({ crc, size });
    starts.push(offset);
    crc = 0;
    size = 0;
  };
  let failure: unknown;
  try {
    for (let at = 0; at < bytes.length; at += chunkBytes)
      gunzip.push(bytes.subarray(at, Math.min(bytes.length, at + chunkBytes)), at + chunkBytes >= bytes.length);
  } catch (error) {
    if (error instanceof WgprofError) throw error;
    failure = error;
  }
  // Members before the last: their trailer sits just before the next member's header.
  for (let m = 0; m < checks.length; m++) verifyTrailer(bytes, starts[m + 1]! - 8, checks[m]!, m, source);
  const lastStart = starts[starts.length - 1]!;
  const message = failure !== undefined ? errorMessage(failure) : '';
  // fflate reads data after a member as the next header: "invalid gzip data" once output was produced
  // means the bytes after the last member are not gzip. Find where that member really ended.
  if (failure !== undefined && !/invalid gzip data/.test(message)) {
    throw new WgprofError(
      /unexpected EOF/.test(message) ? 'TRACE_TRUNCATED' : 'TRACE_GZIP_CORRUPT',
      /unexpected EOF/.test(message)
        ? `${source} ends inside gzip member ${starts.length} (${bytes.length} bytes, ${total} decompressed): the file is incomplete. Was it still ` +
            `being written, or cut short by a copy?`
        : `${source}: gzip member ${starts.length} is corrupt (${message}); the file is damaged. Write or copy it again.`,
      { cause: failure },
    );
  }
  if (failure !== undefined && size === 0 && total === 0) {
    throw new WgprofError('TRACE_GZIP_CORRUPT', `${source} starts like gzip (1f 8b) but its header is not valid gzip (${message}); the file is damaged.`, {
      cause: failure,
    });
  }
  const at = findTrailer(bytes, lastStart + 10, bytes.length, crc, size);
  if (at < 0) {
    const tail = bytes.length - lastStart >= 18 ? { crc: u32le(bytes, bytes.length - 8), size: u32le(bytes, bytes.length - 4) } : undefined;
    if (!tail) throw new WgprofError('TRACE_TRUNCATED', `${source} ends before the trailer of gzip member ${starts.length}: the file is incomplete.`);
    verifyTrailer(bytes, bytes.length - 8, { crc, size }, starts.length - 1, source);
  } else {
    const end = at + 8;
    if (end < bytes.length && bytes.subarray(end).some((b) => b !== 0)) {
      throw new WgprofError(
        'TRACE_TRAILING_GARBAGE',
        `${source} has ${bytes.length - end} bytes after the end of its gzip data (at byte ${end}) that are not a gzip member: trailing garbage. A ` +
          `trace file is one gzip stream (or several members one after another); was something appended to it?`,
      );
    }
  }
  return { members: starts.length, uncompressedBytes: total };
}

function verifyTrailer(bytes: Uint8Array, at: number, got: { crc: number; size: number }, member: number, source: string): void {
  if (at < 0 || at + 8 > bytes.length)
    throw new WgprofError('TRACE_TRUNCATED', `${source} ends before the trailer of gzip member ${member + 1}: the file is incomplete.`);
  const wantCrc = u32le(bytes, at);
  const wantSize = u32le(bytes, at + 4);
  if (wantCrc !== got.crc) {
    throw new WgprofError(
      'TRACE_GZIP_CRC',
      `${source}: gzip member ${member + 1} fails its CRC-32 check (stored ${hex(wantCrc)}, computed ${hex(got.crc)} over ${got.size} bytes): the ` +
        `data is corrupt. Write or copy the file again.`,
    );
  }
  if (wantSize !== got.size >>> 0) {
    throw new WgprofError(
      'TRACE_GZIP_SIZE',
      `${source}: gzip member ${member + 1} decompresses to ${got.size} bytes but its trailer says ${wantSize} (mod 2^32): the data is corrupt.`,
    );
  }
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}
