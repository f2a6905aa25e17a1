import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, type LogSink } from '../log.js';
import { backoffMs, summarizeLogLine, Supervisor, type DaemonSpec, type SupervisorHost } from './supervisor.js';

/** A fake process table and clock: what the supervisor sees of the OS. */
function fakeHost() {
  let now = 1_000_000;
  let nextPid = 500;
  const alive = new Set<number>();
  const exits = new Map<number, (code: number | null, signal: string | null) => void>();
  const spawned: string[] = [];
  const host: SupervisorHost = {
    now: () => now,
    isAlive: (pid) => alive.has(pid),
    lastLogLine: (file) => `last line of ${file}`,
    spawn: (spec, onExit) => {
      const pid = nextPid++;
      alive.add(pid);
      exits.set(pid, onExit);
      spawned.push(`${spec.name}:${pid}`);
      return pid;
    },
  };
  return {
    host, alive, spawned,
    advance: (ms: number) => { now += ms; },
    kill: (pid: number, code: number | null, signal: string | null) => { alive.delete(pid); exits.get(pid)?.(code, signal); },
  };
}

const spec = (name: string, pid: number): DaemonSpec => ({ name, command: '/bin/x', args: [name], env: {}, logFile: `/logs/${name}.log`, pid });
const lines: string[] = [];
const sink: LogSink = { write: (l) => lines.push(l) };

test('a daemon that dies is restarted after a back-off that doubles while it keeps dying and resets once it ran a minute', () => {
  const f = fakeHost();
  f.alive.add(10);
  f.alive.add(11);
  const s = new Supervisor(f.host, createLogger('supervisor', sink));
  s.load({ generation: 1, daemons: [spec('etcd', 10), spec('node-agent/n0', 11)] });
  assert.equal(s.tick(), false, 'nothing changed while both run');
  f.alive.delete(11);
  assert.equal(s.tick(), true);
  let agent = s.status(1).daemons.find((d) => d.name === 'node-agent/n0')!;
  assert.equal(agent.state, 'restarting');
  assert.deepEqual(agent.lastExit && { pid: agent.lastExit.pid, code: agent.lastExit.code, line: agent.lastExit.logLine }, { pid: 11, code: null, line: 'last line of /logs/node-agent/n0.log' });
  f.advance(backoffMs(1) - 1);
  s.tick();
  assert.deepEqual(f.spawned, [], 'not before the back-off');
  f.advance(1);
  s.tick();
  assert.deepEqual(f.spawned, ['node-agent/n0:500']);
  agent = s.status(1).daemons.find((d) => d.name === 'node-agent/n0')!;
  assert.deepEqual([agent.state, agent.pid, agent.restarts], ['running', 500, 1]);
  // A child of the supervisor: its exit status is known. Dying again at once doubles the back-off.
  f.kill(500, null, 'SIGKILL');
  s.tick();
  agent = s.status(1).daemons.find((d) => d.name === 'node-agent/n0')!;
  assert.equal(agent.lastExit?.signal, 'SIGKILL');
  assert.equal(Date.parse(agent.nextRestartAt!) - 1_000_000 - backoffMs(1), backoffMs(2));
  f.advance(backoffMs(2));
  s.tick();
  f.advance(60_000);
  f.kill(501, 1, null);
  s.tick();
  agent = s.status(1).daemons.find((d) => d.name === 'node-agent/n0')!;
  assert.equal(agent.lastExit?.code, 1);
  assert.equal(Date.parse(agent.nextRestartAt!) - Date.parse(agent.lastExit!.at), backoffMs(1), 'ran a minute: back to the first delay');
  assert.equal(s.status(1).daemons.find((d) => d.name === 'etcd')?.restarts, 0);
  assert.ok(lines.some((l) => /daemon exited; restarting after back-off/.test(l) && /node-agent\/n0/.test(l)), 'each exit is logged with the daemon');
});

test('a new set adopts new daemons and forgets removed ones, which are then never restarted', () => {
  const f = fakeHost();
  f.alive.add(20);
  f.alive.add(21);
  const s = new Supervisor(f.host, createLogger('supervisor', sink));
  s.load({ generation: 1, daemons: [spec('registry', 20), spec('containerd/n1', 21)] });
  s.load({ generation: 2, daemons: [spec('registry', 20)] });
  f.alive.delete(21);
  f.advance(60_000);
  s.tick();
  assert.deepEqual(f.spawned, [], 'a removed daemon is not restarted');
  assert.deepEqual(s.status(7).daemons.map((d) => d.name), ['registry']);
  assert.equal(s.status(7).generation, 2);
  assert.equal(backoffMs(1), 1000);
  assert.equal(backoffMs(10), 30_000, 'capped');
});

test('log lines for people: a structured line as level and message, any line bounded', () => {
  assert.equal(summarizeLogLine('{"time":"t","level":"error","component":"x","msg":"cannot start","err":"EADDRINUSE"}'), 'error: cannot start (EADDRINUSE)');
  assert.equal(summarizeLogLine('plain text'), 'plain text');
  assert.equal(summarizeLogLine('x'.repeat(400)).length, 300);
});
