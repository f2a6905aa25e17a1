import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient, type QmpEvent } from './qmp.js';

/** A fake QMP server: greets, requires qmp_capabilities first, answers by id, emits an event in between. */
async function fakeQmp(path: string) {
  const seen: string[] = [];
  const server = createServer((s) => {
    s.write('{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": ["oob"]}}\r\n');
    let negotiated = false;
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(buf.slice(0, nl)) as { execute: string; id: number };
        buf = buf.slice(nl + 1);
        seen.push(m.execute);
        if (m.execute === 'qmp_capabilities') { negotiated = true; s.write(`{"return": {}, "id": ${m.id}}\r\n`); continue; }
        if (!negotiated) { s.write(`{"error": {"class": "CommandNotFound", "desc": "negotiate first"}, "id": ${m.id}}\r\n`); continue; }
        s.write('{"event": "STOP", "data": {}, "timestamp": {"seconds": 1, "microseconds": 2}}\r\n');
        if (m.execute === 'query-status') s.write(`{"return": {"status": "paused", "running": false}, "id": ${m.id}}\r\n`);
        else s.write(`{"error": {"class": "GenericError", "desc": "no such thing"}, "id": ${m.id}}\r\n`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { server, seen };
}

test('QMP: negotiates, matches replies by id, delivers events, reports errors with their description', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qmp-'));
  const { server, seen } = await fakeQmp(join(dir, 'qmp.sock'));
  t.after(async () => { server.close(); await rm(dir, { recursive: true, force: true }); });
  const qmp = await QmpClient.connect(join(dir, 'qmp.sock'), 'vm/test');
  const events: QmpEvent[] = [];
  qmp.on('event', (e: QmpEvent) => events.push(e));
  assert.deepEqual(await qmp.execute('query-status'), { status: 'paused', running: false });
  await assert.rejects(qmp.execute('nope'), /QMP nope failed: no such thing/);
  assert.equal(events[0]?.event, 'STOP');
  assert.deepEqual(seen, ['qmp_capabilities', 'query-status', 'nope']);
  qmp.close();
});
