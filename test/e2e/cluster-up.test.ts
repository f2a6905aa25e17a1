/**
 * The workshop's core path on a real local cluster: `./sandpod up`, then unmodified kubectl. A plain pod and
 * the AKS VM pod run side by side on different kernels; limits size the VM; logs stream; exec works with a
 * pty and returns exit codes; crash loops back off and restartPolicy Never fails the pod; a VM pod is deleted
 * within its grace period leaving nothing; a killed node agent restarted by `up` adopts the pods; a killed
 * QEMU makes the container restart; `./sandpod down` leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as pty from 'node-pty';
import { waitUntil } from '../../src/wait.js';
import { kubectlVersions } from './harness.js';
import { localCluster, type KubectlResult } from './local-cluster.js';
import { containerProcesses, netnsInode, netnsNames, processesWhere, repoRoot, sandpod } from './helpers.js';

const frame = localCluster('up', { subnetPrefix: '10.246', bridgePrefix: 'spu' });
const { root, roots, subnet, kubeconfig } = frame;
const examples = join(repoRoot, 'examples');

const kubectl = (args: string[], input?: string): Promise<KubectlResult> => frame.kubectl(args, input !== undefined ? { input } : {});
const { ok, waitFor, podVms } = frame;
const jsonpath = (pod: string, path: string): Promise<string> => frame.jsonpath('pod', pod, path);

test('a plain pod and the AKS VM pod run side by side on different kernels; limits size the VM', async () => {
  await ok(['apply', '-f', join(examples, 'trusted-pod.yaml'), '-f', join(examples, 'untrusted-vm-pod.yaml'), '-f', join(examples, 'vm-pod-limits.yaml')]);
  await ok(['wait', '--for=condition=Ready', 'pod/trusted', 'pod/untrusted', 'pod/vm-limits', '--timeout=240s']);
  const host = (await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim();
  assert.equal((await ok(['exec', 'trusted', '--', 'uname', '-r'])).trim(), host);
  const guest = (await ok(['exec', 'untrusted', '--', 'uname', '-r'])).trim();
  assert.notEqual(guest, host);
  assert.match(guest, /^\d+\.\d+\.\d+-\d+-amd64$/);
  const sized = await ok(['exec', 'vm-limits', '--', 'sh', '-c', 'nproc; grep MemTotal /proc/meminfo']);
  assert.match(sized, /^2$/m);
  const mem = (t: string): number => Number(/MemTotal:\s+(\d+)/.exec(t)?.[1]) / 1024;
  assert.ok(mem(sized) <= 256 && mem(sized) > 150, `MemTotal ${mem(sized)} MiB within 256Mi`);
  const dflt = mem(await ok(['exec', 'untrusted', '--', 'grep', 'MemTotal', '/proc/meminfo']));
  assert.ok(dflt > 400 && dflt <= 512, `no limits: a 512Mi VM (MemTotal ${dflt} MiB)`);
  const wide = await ok(['get', 'pods', '-o', 'wide']);
  assert.match(wide, new RegExp(`untrusted\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+${subnet.split('.').slice(0, 3).join('\\.')}\\.\\d+`));
  await ok(['delete', 'pod', 'vm-limits', '--wait=false']);
});

test('logs stream, exec returns exit codes, and exec -it works under a pty', async () => {
  const r = await kubectl(['exec', 'untrusted', '--', 'sh', '-c', 'exit 3']);
  assert.equal(r.code, 3);
  // logs -f: new lines arrive while the request is open.
  const follow = spawn(kubectlVersions['1.32']!, ['--kubeconfig', kubeconfig, '--cache-dir', join(root, 'kc'), 'logs', '-f', 'untrusted']);
  let out = '';
  follow.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const lines = (): number => out.split('\n').filter((l) => l === '.').length;
  await waitFor('a first log line', async () => lines() >= 1, 30_000);
  const first = lines();
  await waitFor('more lines while following', async () => lines() > first, 30_000);
  follow.kill();

  const term = pty.spawn(kubectlVersions['1.32']!, ['--kubeconfig', kubeconfig, '--cache-dir', join(root, 'kc'), 'exec', '-it', 'untrusted', '--', 'sh'],
    { cols: 100, rows: 30, env: process.env as Record<string, string> });
  let screen = '';
  term.onData((d) => { screen += d; });
  const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
  const until = (re: RegExp): Promise<true> => waitUntil(() => (re.test(screen) ? true : undefined), { timeoutMs: 30_000, onTimeout: () => new Error(`terminal never showed ${re}: ${JSON.stringify(screen)}`) });
  await until(/# /);
  term.write('tty; stty size; uname -r\r');
  await until(/\/dev\/pts\/\d+/);
  await until(/30 100/);
  await until(/-amd64/);
  term.write('exit 5\r');
  assert.equal(await exited, 5);
});

test('CrashLoopBackOff with growing delays for Always; Failed with the exit code for Never', async () => {
  const manifest = (name: string, policy: string): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: ${policy}
  containers:
  - {name: main, image: busybox, command: ["sh", "-c", "exit 1"]}
`;
  await ok(['apply', '-f', '-'], manifest('crasher', 'Always') + '---\n' + manifest('once', 'Never'));
  await waitFor('once to fail', async () => (await jsonpath('once', '.status.phase')) === 'Failed');
  assert.equal(await jsonpath('once', '.status.containerStatuses[0].state.terminated.exitCode'), '1');
  await waitFor('crasher to back off after its second restart', async () => Number(await jsonpath('crasher', '.status.containerStatuses[0].restartCount')) >= 2
    && (await jsonpath('crasher', '.status.containerStatuses[0].state.waiting.reason')) === 'CrashLoopBackOff', 120_000);
  assert.match(await jsonpath('crasher', '.status.containerStatuses[0].state.waiting.message'), /back-off (20|40)s/);
  const events = await ok(['get', 'events', '--field-selector', 'involvedObject.name=crasher', '-o', 'jsonpath={.items[*].reason}']);
  assert.match(events, /BackOff/);
  await ok(['delete', 'pod', 'crasher', 'once', '--wait=false']);
});

test('a killed node agent is restarted by the supervisor and adopts the pods; a killed QEMU restarts the container', async () => {
  const before = await jsonpath('untrusted', '.status.containerStatuses[0].containerID');
  const port = async (): Promise<string> => ok(['get', 'node', '-o', 'jsonpath={.items[0].status.daemonEndpoints.kubeletEndpoint.Port}']);
  const oldPort = await port();
  const [agentPid] = await processesWhere((cmd) => cmd.includes('daemon.js\0node\0') && cmd.includes(root));
  assert.ok(agentPid, 'the node agent runs');
  process.kill(agentPid, 'SIGKILL');
  // The new agent has registered (a new streaming port) and taken over the pod once its status names it Ready.
  await waitFor('the new agent to register', async () => (await port()) !== oldPort, 30_000);
  await waitFor('the adopted pod to be reported ready', async () => (await jsonpath('untrusted', '.status.containerStatuses[0].ready')) === 'true', 30_000);
  assert.equal(await jsonpath('untrusted', '.status.containerStatuses[0].containerID'), before, 'the same container runs on');
  assert.equal(await jsonpath('untrusted', '.status.containerStatuses[0].restartCount'), '0');
  const status = await sandpod(['status', ...roots], process.env);
  assert.equal(status.code, 0, status.stdout);
  assert.match(status.stdout, new RegExp(`node-agent/\\S+ +pid \\d+ +running, restarted 1×; last exit \\S+ \\(pid ${agentPid}, status unknown\\)`));
  const again = await sandpod(['up', ...roots], process.env, undefined, 120_000);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /is already running/);

  const vms = await podVms();
  assert.equal(vms.length, 1, 'one VM pod (untrusted) runs now');
  process.kill(vms[0] as number, 'SIGKILL');
  await waitFor('the container to be restarted', async () => (await jsonpath('untrusted', '.status.containerStatuses[0].restartCount')) === '1'
    && (await jsonpath('untrusted', '.status.containerStatuses[0].ready')) === 'true', 180_000);
  assert.equal(await jsonpath('untrusted', '.status.containerStatuses[0].lastState.terminated.exitCode'), '137');
});

test('deleting a VM pod finishes within its grace period and leaves no VM, netns or mount', async () => {
  const grace = Number(await jsonpath('untrusted', '.spec.terminationGracePeriodSeconds'));
  // The pods' network namespaces, from their processes (other clusters on this machine have their own).
  const trustedId = (await jsonpath('trusted', '.status.containerStatuses[0].containerID')).replace('containerd://', '');
  const pids = [...(await containerProcesses(trustedId)), ...(await podVms())];
  assert.ok(pids.length >= 2, 'the runc pod\'s processes and the VM pod\'s QEMU are found');
  const namespaces = new Set(await Promise.all(pids.map(netnsInode)));
  assert.equal((await netnsNames(namespaces)).length, 2, 'each pod has its network namespace');
  const t0 = Date.now();
  await ok(['delete', 'pod', '--all']);
  const took = (Date.now() - t0) / 1000;
  assert.ok(took <= grace + 10, `deleted in ${took.toFixed(1)} s (grace ${grace} s)`);
  await waitFor('no pods', async () => (await ok(['get', 'pods', '-o', 'name'])).trim() === '', 60_000);
  assert.deepEqual(await podVms(), [], 'no VM is left');
  assert.deepEqual(await netnsNames(namespaces), [], 'no pod network namespace is left');
});

test('`sandpod down` while VM pods are still starting leaves no shim, VM, network namespace or mount behind', async () => {
  // New sizes: their templates are being made while the pods start, the moment a node used to leak from.
  const pod = (name: string, memory: string): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  runtimeClassName: kata-vm-isolation
  containers: [{name: main, image: busybox, command: [sleep, "1000"], resources: {limits: {memory: ${memory}}}}]
`;
  await ok(['apply', '-f', '-'], `${pod('starting-a', '200Mi')}---\n${pod('starting-b', '300Mi')}`);
  const cluster = (): Promise<number[]> => processesWhere((cmd) => (cmd.startsWith('qemu-system') || cmd.includes('shim')) && cmd.includes(root));
  await waitFor('a VM or shim of the starting pods', async () => (await cluster()).length > 0, 120_000);
  const namespaces = new Set(await Promise.all((await podVms()).map((pid) => netnsInode(pid).catch(() => 0))));
  const r = await sandpod(['down', ...roots], process.env, undefined, 180_000);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await cluster(), [], 'no shim or VM outlives down');
  assert.deepEqual(await netnsNames(namespaces), [], 'no pod network namespace outlives down');
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(root));
  assert.deepEqual(mounts, [], 'no mount outlives down');
});
