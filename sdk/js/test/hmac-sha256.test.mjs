// The plugin's own SHA-256 and HMAC-SHA256 give node:crypto's answers, for
// lengths around every padding boundary and keys longer than a block.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { test } from 'node:test';
import { constantTimeEqual, hmacSha256, sha256, toHex } from '../hmac-sha256.js';

const bytes = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 0xff);

test('sha256 matches node:crypto', () => {
  for (let n = 0; n <= 200; n++) {
    const data = bytes(n, n);
    assert.equal(toHex(sha256(data)), createHash('sha256').update(data).digest('hex'), `length ${n}`);
  }
});

test('hmac-sha256 matches node:crypto', () => {
  for (const keyLength of [0, 1, 32, 63, 64, 65, 200]) {
    for (const n of [0, 1, 55, 56, 64, 1000]) {
      const key = bytes(keyLength, 3);
      const data = bytes(n, 5);
      assert.equal(
        toHex(hmacSha256(key, data)),
        createHmac('sha256', key).update(data).digest('hex'),
        `key ${keyLength}, message ${n}`,
      );
    }
  }
});

test('constant-time comparison', () => {
  assert.ok(constantTimeEqual('abc', 'abc'));
  assert.ok(!constantTimeEqual('abc', 'abd'));
  assert.ok(!constantTimeEqual('abc', 'ab'));
});
