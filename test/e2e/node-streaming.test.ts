/**
 * The node agent's streaming server (src/node/streaming) against a real CRI containerd with runc pods: container
 * logs (plain, timestamps, tail, limit, since, follow, previous), exec and attach over WebSocket v5 relayed to
 * containerd's streaming server (output, exit codes, stdin and its EOF, a TTY and its size), the errors — first
 * with a small WebSocket client, then end to end with kubectl through the real API server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { WebSocket } from 'ws';
import type { CriClient } from '../../src/cri/index.js';
import { createLogger } from '../../src/log.js';
import { NodeStreamingServer, type ContainerLocator, type LocatedContainer, type LocatedPod } from '../../src/node/streaming/index.js';
import { RuntimePortForwardTarget } from '../../src/node/streaming/port-forward-targets.js';
import { waitUntil } from '../../src/wait.js';
import { criTestContext, runTestPod, startTestContainer, waitContainerState, type TestContainerSpec, type TestPod } from './cri-helpers.js';
import { kubectlVersions, startCluster, type TestCluster } from './harness.js';

const namespace = 'sandpod-e2e';
const podName = 'app';
const ctx = criTestContext('node-streaming');

/** kubelet's labels on CRI containers, which the test locator reads back (the node agent uses its pod workers). */
const kubeletLabels = (container: string): Record<string, string> => ({
  'io.kubernetes.pod.namespace': namespace, 'io.kubernetes.pod.name': podName, 'io.kubernetes.container.name': container,
});

/** Finds containers by those labels; the current instance has the highest attempt, `previous` the one before. */
class CriLabelLocator implements ContainerLocator {
  constructor(private readonly cri: CriClient) {}
  async locate(ns: string, pod: string, container: string, opts: { previous: boolean }): Promise<LocatedContainer | undefined> {
    const { containers } = await this.cri.listContainers({
      filter: { label_selector: { 'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': pod, 'io.kubernetes.container.name': container } },
    });
    const chosen = containers.sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0))[opts.previous ? 1 : 0];
    if (!chosen) return undefined;
    const { status } = await this.cri.containerStatus({ container_id: chosen.id });
    return status ? { containerId: chosen.id, logPath: status.log_path, running: status.state === 'CONTAINER_RUNNING' } : undefined;
  }

  async locatePod(ns: string, pod: string): Promise<LocatedPod | undefined> {
    const { items } = await this.cri.listPodSandbox({});
    const sandbox = items.find((s) => s.metadata?.namespace === ns && s.metadata.name === pod);
    if (!sandbox) return undefined;
    const { status } = await this.cri.podSandboxStatus({ pod_sandbox_id: sandbox.id });
    return { sandboxId: sandbox.id, ready: sandbox.state === 'SANDBOX_READY', podIP: status?.network?.ip || undefined, runtimeHandler: sandbox.runtime_handler };
  }
}

let pod: TestPod;
let server: NodeStreamingServer;
let base: string;

const start = (spec: TestContainerSpec): Promise<string> => startTestContainer(ctx, pod, { ...spec, labels: kubeletLabels(spec.name) });


const logs = async (container: string, query = ''): Promise<{ code: number; body: string }> => {
  const res = await fetch(`${base}/containerLogs/${namespace}/${podName}/${container}${query}`);
  return { code: res.status, body: await res.text() };
};

interface SessionResult { stdout: string; stderr: string; status: Record<string, unknown> | undefined; closeCode: number }

/** A v5 client like kubectl's: collects output and the status; `send` writes on a channel. */
function session(kind: 'exec' | 'attach', container: string, query: string) {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/${kind}/${namespace}/${podName}/${container}?${query}`, ['v5.channel.k8s.io']);
  const out: SessionResult = { stdout: '', stderr: '', status: undefined, closeCode: 0 };
  ws.on('message', (data: Buffer) => {
    const text = data.subarray(1).toString();
    if (data[0] === 1) out.stdout += text;
    else if (data[0] === 2) out.stderr += text;
    else if (data[0] === 3) out.status = JSON.parse(text) as Record<string, unknown>;
  });
  const done = new Promise<SessionResult>((resolve, reject) => {
    ws.on('close', (code) => resolve({ ...out, closeCode: code }));
    ws.on('error', reject);
  });
  const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  const send = async (channel: number, data: string | Buffer): Promise<void> => {
    await opened;
    ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
  };
  return { ws, done, send, output: () => out.stdout };
}

const command = (...args: string[]): string => args.map((a) => `command=${encodeURIComponent(a)}`).join('&');

/** The status and body of a refused upgrade. */
function refusal(path: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}${path}`, ['v5.channel.k8s.io']);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => reject(new Error(`${path} was upgraded`)));
    ws.on('error', () => undefined);
  });
}

// Node 20 runs a file's top-level before hooks concurrently; the suite's own run after the CRI frame's.
describe('the node streaming server on CRI containerd', () => {
  before(async () => {
    pod = await runTestPod(ctx, podName, 'runc');
    server = new NodeStreamingServer({ cri: ctx.cri, locator: new CriLabelLocator(ctx.cri), log: createLogger('node-streaming-test') });
    base = `http://127.0.0.1:${await server.listen('127.0.0.1')}`;
    await start({ name: 'shell', command: ['sleep', '3600'] });
  });

  after(async () => {
    await server?.close();
  });

  test('plain, timestamps, tailLines, limitBytes, sinceTime, and the errors', async () => {
    await start({ name: 'printer', command: ['sh', '-c', 'echo one; sleep 0.1; echo two >&2; sleep 0.1; printf "%04000d\\n" 7; echo three; exec sleep 3600'] });
    const wide = `${'0'.repeat(3999)}7\n`;
    const all = await waitUntil(async () => {
      const r = await logs('printer');
      return r.body.endsWith('three\n') ? r : undefined;
    }, { timeoutMs: 10_000, intervalMs: 50, onTimeout: () => new Error('the printer container\'s log never showed its last line') });
    assert.equal(all.code, 200);
    assert.deepEqual(all.body.split('\n').sort(), ['', 'one', 'three', 'two', wide.trim()].sort(), 'stdout and stderr lines in one log');
    const stamped = (await logs('printer', '?timestamps=true')).body.split('\n').filter(Boolean);
    assert.equal(stamped.length, 4);
    for (const line of stamped) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) (one|two|three|0+7)$/);
    assert.equal((await logs('printer', '?tailLines=1')).body, 'three\n');
    assert.equal((await logs('printer', '?tailLines=0')).body, '');
    assert.equal((await logs('printer', '?tailLines=2&limitBytes=5')).body, wide.slice(0, 5));
    assert.equal((await logs('printer', `?sinceTime=${new Date(Date.now() + 60_000).toISOString()}`)).body, '');
    assert.equal((await logs('printer', '?sinceSeconds=600')).body, all.body);

    const bad = await logs('printer', '?tailLines=-1');
    assert.equal(bad.code, 400);
    assert.match(bad.body, /tailLines.*container "printer" of pod sandpod-e2e\/app|container "printer" of pod sandpod-e2e\/app.*tailLines/);
    assert.equal((await logs('printer', '?sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z')).code, 400);
    const unknown = await logs('ghost');
    assert.equal(unknown.code, 404);
    assert.match(unknown.body, /container "ghost" of pod sandpod-e2e\/app is not known on this node/);
    assert.equal((await logs('printer', '?previous=true')).code, 404, 'a container that never restarted has no previous instance');
  });

  test('follow streams lines while the container runs and ends when it exits', async () => {
    const id = await start({ name: 'ticker', command: ['sh', '-c', 'for i in 1 2 3 4 5; do echo tick $i; sleep 0.3; done'] });
    const t0 = Date.now();
    const res = await fetch(`${base}/containerLogs/${namespace}/${podName}/ticker?follow=true`);
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let text = '';
    let firstAt = 0;
    let runningAtFirst = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
      if (!firstAt) {
        firstAt = Date.now() - t0;
        runningAtFirst = (await ctx.cri.containerStatus({ container_id: id })).status?.state === 'CONTAINER_RUNNING';
      }
    }
    const endedAt = Date.now() - t0;
    assert.equal(text, 'tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n');
    assert.ok(runningAtFirst, `the first lines arrived (after ${firstAt} ms) while the container still ran`);
    assert.equal((await waitContainerState(ctx.cri, id, ['CONTAINER_EXITED'])).exit_code, 0);
    process.stderr.write(`# follow: first bytes after ${firstAt} ms, response ended after ${endedAt} ms\n`);
  });

  test('previous=true reads the instance before a restart', async () => {
    const first = await start({ name: 'restarts', attempt: 0, logPath: 'restarts_0.log', command: ['sh', '-c', 'echo first life'] });
    await waitContainerState(ctx.cri, first, ['CONTAINER_EXITED']);
    await start({ name: 'restarts', attempt: 1, logPath: 'restarts_1.log', command: ['sh', '-c', 'echo second life; exec sleep 3600'] });
    const current = await waitUntil(async () => ((await logs('restarts')).body || undefined), { timeoutMs: 10_000, intervalMs: 50, onTimeout: () => new Error('no log from the restarted container') });
    assert.equal(current, 'second life\n');
    assert.deepEqual(await logs('restarts', '?previous=true'), { code: 200, body: 'first life\n' });
    assert.deepEqual(await logs('restarts', '?previous=true&follow=true'), { code: 200, body: 'first life\n' }, 'following an exited instance ends at once');
  });

  test('stdout, stderr and a non-zero exit code', async () => {
    const s = session('exec', 'shell', `${command('sh', '-c', 'echo out; echo err >&2; exit 3')}&stdout=true&stderr=true`);
    const r = await s.done;
    assert.equal(r.stdout, 'out\n', JSON.stringify(r));
    assert.equal(r.stderr, 'err\n');
    assert.deepEqual(r.status, { metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', message: 'command terminated with non-zero exit code: 3', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
    assert.equal(r.closeCode, 1000);
    const ok = await session('exec', 'shell', `${command('echo', 'fast')}&stdout=true`).done;
    assert.deepEqual([ok.stdout, ok.status, ok.closeCode], ['fast\n', { metadata: {}, status: 'Success' }, 1000]);
  });

  test('stdin reaches the command and [255,0] ends it', async () => {
    const t0 = Date.now();
    const s = session('exec', 'shell', `${command('cat')}&stdin=true&stdout=true&stderr=true`);
    await s.send(0, 'hello ');
    await s.send(0, 'world\n');
    await s.send(255, Buffer.from([0]));
    const r = await s.done;
    assert.deepEqual([r.stdout, r.status], ['hello world\n', { metadata: {}, status: 'Success' }]);
    const wc = session('exec', 'shell', `${command('wc', '-c')}&stdin=true&stdout=true`);
    await wc.send(0, Buffer.alloc(200_000, 0x61));
    await wc.send(255, Buffer.from([0]));
    assert.equal((await wc.done).stdout.trim(), '200000', 'a large stdin arrives whole before its EOF');
    process.stderr.write(`# exec with stdin: ${Date.now() - t0} ms for both sessions\n`);
  });

  test('a TTY exec takes the terminal size from the resize channel', async () => {
    const s = session('exec', 'shell', `${command('sh')}&stdin=true&stdout=true&tty=true`);
    await s.send(4, '{"Width":123,"Height":45}\n');
    await waitUntil(() => (s.output().includes('# ') ? true : undefined), { timeoutMs: 10_000, onTimeout: () => new Error(`no shell prompt on the TTY: ${JSON.stringify(s.output())}`) });
    await s.send(0, 'stty size; exit 5\n');
    const r = await s.done;
    assert.match(r.stdout, /\r\n45 123\r\n/);
    assert.equal(r.stderr, '', 'with a TTY everything is on stdout');
    assert.equal((r.status?.['details'] as { causes: Array<{ message: string }> }).causes[0]?.message, '5');
  });

  test('attach to a container started with stdin and a TTY', async () => {
    const id = await start({ name: 'console', command: ['sh'], stdin: true, tty: true });
    const s = session('attach', 'console', 'stdin=true&stdout=true&tty=true');
    await s.send(0, 'echo attached-$((40+2))\n');
    await waitUntil(() => (s.output().includes('attached-42') ? true : undefined), { timeoutMs: 10_000, onTimeout: () => new Error(`no answer from the attached shell: ${JSON.stringify(s.output())}`) });
    await s.send(0, 'exit\n');
    const r = await s.done;
    assert.deepEqual([r.status, r.closeCode], [{ metadata: {}, status: 'Success' }, 1000]);
    assert.equal((await waitContainerState(ctx.cri, id, ['CONTAINER_EXITED'])).exit_code, 0);
  });

  test('refusals name the pod and container', async () => {
    const ghost = await refusal(`/exec/${namespace}/${podName}/ghost?${command('true')}&stdout=true`);
    assert.equal(ghost.code, 404);
    assert.match(ghost.body, /container "ghost" of pod sandpod-e2e\/app is not known on this node/);
    const noCommand = await refusal(`/exec/${namespace}/${podName}/shell?stdout=true`);
    assert.equal(noCommand.code, 400);
    assert.match(noCommand.body, /container "shell" of pod sandpod-e2e\/app: exec needs a command/);
    assert.equal((await refusal(`/exec/${namespace}/${podName}/shell?${command('true')}`)).code, 400, 'no stream asked for');
    const exited = await refusal(`/attach/${namespace}/${podName}/ticker?stdout=true`);
    assert.equal(exited.code, 400);
    assert.match(exited.body, /container "ticker" of pod sandpod-e2e\/app is not running/);
    const plain = await fetch(`${base}/exec/${namespace}/${podName}/shell?${command('true')}&stdout=true`);
    assert.equal(plain.status, 400);
    assert.match(await plain.text(), /needs a WebSocket upgrade with subprotocol v5\.channel\.k8s\.io/);
  });

  test('port-forward to a runc pod goes through containerd: servers on the pod\'s localhost too, errors on the error stream', async () => {
    await start({ name: 'web', command: ['sh', '-c', 'mkdir -p /www && echo from-the-pod > /www/index.html && httpd -p 127.0.0.1:8081 -h /www && exec httpd -f -p 8080 -h /www'] });
    const target = await RuntimePortForwardTarget.open(`${base}/portForward/${namespace}/${podName}`, 'the test pod');
    try {
      let request = 0;
      const get = async (port: number): Promise<{ response: string; errors: string }> => {
        const { data, errors } = await target.connect(port, String(request++));
        const collect = (s: NodeJS.ReadableStream): Promise<string> => new Promise((resolve) => {
          let text = '';
          s.on('data', (c: Buffer) => { text += c.toString(); });
          s.on('end', () => resolve(text));
          s.on('close', () => resolve(text));
        });
        const out = Promise.all([collect(data), errors ? collect(errors) : '']);
        data.write('GET /index.html HTTP/1.0\r\n\r\n');
        const [response, errorText] = await out;
        return { response, errors: errorText };
      };
      const served = await waitUntil(async () => {
        const r = await get(8080);
        return r.response.includes('from-the-pod') ? r : undefined;
      }, { timeoutMs: 20_000, intervalMs: 200, onTimeout: () => new Error('httpd in the runc pod never answered through port-forward') });
      assert.match(served.response, /^HTTP\/1\.[01] 200 OK/);
      assert.equal(served.errors, '');
      assert.match((await get(8081)).response, /from-the-pod/, 'the runtime dials localhost inside the pod\'s network namespace');
      const refused = await get(9);
      assert.equal(refused.response, '');
      assert.match(refused.errors, /localhost:9/, 'containerd\'s reason, relayed');
    } finally {
      target.close();
    }
    const unknown = await fetch(`${base}/portForward/${namespace}/nonesuch`);
    assert.equal(unknown.status, 400, 'without an upgrade');
    assert.match(await unknown.text(), /needs a SPDY\/3\.1 upgrade/);
    await assert.rejects(RuntimePortForwardTarget.open(`${base}/portForward/${namespace}/nonesuch`, 'nonesuch'), /HTTP 404.*pod sandpod-e2e\/nonesuch is not known on this node/);
  });

  /** The API server with a Node advertising this streaming server, and the CRI pod as a Pod bound to it. */
  async function clusterWithThisNode(): Promise<TestCluster> {
    const nodeName = 'cri-node';
    const cluster = await startCluster();
    try {
      await cluster.client.create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, labels: { 'kubernetes.io/hostname': nodeName } } });
      await cluster.client.call('PATCH', `/api/v1/nodes/${nodeName}/status`, {
        contentType: 'application/merge-patch+json',
        body: { status: {
          conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'streaming test node' }],
          addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
          daemonEndpoints: { kubeletEndpoint: { Port: Number(new URL(base).port) } },
        } },
      });
      await cluster.client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
      await cluster.client.create(`/api/v1/namespaces/${namespace}/pods`, {
        apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, namespace },
        spec: { nodeName, containers: ['shell', 'printer', 'ticker', 'kticker'].map((name) => ({ name, image: 'busybox' })) },
      });
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  let cluster: TestCluster | undefined;
  after(async () => {
    await cluster?.stop();
  });

  /** Started by the first test that uses it, so that the CRI tests above do not wait for it. */
  const testCluster = async (): Promise<TestCluster> => (cluster ??= await clusterWithThisNode());
  const kubectl = async (args: string[], opts: { input?: string; binary?: string } = {}) => (await testCluster()).kubectl(['-n', namespace, ...args], opts);

  for (const [version, binary] of Object.entries(kubectlVersions)) {
    test(`kubectl ${version} exec: output, exit code, stdin`, async () => {
      let r = await kubectl(['exec', podName, '-c', 'shell', '--', 'echo', 'hello', 'world'], { binary });
      assert.deepEqual([r.code, r.stdout], [0, 'hello world\n'], r.stderr);
      r = await kubectl(['exec', podName, '-c', 'shell', '--', 'sh', '-c', 'echo to-stderr >&2; exit 3'], { binary });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /to-stderr/);
      assert.match(r.stderr, /command terminated with exit code 3/);
      r = await kubectl(['exec', '-i', podName, '-c', 'shell', '--', 'cat'], { binary, input: 'from stdin\nline two\n' });
      assert.deepEqual([r.code, r.stdout], [0, 'from stdin\nline two\n'], r.stderr);
    });
  }

  test('kubectl logs reads and follows', async () => {
    const r = await kubectl(['logs', podName, '-c', 'printer', '--tail=1']);
    assert.deepEqual([r.code, r.stdout], [0, 'three\n'], r.stderr);
    const missing = await kubectl(['logs', podName, '-c', 'printer', '--previous']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /previous terminated container "printer" of pod sandpod-e2e\/app not found/);

    const id = await start({ name: 'kticker', command: ['sh', '-c', 'for i in 1 2 3 4 5 6; do echo kubectl tick $i; sleep 0.4; done'] });
    const child = spawn(kubectlVersions['1.32']!, ['--kubeconfig', (await testCluster()).state.kubeconfig, '-n', namespace, 'logs', '-f', podName, '-c', 'kticker'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let runningAtFirst: Promise<boolean> | undefined;
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      runningAtFirst ??= ctx.cri.containerStatus({ container_id: id }).then((s) => s.status?.state === 'CONTAINER_RUNNING');
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, stderr);
    assert.equal(stdout, [1, 2, 3, 4, 5, 6].map((i) => `kubectl tick ${i}\n`).join(''));
    assert.equal(await runningAtFirst, true, 'kubectl printed lines while the container still ran');
  });
});
