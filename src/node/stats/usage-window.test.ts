import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuRate, UsageWindows, type Sample } from './usage-window.js';

const s = (at: number, cpuNs: number, memory = 0): Sample<number> => ({ at, cpuNs, memory });

test('a rate is the CPU time between two samples over the time between them, in nanocores', () => {
  assert.deepEqual(cpuRate(s(1_000, 0), s(11_000, 10e9)), { nanoCores: 1e9, windowMs: 10_000, at: 11_000 }, 'one core busy for 10 s');
  assert.equal(cpuRate(s(0, 5e9), s(15_000, 5e9 + 3.75e9))?.nanoCores, 250_000_000, 'a quarter core over 15 s');
  assert.equal(cpuRate(s(0, 1), s(10_000, 1))?.nanoCores, 0, 'idle');
  assert.equal(cpuRate(s(5_000, 0), s(5_000, 1e9)), undefined, 'no interval');
  assert.equal(cpuRate(s(5_000, 0), s(4_000, 1e9)), undefined, 'out of order');
  assert.equal(cpuRate(s(0, 9e9), s(10_000, 1e9)), undefined, 'a counter that went back is a new series, not a negative rate');
});

test('each series keeps its newest two samples; the rate needs two', () => {
  const w = new UsageWindows<number>();
  w.record(new Map([['a', s(0, 0, 10)]]));
  assert.equal(w.rate('a'), undefined, 'one sample is no rate yet');
  assert.equal(w.latest('a')?.memory, 10);
  w.record(new Map([['a', s(10_000, 5e9, 20)]]));
  assert.equal(w.rate('a')?.nanoCores, 500_000_000);
  w.record(new Map([['a', s(20_000, 15e9, 30)]]));
  assert.deepEqual(w.rate('a'), { nanoCores: 1e9, windowMs: 10_000, at: 20_000 }, 'the oldest sample dropped out');
  assert.equal(w.latest('a')?.memory, 30, 'memory as last read');
});

test('a repeated reading is ignored; a reset counter restarts the series; absent series are forgotten', () => {
  const w = new UsageWindows<number>();
  w.record(new Map([['a', s(0, 0)], ['b', s(0, 0)]]));
  w.record(new Map([['a', s(10_000, 2e9)], ['b', s(10_000, 1e9)]]));
  w.record(new Map([['a', s(10_000, 2e9)]]));
  assert.equal(w.rate('a')?.nanoCores, 200_000_000, 'the same reading again changes nothing');
  assert.equal(w.size, 1, 'b was not in the last round');
  assert.equal(w.rate('b'), undefined);
  w.record(new Map([['a', s(20_000, 1e9)]]));
  assert.equal(w.rate('a'), undefined, 'after a reset the series starts over');
  w.record(new Map([['a', s(30_000, 2e9)]]));
  assert.equal(w.rate('a')?.nanoCores, 100_000_000);
});
