// The upload staging pool (daemon/gpu/staging-pool.ts): arrays are reused best-fit, overlapping uploads get
// arrays of their own, and only a bounded number stay idle (the larger ones).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StagingPool } from '../../daemon/gpu/staging-pool.js';

test('a steady stream of uploads allocates once; each take has exactly the bytes asked for', () => {
  const pool = new StagingPool();
  for (let i = 0; i < 50; i++) {
    const src = pool.take(4096);
    const planes = [pool.take(2048), pool.take(256)];
    assert.equal(src.length, 4096);
    assert.deepEqual(planes.map((p) => p.length), [2048, 256]);
    pool.give(src, ...planes);
  }
  assert.equal(pool.allocations, 3);
  // a smaller take fits in the smallest idle array that holds it
  const small = pool.take(100);
  assert.equal(small.buffer.byteLength, 256);
  pool.give(small);
  assert.equal(pool.allocations, 3);
});

test('overlapping uploads never share an array', () => {
  const pool = new StagingPool();
  const a = pool.take(1000);
  const b = pool.take(1000);
  assert.notEqual(a.buffer, b.buffer);
  a.fill(1);
  b.fill(2);
  assert.ok(a.every((v) => v === 1));
  pool.give(a);
  const c = pool.take(1000);
  assert.equal(c.buffer, a.buffer, 'a given-back array is reused');
  assert.notEqual(c.buffer, b.buffer);
});

test('at most maxIdle arrays stay idle, the larger ones kept', () => {
  const pool = new StagingPool(2);
  const arrays = [10, 30, 20].map((n) => pool.take(n));
  pool.give(...arrays);
  assert.equal(pool.idleBytes, 50, 'the 30- and 20-byte arrays');
  assert.equal(pool.take(25).buffer.byteLength, 30);
});
