import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriLogReader, parseCriLogRecord, parseRfc3339Nano, type LogLine } from './cri-log.js';

test('RFC 3339 timestamps keep their nanoseconds and offsets', () => {
  assert.equal(parseRfc3339Nano('2024-05-01T10:00:00.123456789Z'), 1714557600_123456789n);
  assert.equal(parseRfc3339Nano('2024-05-01T12:00:00.5+02:00'), 1714557600_500000000n);
  assert.equal(parseRfc3339Nano('2024-05-01T10:00:00Z'), 1714557600_000000000n);
  assert.equal(parseRfc3339Nano('yesterday'), undefined);
});

test('a record splits into time, stream, tag and text; other lines are not records', () => {
  const r = parseCriLogRecord(Buffer.from('2024-05-01T10:00:00.1Z stderr F oh no: two  spaces'));
  assert.deepEqual([r?.stream, r?.partial, r?.content.toString()], ['stderr', false, 'oh no: two  spaces']);
  assert.equal(parseCriLogRecord(Buffer.from('2024-05-01T10:00:00.1Z stdout P'))?.content.length, 0);
  assert.equal(parseCriLogRecord(Buffer.from('2024-05-01T10:00:00.1Z stdin F x')), undefined);
  assert.equal(parseCriLogRecord(Buffer.from('not a log line')), undefined);
});

test('the reader joins fragments per stream and waits for lines still being written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sandpod-cri-log-'));
  const path = join(dir, 'c.log');
  try {
    await writeFile(path, [
      '2024-05-01T10:00:00.1Z stdout P hel',
      '2024-05-01T10:00:00.2Z stderr F err',
      '2024-05-01T10:00:00.3Z stdout F lo',
      '2024-05-01T10:00:00.4Z stdout F unfin',
    ].join('\n'));
    const file = await open(path, 'r');
    const reader = new CriLogReader(file);
    const seen: LogLine[] = [];
    const collect = (l: LogLine): boolean => (seen.push(l), true);
    await reader.read(collect);
    assert.deepEqual(seen.map((l) => [l.timestamp, l.stream, l.content.toString()]), [
      ['2024-05-01T10:00:00.2Z', 'stderr', 'err\n'],
      ['2024-05-01T10:00:00.1Z', 'stdout', 'hello\n'],
    ]);
    await appendFile(path, 'ished\n2024-05-01T10:00:00.5Z stdout P tail without newline\n');
    await reader.read(collect);
    assert.equal(seen[2]?.content.toString(), 'unfinished\n');
    assert.deepEqual(reader.unfinished().map((l) => l.content.toString()), ['tail without newline']);
    let calls = 0;
    await appendFile(path, '2024-05-01T10:00:00.6Z stdout F a\n2024-05-01T10:00:00.7Z stdout F b\n');
    assert.equal(await reader.read(() => (calls++, false)), false, 'a reader told to stop stops');
    assert.equal(calls, 1);
    await reader.read(collect);
    assert.equal(seen.at(-1)?.content.toString(), 'b\n', 'and goes on from the next line');
    await file.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
