import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlotPool } from '../../daemon/scheduler/slot-pool.js';

test('an owner keeps its slot; new owners get free slots first', () => {
  const p = new SlotPool(3);
  const a = p.acquire('a');
  p.release(a);
  const b = p.acquire('b');
  p.release(b);
  assert.notEqual(a.slot, b.slot);
  const a2 = p.acquire('a');
  assert.equal(a2.slot, a.slot);
  assert.ok(p.holds(a), 'same epoch: the cache is still a\'s');
  p.release(a2);
});

test('when full, the least recently used unpinned slot is reused and its old lease no longer holds', () => {
  const p = new SlotPool(2);
  const a = p.acquire('a');
  p.release(a);
  const b = p.acquire('b');
  p.release(b);
  const a2 = p.acquire('a'); // a is now more recent than b
  p.release(a2);
  const c = p.acquire('c');
  assert.equal(c.slot, b.slot);
  assert.equal(p.holds(b), false);
  assert.equal(p.ownerOf(c.slot), 'c');
});

test('pinned slots are kept unless every slot is pinned', () => {
  const p = new SlotPool(2);
  const a = p.acquire('a'); // pinned
  const b = p.acquire('b');
  p.release(b);
  const c = p.acquire('c');
  assert.equal(c.slot, b.slot, 'the unpinned slot is taken');
  const d = p.acquire('d'); // both pinned now: the older one goes
  assert.equal(d.slot, a.slot);
  assert.equal(p.holds(a), false);
});

test('forget frees an owner\'s slot', () => {
  const p = new SlotPool(2);
  const a = p.acquire('a');
  p.release(a);
  assert.equal(p.forget('a'), a.slot);
  assert.equal(p.ownerOf(a.slot), null);
  assert.equal(p.holds(a), false);
  assert.equal(p.forget('a'), undefined);
  assert.throws(() => new SlotPool(0), RangeError);
});
