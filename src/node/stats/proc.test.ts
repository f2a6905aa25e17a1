import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCmdline, parseMeminfo, parsePidStat, parseProcStat, parseSmapsRollup } from './proc.js';

test('the host\'s busy CPU time counts everything but idle and iowait, in core-nanoseconds', () => {
  const text = 'cpu  100 2 30 5000 7 1 4 6 3 0\ncpu0 50 1 15 2500 3 0 2 3 0 0\nintr 1\nbtime 1700000000\n';
  const cpu = parseProcStat(text);
  assert.equal(cpu.busyNs, (100 + 2 + 30 + 1 + 4 + 6) * 10_000_000);
  assert.equal(cpu.bootTimeMs, 1_700_000_000_000);
  assert.throws(() => parseProcStat('cpu0 1 2 3\n'), /no "cpu" line/);
});

test('the node\'s working set is what is in use less the inactive file cache', () => {
  const m = parseMeminfo('MemTotal:        1000 kB\nMemFree:          400 kB\nMemAvailable:     700 kB\nActive(file):     100 kB\nInactive(file):   150 kB\n');
  assert.deepEqual(m, { totalBytes: 1000 * 1024, availableBytes: 700 * 1024, usageBytes: 600 * 1024, workingSetBytes: 450 * 1024 });
  assert.throws(() => parseMeminfo('MemTotal: 1 kB\n'), /no "MemFree"/);
});

test('a process\'s CPU time is utime + stime of all its threads; its name may hold spaces and parentheses', () => {
  const stat = '4242 (qemu (x) 1) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 130 0 0 20 0 3 0 987654 300000000 5000 18446744073709551615';
  assert.deepEqual(parsePidStat(stat, 4242), { cpuNs: 380 * 10_000_000, startTicks: 987654 });
  assert.throws(() => parsePidStat('4242 (x) S 1', 4242), /process 4242/);
});

test('smaps_rollup gives RSS and PSS; a command line splits at NULs', () => {
  const smaps = '55f6e8484000-7ffc670b9000 ---p 00000000 00:00 0   [rollup]\nRss:              262144 kB\nPss:              131072 kB\nPss_Anon:          65536 kB\n';
  assert.deepEqual(parseSmapsRollup(smaps, 7), { rssBytes: 256 * 2 ** 20, pssBytes: 128 * 2 ** 20 });
  assert.throws(() => parseSmapsRollup('Rss: 1 kB\n', 7), /process 7.*Pss/);
  assert.deepEqual(parseCmdline('qemu-system-x86_64\0-name\0sandpod-ab\0'), ['qemu-system-x86_64', '-name', 'sandpod-ab']);
  assert.deepEqual(parseCmdline('a\0\0b\0'), ['a', '', 'b'], 'an empty argument is kept');
});
