import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { md5Hex } from '../../src/config/md5.js';

// RFC 1321 §A.5 test suite, plus the classic pangram.
const VECTORS: [string, string][] = [
  ['', 'd41d8cd98f00b204e9800998ecf8427e'],
  ['a', '0cc175b9c0f1b6a831c399e269772661'],
  ['abc', '900150983cd24fb0d6963f7d28e17f72'],
  ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
  ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
  ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'd174ab98d277d9f5a5611c2c9f419d9f'],
  ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', '57edf4a22be3c955ac49da2e2107b67a'],
  ['The quick brown fox jumps over the lazy dog', '9e107d9d372bb6826bd81d3542a419d6'],
];

test('md5Hex matches the RFC 1321 test vectors', () => {
  for (const [input, expected] of VECTORS) assert.equal(md5Hex(input), expected, `md5(${JSON.stringify(input)})`);
});

test('md5Hex of "[]" is the value vLLM ProfilerConfig.compute_hash() returns', () => {
  assert.equal(md5Hex('[]'), 'd751713988987e9331980363e24189ce');
});

test('md5Hex agrees with node:crypto across every padding boundary (0..300 bytes)', () => {
  for (let length = 0; length <= 300; length++) {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 131 + length * 7) & 0xff);
    assert.equal(md5Hex(bytes), createHash('md5').update(bytes).digest('hex'), `length ${length}`);
  }
});

test('md5Hex hashes strings as UTF-8, like Python str.encode()', () => {
  const text = 'gs://bücket/трасса/🚀';
  assert.equal(md5Hex(text), createHash('md5').update(text, 'utf8').digest('hex'));
});

test('md5Hex differs for inputs that differ by one bit', () => {
  assert.notEqual(md5Hex(new Uint8Array([0])), md5Hex(new Uint8Array([1])));
});
