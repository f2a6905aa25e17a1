/**
 * Churn: 200 VM pods and 200 runc pods created, run and deleted (4 at a time) on a local cluster leave its
 * footprint where it started: processes, daemons' open files, mounts, network namespaces, pod veths, nftables
 * rules, files under its roots and stored objects (Events are printed, not compared: each pod has its own, and
 * they expire after an hour).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAUSE_IMAGE } from '../../src/images/pause.js';
import { KubeClient, type KubeObject } from '../../src/kube/index.js';
import { waitUntil } from '../../src/wait.js';
import { execText, localCluster } from './local-cluster.js';
import { footprint, footprintFiles, footprintTable, lineChanges, nftRuleLines, settledFootprint, whatCriHas, type Footprint } from './node-footprint.js';

const c = localCluster('churn', { subnetPrefix: '10.244', bridgePrefix: 'spc' });
const CYCLES = Number(process.env['SANDPOD_CHURN_CYCLES'] ?? 200);
const PARALLEL = 4;
/** How far the daemons' open files may move without a pod (HTTP and gRPC connection pools). */
const FD_SLACK = 12;

const pod = (name: string, vm: boolean): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { churn: 'yes' } },
  spec: {
    ...(vm ? { runtimeClassName: 'kata-vm-isolation' } : {}),
    terminationGracePeriodSeconds: 1,
    // pause exits on SIGTERM: a deletion does not wait out the grace period (what that costs is tested elsewhere).
    containers: [{ name: 'main', image: PAUSE_IMAGE, imagePullPolicy: 'IfNotPresent', resources: { limits: { memory: '128Mi' }, requests: { cpu: '10m' } } }],
  },
});

async function cycle(client: KubeClient, name: string, vm: boolean): Promise<void> {
  const path = `/api/v1/namespaces/default/pods/${name}`;
  await client.create('/api/v1/namespaces/default/pods', pod(name, vm));
  await waitUntil(async () => {
    const p = await client.get(path);
    const conditions = ((p['status'] as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []);
    return conditions.some((x) => x.type === 'Ready' && x.status === 'True') ? true : undefined;
  }, { timeoutMs: 240_000, intervalMs: 250, onTimeout: () => new Error(`${name} never became Ready`) });
  await client.delete(path);
  await waitUntil(async () => (await client.get(path).then(() => undefined, () => true)), { timeoutMs: 120_000, intervalMs: 250, onTimeout: () => new Error(`${name} was never removed`) })
    .catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await whatTheNodeSays(client, path, name)}`);
    });
}

/** For a failure message: the pod as the API has it, and what the cluster's logs say of it. */
async function whatTheNodeSays(client: KubeClient, path: string, name: string): Promise<string> {
  const object = await client.get(path).then((p) => JSON.stringify({ metadata: p.metadata, status: p['status'] }), (e: unknown) => String(e));
  const dir = `${c.root}/state`;
  const mine = await execText('sh', ['-c', `grep -rh -- 'default/${name}"' ${dir} --include='*.log' | tail -n 30`]);
  // The shim and containerd name its sandbox, not the pod.
  const sandbox = /"sandbox":"([0-9a-f]{24})/.exec(mine.stdout)?.[1];
  const runtime = sandbox ? await execText('sh', ['-c', `grep -rh -- '${sandbox}' ${dir} --include='*.log' | tail -n 30`]) : { stdout: '' };
  return `the pod: ${object}\nits node's log lines:\n${mine.stdout}\nits sandbox's:\n${runtime.stdout}`;
}

async function churn(client: KubeClient, vm: boolean): Promise<number> {
  const t0 = Date.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < CYCLES) {
      const i = next++;
      await cycle(client, `churn-${vm ? 'vm' : 'runc'}-${i}`, vm);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return Date.now() - t0;
}

test(`${CYCLES} VM pods and ${CYCLES} runc pods created and deleted leave the node as they found it`, { timeout: 60 * 60_000 }, async () => {
  await c.up;
  const client = KubeClient.fromKubeconfig(c.kubeconfig);
  try {
    // One pod of each kind first: the VM template and the images are made once, outside the measurement.
    await cycle(client, 'warm-vm', true);
    await cycle(client, 'warm-runc', false);
    const before = await settledFootprint(c.root, c.nodeNetns, client);
    const filesBefore = await footprintFiles(c.root);
    const nftBefore = await nftRuleLines(c.nodeNetns);
    // One runtime after the other: at the same time, the VM pods' cycles took 615–654 s instead of 390–487 s.
    const vmMs = await churn(client, true);
    const runcMs = await churn(client, false);
    let after: Footprint | undefined;
    // Open files of the daemons move by a few with their connection pools; a leak grows with the pods.
    const close = (k: keyof Footprint, a: Footprint): boolean => (k === 'daemonFds' ? Math.abs(a[k] - before[k]) <= FD_SLACK : a[k] === before[k]);
    const same = (a: Footprint): boolean => (Object.keys(before) as Array<keyof Footprint>).every((k) => k === 'events' || close(k, a));
    // The node removes the last pods' sandboxes and files in the background: give it a moment to settle.
    await waitUntil(async () => {
      after = await footprint(c.root, c.nodeNetns, client);
      return same(after) ? true : undefined;
    }, { timeoutMs: 120_000, intervalMs: 2000, onTimeout: () => new Error(`the footprint did not return:\n${footprintTable(before, after ?? before)}`) }).catch(() => undefined);
    process.stdout.write(`# ${CYCLES} VM pod cycles in ${(vmMs / 1000).toFixed(0)} s, ${CYCLES} runc pod cycles in ${(runcMs / 1000).toFixed(0)} s\n${footprintTable(before, after ?? before)}\n`);
    assert.ok(after, 'the footprint was measured again');
    for (const k of Object.keys(before) as Array<keyof Footprint>) {
      if (k === 'events') continue;
      if (k === 'daemonFds') assert.ok(Math.abs(after[k] - before[k]) <= FD_SLACK, `the daemons' open files are back where they started (${before[k]} → ${after[k]})`);
      else if (k === 'files') assert.equal(after[k], before[k], `files are back where they started:\n${lineChanges(filesBefore, await footprintFiles(c.root))}\nwhat CRI has:\n${await whatCriHas(c.root)}`);
      else if (k === 'nftRules') assert.equal(after[k], before[k], `nftables rules are back where they started:\n${lineChanges(nftBefore, await nftRuleLines(c.nodeNetns))}`);
      else assert.equal(after[k], before[k], `${k} is back where it started`);
    }
  } finally {
    client.close();
  }
});
