/**
 * Streams through a real local cluster (`./sandpod up`) with unmodified kubectl, for a plain pod and a VM pod:
 * `port-forward` (kubectl 1.30's SPDY and 1.31+'s WebSocket tunnel) to busybox httpd, two connections at once;
 * `cp` of a 5 MB random file both ways with the same sha256; `attach -it` to a VM pod's TTY container; an exec
 * into a container that is not running shows the node's reason. `./sandpod down` leaves nothing behind.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as pty from 'node-pty';
import { waitUntil } from '../../src/wait.js';
import { kubectlVersions } from './harness.js';
import { localCluster, type KubectlResult } from './local-cluster.js';
import { httpGet, portForwardKubectls, startPortForward } from './port-forward-client.js';

const frame = localCluster('streams', { subnetPrefix: '10.245', bridgePrefix: 'spf' });
const { root, kubectlArgs } = frame;
const kubectl132 = kubectlVersions['1.32']!;
const kubectl = (args: string[], timeoutMs?: number): Promise<KubectlResult> => frame.kubectl(args, timeoutMs !== undefined ? { timeoutMs } : {});
const ok = async (args: string[], timeoutMs?: number): Promise<string> => {
  const r = await kubectl(args, timeoutMs);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const waitFor = (what: string, check: () => Promise<boolean>, timeoutMs = 240_000): Promise<true> =>
  waitUntil(async () => ((await check()) ? true : undefined), { timeoutMs, intervalMs: 1000, onTimeout: () => new Error(`timed out waiting for ${what}`) });
const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

/** busybox httpd serving a file written at start; on a VM pod it listens on the pod's interface (0.0.0.0). */
const webContainer = `
  - name: web
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo \\"served by $(hostname)\\" > /www/index.html && exec httpd -f -p 8080 -h /www"]`;
// restartPolicy Never: `done` exits and stays exited, so an exec into it is refused by the node.
const manifest = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  restartPolicy: Never
  containers:${webContainer}
  - {name: done, image: busybox, command: ["true"]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-vm}
spec:
  runtimeClassName: kata-vm-isolation
  containers:${webContainer}
  - {name: console, image: busybox, command: ["sh"], stdin: true, tty: true}
`;
const pods = ['web', 'web-vm'] as const;
const running = async (pod: string, container: string): Promise<boolean> =>
  (await kubectl(['get', 'pod', pod, '-o', `jsonpath={.status.containerStatuses[?(@.name=="${container}")].state.running.startedAt}`])).stdout !== '';

before(async () => {
  await frame.up;
  await writeFile(join(root, 'pods.yaml'), manifest);
  await ok(['apply', '-f', join(root, 'pods.yaml')]);
  await waitFor('both web servers and the console to run', async () => (await running('web', 'web')) && (await running('web-vm', 'web')) && (await running('web-vm', 'console')));
});

for (const pod of pods) {
  for (const [version, binary] of Object.entries(portForwardKubectls)) {
    test(`kubectl ${version} port-forward to ${pod}: the served file, over two connections at once`, async () => {
      const pf = await startPortForward(binary, kubectlArgs(['port-forward', `pod/${pod}`, ':8080']));
      try {
        const [a, b] = await Promise.all([httpGet(pf.localPort, '/index.html'), httpGet(pf.localPort, '/index.html')]);
        for (const r of [a, b]) assert.deepEqual([r.status, r.body.toString()], [200, `served by ${pod}\n`]);
        const again = await httpGet(pf.localPort, '/index.html');
        assert.equal(again.body.toString(), `served by ${pod}\n`, 'and one more after those');
      } finally {
        await pf.stop();
      }
      assert.doesNotMatch(pf.output(), /^E\d{4}|error/im, 'kubectl reported nothing wrong');
    });
  }
}

test('kubectl cp round-trips a 5 MB random file to and from each pod', async () => {
  const original = join(root, 'random.bin');
  await writeFile(original, randomBytes(5 * 1024 * 1024));
  const want = await sha256(original);
  for (const pod of pods) {
    await ok(['cp', original, `${pod}:/tmp/random.bin`, '-c', 'web'], 600_000);
    assert.equal((await ok(['exec', pod, '-c', 'web', '--', 'sha256sum', '/tmp/random.bin'])).split(' ')[0], want, `the copy in ${pod} is whole`);
    const back = join(root, `back-from-${pod}.bin`);
    await ok(['cp', `${pod}:/tmp/random.bin`, back, '-c', 'web'], 600_000);
    assert.equal(await sha256(back), want, `the copy from ${pod} is whole`);
  }
});

test('kubectl attach -it to the VM pod\'s TTY container sees its output and sends it input', async () => {
  const term = pty.spawn(kubectl132, kubectlArgs(['attach', '-it', 'web-vm', '-c', 'console']), { cols: 100, rows: 30, env: process.env as Record<string, string> });
  let screen = '';
  term.onData((d) => { screen += d; });
  const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
  const until = (re: RegExp): Promise<true> => waitUntil(() => (re.test(screen) ? true : undefined), { timeoutMs: 60_000, onTimeout: () => new Error(`the terminal never showed ${re}: ${JSON.stringify(screen)}`) });
  try {
    await until(/If you don't see a command prompt, try pressing enter\./);
    term.write('echo attached-$((6*7)); tty\r');
    await until(/attached-42/);
    await until(/\/dev\/(pts\/\d+|console)/);
  } finally {
    term.kill();
    await exited;
  }
  assert.ok(await running('web-vm', 'console'), 'detaching leaves the shell running');
});

test('an exec into a container that is not running shows the node\'s reason', async () => {
  await waitFor('the done container to have exited', async () =>
    (await kubectl(['get', 'pod', 'web', '-o', 'jsonpath={.status.containerStatuses[?(@.name=="done")].state.terminated.exitCode}'])).stdout === '0');
  const r = await kubectl(['exec', 'web', '-c', 'done', '--', 'true']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /container "done" of pod default\/web is not running; exec needs a running container/);
  assert.doesNotMatch(r.stderr, /\(HTTP \d+\)/, 'not a bare status code');
});
