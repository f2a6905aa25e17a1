/**
 * Faults under load: while runc and VM pods are being created and deleted, one part of the cluster is killed
 * with SIGKILL — etcd, the API server, the scheduler, the controller manager, the node agent, containerd, a shim,
 * a QEMU. The supervisor starts the daemons again; afterwards every pod the API has runs exactly once, nothing the API deleted still
 * runs, no acknowledged object is lost, and once the pods are gone the node's footprint is where it started.
 * Then a "reboot": every process of the cluster killed and its run directory, mounts and namespaces gone, and
 * `sandpod up` brings the cluster and its pods back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CriClient } from '../../src/cri/index.js';
import { KubeClient, type KubeObject } from '../../src/kube/index.js';
import { unmountBelow } from '../../src/mounts.js';
import { processCommandLines } from '../../src/pod-vm-identity.js';
import { waitUntil } from '../../src/wait.js';
import { processesWhere, sandpod } from './helpers.js';
import { execText, localCluster } from './local-cluster.js';
import { footprint, footprintFiles, footprintTable, lineChanges, settledFootprint, whatCriHas, type Footprint } from './node-footprint.js';

const c = localCluster('faults', { subnetPrefix: '10.241' });
const NS = '/api/v1/namespaces/default/pods';
const podUidLabel = 'io.kubernetes.pod.uid';

const pod = (name: string, vm: boolean): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { fault: 'yes' } },
  spec: {
    ...(vm ? { runtimeClassName: 'kata-vm-isolation' } : {}),
    terminationGracePeriodSeconds: 1,
    containers: [{ name: 'main', image: 'busybox', imagePullPolicy: 'IfNotPresent', command: ['sleep', '100000'], resources: { limits: { memory: '128Mi' }, requests: { cpu: '10m' } } }],
  },
});

/**
 * What the API acknowledged. A delete that failed (the API server killed while it answered) may have been carried
 * out all the same: such a pod may be there or not.
 */
interface Ledger { created: Set<string>; deleted: Set<string>; deleteFailed: Set<string> }

/** Creates and deletes pods until `stop` is set: two kept, one deleted, in turn; records what the API acknowledged. */
async function churn(client: KubeClient, ledger: Ledger, stop: { done: boolean }, tag: string): Promise<void> {
  let i = 0;
  const worker = async (w: number): Promise<void> => {
    while (!stop.done) {
      const name = `${tag}-${w}-${i++}`;
      try {
        await client.create(NS, pod(name, i % 2 === 0));
        ledger.created.add(name);
      } catch { /* the API is down: the next round tries again */ }
      if (i % 3 === 0 && ledger.created.has(name)) {
        try {
          await client.delete(`${NS}/${name}`);
          ledger.deleted.add(name);
        } catch {
          ledger.deleteFailed.add(name);
        }
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  await Promise.all([0, 1].map(worker));
}

async function statusJson(): Promise<{ daemons: Array<{ name: string; pid: number; running: boolean; restarts: number }> }> {
  const r = await sandpod(['status', ...c.roots, '--json'], process.env);
  return JSON.parse(r.stdout) as { daemons: Array<{ name: string; pid: number; running: boolean; restarts: number }> };
}

/** The node's CRI socket, from its agent's command line. */
async function criSocket(): Promise<string> {
  const agent = (await processCommandLines()).find((p) => p.argv.join(' ').includes(c.root) && p.argv.includes('node') && p.argv.includes('--cri'));
  const i = agent?.argv.indexOf('--cri') ?? -1;
  assert.ok(agent && i >= 0, 'the node agent runs');
  return agent.argv[i + 1]!;
}

/** The pods the API has and how many ready sandboxes and QEMUs each has on the node. */
async function invariants(client: KubeClient, ledger: Ledger): Promise<string[]> {
  const problems: string[] = [];
  const pods = (await client.list(NS)).items.filter((p) => !p.metadata.deletionTimestamp);
  const cri = new CriClient(await criSocket());
  try {
    const ready = (await cri.listPodSandbox({})).items.filter((s) => s.state === 'SANDBOX_READY');
    const byUid = new Map<string, number>();
    for (const s of ready) byUid.set(s.labels[podUidLabel] ?? '', (byUid.get(s.labels[podUidLabel] ?? '') ?? 0) + 1);
    const known = new Set(pods.map((p) => p.metadata.uid ?? ''));
    for (const p of pods) {
      const n = byUid.get(p.metadata.uid ?? '') ?? 0;
      if (n !== 1) problems.push(`${p.metadata.name ?? ''} has ${n} ready sandboxes`);
    }
    for (const [uid, n] of byUid) if (!known.has(uid)) problems.push(`${n} sandbox(es) of pod ${uid}, which the API no longer has`);
    const vmPods = pods.filter((p) => (p['spec'] as { runtimeClassName?: string }).runtimeClassName).length;
    const vms = (await c.podVms()).length;
    if (vms !== vmPods) problems.push(`${vms} pod VMs for ${vmPods} VM pods`);
  } finally {
    cri.close();
  }
  const names = new Set(pods.map((p) => p.metadata.name ?? ''));
  for (const name of ledger.created) if (!ledger.deleted.has(name) && !ledger.deleteFailed.has(name) && !names.has(name)) problems.push(`${name} was created and never deleted, and is gone`);
  for (const name of ledger.deleted) if (names.has(name)) problems.push(`${name} was deleted and is still there`);
  return problems;
}

/** Pods that are not Running (or are being deleted), named with what they show, for the failure message. */
async function notRunning(client: KubeClient): Promise<string[]> {
  return (await client.list(NS)).items
    .filter((p) => p.metadata.deletionTimestamp !== undefined || (p['status'] as { phase?: string } | undefined)?.phase !== 'Running')
    .map((p) => `${p.metadata.name ?? ''} ${p.metadata.deletionTimestamp ? 'Terminating' : JSON.stringify(p['status'])}`);
}

/** Deletes every pod of the test (recording them as deleted) and waits until the API has none left. */
async function deleteAll(client: KubeClient, ledger: Ledger): Promise<void> {
  for (const p of (await client.list(NS)).items) ledger.deleted.add(p.metadata.name ?? '');
  await client.call('DELETE', `${NS}?labelSelector=fault%3Dyes`);
  await c.waitFor('every pod of the round gone', async () => (await client.list(NS)).items.length === 0, 180_000);
}

const allRunning = async (client: KubeClient): Promise<boolean> => (await notRunning(client)).length === 0;

const targets: Array<{ name: string; find: () => Promise<number | undefined> }> = [
  ...['etcd', 'apiserver', 'scheduler', 'controller-manager'].map((d) => ({ name: d, find: async () => (await statusJson()).daemons.find((x) => x.name === d)?.pid })),
  { name: 'node agent', find: async () => (await statusJson()).daemons.find((x) => x.name.startsWith('node-agent/'))?.pid },
  { name: 'containerd', find: async () => (await statusJson()).daemons.find((x) => x.name.startsWith('containerd/'))?.pid },
  { name: 'a shim', find: async () => (await processesWhere((cmd) => cmd.includes('shim/main.js') && cmd.includes(c.root) && cmd.includes('-socket')))[0] },
  { name: 'a QEMU', find: async () => (await c.podVms())[0] },
];

test('kill -9 of each part of the cluster under load: pods run exactly once, nothing deleted runs, nothing acknowledged is lost', { timeout: 60 * 60_000 }, async () => {
  await c.up;
  const client = KubeClient.fromKubeconfig(c.kubeconfig);
  try {
    // The VM template and the images are made outside the measurement.
    await client.create(NS, pod('warm', true));
    await c.waitFor('the warm-up pod', () => allRunning(client), 240_000);
    await client.delete(`${NS}/warm`);
    await c.waitFor('the warm-up pod gone', async () => (await client.list(NS)).items.length === 0, 120_000);
    const before: Footprint = await settledFootprint(c.root, c.nodeNetns, client);
    const filesBefore = await footprintFiles(c.root);
    const ledger: Ledger = { created: new Set(), deleted: new Set(), deleteFailed: new Set() };
    for (const target of targets) {
      const stop = { done: false };
      const load = churn(client, ledger, stop, target.name.replace(/[^a-z]/g, ''));
      let killedAt = 0;
      try {
        await c.waitFor(`pods running before killing ${target.name}`, async () => (await client.list(NS).catch(() => ({ items: [] }))).items.length >= 2, 240_000);
        // A shim or a QEMU exists once the first VM pod of the round is being made.
        const pid = await waitUntil(() => target.find(), { timeoutMs: 240_000, intervalMs: 250, onTimeout: () => new Error(`${target.name} never appeared under load`) });
        process.kill(pid, 'SIGKILL');
        killedAt = Date.now();
        // The load goes on until five more pods were acknowledged after the kill (the API may be down a while): the
        // cluster takes new work while it heals, and a round costs what the pods it made cost to start and delete.
        const createdAtKill = ledger.created.size;
        await c.waitFor(`five pods created after killing ${target.name}`, async () => ledger.created.size >= createdAtKill + 5, 240_000);
      } finally {
        // Also when the round fails: the next test starts from a quiet cluster.
        stop.done = true;
        await load;
      }
      // The cluster heals: the supervisor restarts daemons, the agent recreates what died.
      let last: string[] = [];
      await waitUntil(async () => {
        last = await notRunning(client).catch((err: unknown) => [String(err)]);
        if (last.length > 0) return undefined;
        last = await invariants(client, ledger).catch((err: unknown) => [String(err)]);
        return last.length === 0 ? true : undefined;
      }, { timeoutMs: 240_000, intervalMs: 2000, onTimeout: () => new Error(`after killing ${target.name}: ${last.join('; ')}`) });
      process.stdout.write(`# ${target.name} killed: healed in ${((Date.now() - killedAt) / 1000).toFixed(0)} s; ${ledger.created.size} pods created, ${ledger.deleted.size} deleted so far\n`);
      // The next round starts from an empty node: pods kept from every round would fill its CPU requests.
      await deleteAll(client, ledger);
    }
    const restarts = (await statusJson()).daemons.map((d) => `${d.name} ${d.restarts}`).join(', ');
    process.stdout.write(`# supervisor restarts: ${restarts}\n`);
    // Everything deleted: the node must be as it was.
    let after: Footprint | undefined;
    let processesNow: string[] = [];
    let filesNow = '';
    await waitUntil(async () => {
      after = await footprint(c.root, c.nodeNetns, client);
      processesNow = (await processCommandLines()).filter((p) => p.argv.join(' ').includes(c.root)).map((p) => `${p.pid} ${p.argv.join(' ').slice(0, 240)}`);
      filesNow = lineChanges(filesBefore, await footprintFiles(c.root));
      return ['processes', 'mounts', 'netns', 'veths', 'files', 'objects'].every((k) => after?.[k as keyof Footprint] === before[k as keyof Footprint]) ? true : undefined;
    }, {
      timeoutMs: 180_000, intervalMs: 2000,
      onTimeout: () => new Error(`the node did not return to its footprint:\n${footprintTable(before, after ?? before)}\nits processes now:\n${processesNow.join('\n')}\nits files, against before:\n${filesNow}`),
    }).catch(async (err: unknown) => {
      // Whose files: what CRI still has, and what the logs say of each 64-hex id among the files left.
      const ids = [...new Set(filesNow.match(/[0-9a-f]{64}/g) ?? [])].slice(0, 3);
      const said = await Promise.all(ids.map(async (id) => `${id}:\n${(await execText('sh', ['-c', `grep -rh -- '${id.slice(0, 24)}' ${c.root}/state --include='*.log*' | tail -n 25`])).stdout}`));
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nwhat CRI has:\n${await whatCriHas(c.root)}\n${said.join('\n')}`);
    });
    process.stdout.write(`${footprintTable(before, after ?? before)}\n`);
  } finally {
    client.close();
  }
});

test('a reboot (every process killed, run directory, mounts and namespaces gone): sandpod up brings the cluster and its pods back', { timeout: 20 * 60_000 }, async () => {
  const client = KubeClient.fromKubeconfig(c.kubeconfig);
  try {
    await deleteAll(client, { created: new Set(), deleted: new Set(), deleteFailed: new Set() });
    await client.create(NS, pod('survivor-runc', false));
    await client.create(NS, pod('survivor-vm', true));
    await c.waitFor('the survivors running', () => allRunning(client), 240_000);
    // The runc containers' cgroups: a real reboot empties the cgroup hierarchy with everything else.
    const cri = new CriClient(await criSocket());
    const ids = await Promise.all([cri.listPodSandbox({}), cri.listContainers({})]).then(([s, k]) => [...s.items.map((x) => x.id), ...k.containers.map((x) => x.id)]).finally(() => cri.close());
    // What a power cut does: every process gone at once, then /run (tmpfs) and every mount and namespace gone.
    for (const pid of await processesWhere((cmd) => cmd.includes(c.root) || (cmd.startsWith('qemu-system') && cmd.includes(c.root)))) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    await c.waitFor('every process of the cluster gone', async () => (await processesWhere((cmd) => cmd.includes(c.root))).length === 0, 30_000);
    await unmountBelow(c.root, 'test');
    const key = c.nodeNetns.replace(/^sandpod-/, '').replace(/-n\d+$/, '');
    for (const ns of [`sandpod-${key}`, c.nodeNetns]) await execText('ip', ['netns', 'delete', ns]);
    await execText('ip', ['link', 'delete', `spc${key}`]);
    await rm(join(c.root, 'run'), { recursive: true, force: true });
    for (const controller of await readdir('/sys/fs/cgroup')) {
      for (const id of ids) await rmdir(join('/sys/fs/cgroup', controller, 'k8s.io', id)).catch(() => undefined);
    }
    // Kubernetes times have seconds: a container started again after the reboot started at this second or later.
    const rebootAt = Math.floor(Date.now() / 1000) * 1000;
    const up = await sandpod(['up', ...c.roots], process.env, undefined, 300_000);
    assert.equal(up.code, 0, `sandpod up after the reboot: ${up.stdout}\n${up.stderr}`);
    // The API still says Running from before the reboot: wait for containers the node started since.
    const startedAgain = async (): Promise<boolean> => (await client.list(NS)).items.every((p) => {
      const started = (p['status'] as { containerStatuses?: Array<{ state?: { running?: { startedAt?: string } } }> } | undefined)?.containerStatuses?.[0]?.state?.running?.startedAt;
      return started !== undefined && Date.parse(started) >= rebootAt;
    });
    await c.waitFor('the survivors running again', async () => (await allRunning(client)) && (await startedAgain()), 300_000);
    const names = (await client.list(NS)).items.map((p) => p.metadata.name).sort();
    assert.deepEqual(names, ['survivor-runc', 'survivor-vm']);
    assert.equal((await c.podVms()).length, 1, 'the VM pod has one VM again');
  } finally {
    client.close();
  }
});
