/** `sandpod up` and `sandpod down` as a user runs them: progress, the kubeconfig path, and nothing left behind. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, startEtcd, stopProcess } from '../../src/cluster/index.js';
import { kubectlVersions, leftovers } from './harness.js';
import { sandpodBin } from './helpers.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A pod range of the test's own. */
const net = (): string[] => ['--pod-subnet', `10.248.${Math.floor(Math.random() * 200)}.0/24`];

function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('sandpod up prints progress and the kubeconfig; kubectl works; sandpod down stops everything', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sandpod-api-e2e-cli-'));
  const dirs = ['--state-dir', join(root, 'state'), '--run-dir', join(root, 'run')];
  try {
    const up = await run(process.execPath, [main, 'up', ...dirs, ...net()]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /preparing the cluster network.*…\n.*starting etcd…\n.*preparing certificates…\n.*starting the API server…\n.*starting the scheduler…\n.*starting the controller manager…\n.*starting the image registry…\n.*starting node aks-nodepool1-\d+-vmss000000 .*\n.*waiting for node .* to be Ready…\n.*starting the supervisor/s);
    const kubeconfig = /kubeconfig: (\S+)/.exec(up.stdout)?.[1];
    assert.equal(kubeconfig, join(root, 'state', 'clusters', 'local', 'default', 'kubeconfig'));
    const again = await run(process.execPath, [main, 'up', ...dirs]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /cluster default \(resource group local\) is already running/);
    const ns = await run(kubectlVersions['1.32']!, ['--kubeconfig', kubeconfig!, '--cache-dir', join(root, 'kcache'), 'get', 'ns', 'kube-system']);
    assert.equal(ns.code, 0, ns.stderr);
    const down = await run(process.execPath, [main, 'down', ...dirs]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /stopped etcd, apiserver, scheduler, controller-manager, registry, containerd\/aks-nodepool1-\S+, node-agent\/aks-nodepool1-\S+\n/);
    assert.equal(leftovers(root), '');
    const twice = await run(process.execPath, [main, 'down', ...dirs]);
    assert.match(twice.stdout, /nothing was running/);
  } finally {
    await run(process.execPath, [main, 'down', ...dirs]);
    rmSync(root, { recursive: true, force: true });
  }
});

test('sandpod up killed half-way: its daemons are not lost; sandpod down finds and stops them', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sandpod-api-e2e-cli-'));
  const dirs = ['--state-dir', join(root, 'state'), '--run-dir', join(root, 'run')];
  try {
    // Killed once the control plane runs and before the supervisor knows it: nothing but the processes say they run.
    const up = spawn(process.execPath, [main, 'up', ...dirs, ...net()], { stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    await new Promise<void>((resolve, reject) => {
      up.stdout.on('data', (d: Buffer) => {
        said += d.toString();
        if (/starting the image registry/.test(said)) { up.kill('SIGKILL'); resolve(); }
      });
      up.once('exit', () => reject(new Error(`up ended before the registry step:\n${said}`)));
    });
    await new Promise((r) => up.once('exit', r));
    assert.match(leftovers(root), /daemon\.js apiserver/, 'the API server outlived its up');
    const down = await run(process.execPath, [main, 'down', ...dirs]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /stopped \d+ processes of an interrupted start/);
    assert.equal(leftovers(root), '');
  } finally {
    await run(process.execPath, [main, 'down', ...dirs]);
    rmSync(root, { recursive: true, force: true });
  }
});

test('sandpod up --etcd-endpoints uses an existing etcd and down leaves it running', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sandpod-api-e2e-cli-'));
  const dirs = ['--state-dir', join(root, 'state'), '--run-dir', join(root, 'run')];
  const etcd = await startEtcd(join(root, 'external-etcd'), join(root, 'external-etcd.log'));
  try {
    const up = await run(process.execPath, [main, 'up', ...dirs, ...net(), '--etcd-endpoints', etcd.endpoint]);
    assert.equal(up.code, 0, up.stderr);
    assert.doesNotMatch(up.stdout, /starting etcd/);
    assert.match(up.stdout, new RegExp(`etcd ${etcd.endpoint.replace(/[.:/]/g, '\\$&')}`));
    const kubeconfig = /kubeconfig: (\S+)/.exec(up.stdout)![1]!;
    const ns = await run(kubectlVersions['1.32']!, ['--kubeconfig', kubeconfig, '--cache-dir', join(root, 'kcache'), 'get', 'ns', 'default']);
    assert.equal(ns.code, 0, ns.stderr);
    const down = await run(process.execPath, [main, 'down', ...dirs]);
    assert.match(down.stdout, /stopped apiserver, scheduler, controller-manager, registry, containerd\/\S+, node-agent\/\S+\n/);
    assert.ok(isAlive(etcd.process.pid), 'down must not stop an etcd it did not start');
  } finally {
    await run(process.execPath, [main, 'down', ...dirs]);
    await stopProcess(etcd.process.pid);
    const left = leftovers(root);
    rmSync(root, { recursive: true, force: true });
    assert.equal(left, '');
  }
});

test('sandpod up after a crash (every process killed) cleans up and starts again', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sandpod-api-e2e-cli-'));
  const dirs = ['--state-dir', join(root, 'state'), '--run-dir', join(root, 'run')];
  const network = net();
  try {
    assert.equal((await run(process.execPath, [main, 'up', ...dirs, ...network])).code, 0);
    for (const pid of leftovers(root).split('\n').map((l) => Number(l.split(' ')[0])).filter((p) => p > 0)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    const status = await run(process.execPath, [main, 'status', ...dirs]);
    assert.equal(status.code, 1, 'status says something is down');
    assert.match(status.stdout, /NOT RUNNING/);
    const again = await run(process.execPath, [main, 'up', ...dirs, ...network]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /cleaning up what an earlier run left behind/);
    assert.equal((await run(process.execPath, [main, 'status', ...dirs])).code, 0);
  } finally {
    await run(process.execPath, [main, 'down', ...dirs]);
    const left = leftovers(root);
    rmSync(root, { recursive: true, force: true });
    assert.equal(left, '');
  }
});

test('the ./sandpod wrapper a user runs starts the built CLI', async () => {
  const r = await run(sandpodBin, ['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^usage: sandpod <command>/m);
});
