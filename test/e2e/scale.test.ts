/**
 * Lists that scale: with 20,000 Events and 5,000 Pods in etcd (written there directly, as a long crash loop and a
 * busy cluster would leave them), kubectl's paged lists complete, with Table output, and the API server's memory
 * stays bounded. A continue token whose revision is compacted gets kube's 410 and a token to go on with.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { clusterLayout, readState } from '../../src/cluster/index.js';
import { EtcdStore } from '../../src/api/index.js';
import type { KubeList, Status } from '../../src/kube/index.js';
import { startCluster, type TestCluster } from './harness.js';

const eventCount = 20_000;
const podCount = 5_000;
const namespaceNames = Array.from({ length: 10 }, (_, i) => `scale-${i}`);

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await cluster?.stop();
});

function apiServerPid(): number {
  const p = readState(clusterLayout(cluster.paths))!.processes.find((x) => x.name === 'apiserver');
  assert.ok(p, 'the API server is recorded');
  return p.pid;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
}

const stamp = '2026-01-01T00:00:00Z';

function event(i: number): [string, unknown] {
  const ns = namespaceNames[i % namespaceNames.length]!;
  const name = `crashy-${i % 50}.${(0x10000000 + i).toString(16)}`;
  return [`/registry/core/events/${ns}/${name}`, {
    apiVersion: 'v1', kind: 'Event',
    metadata: { name, namespace: ns, uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, creationTimestamp: stamp },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: `crashy-${i % 50}`, uid: 'u', fieldPath: 'spec.containers{app}' },
    reason: 'BackOff', message: `Back-off restarting failed container app in pod crashy-${i % 50} (attempt ${i})`, type: 'Warning',
    source: { component: 'sandpod-node', host: 'node-1' }, firstTimestamp: stamp, lastTimestamp: stamp, count: 1,
    reportingComponent: 'sandpod-node', reportingInstance: 'node-1',
  }];
}

function pod(i: number): [string, unknown] {
  const ns = namespaceNames[i % namespaceNames.length]!;
  const name = `web-${String(i).padStart(5, '0')}`;
  return [`/registry/core/pods/${ns}/${name}`, {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: ns, uid: `10000000-0000-4000-8000-${String(i).padStart(12, '0')}`, creationTimestamp: stamp, labels: { app: 'web' } },
    // Gated, so the scheduler leaves them alone.
    spec: {
      schedulingGates: [{ name: 'sandpod.io/test-hold' }], restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst',
      containers: [{ name: 'web', image: 'busybox:1.36', command: ['sh', '-c', 'sleep 3600'], resources: {}, terminationMessagePath: '/dev/termination-log', imagePullPolicy: 'IfNotPresent' }],
    },
    status: { phase: 'Pending', qosClass: 'BestEffort' },
  }];
}

/** Writes the objects straight into etcd, 128 to a transaction (etcd's default limit); events with an hour's lease. */
async function fill(etcd: Etcd3): Promise<void> {
  const lease = String((await etcd.leaseClient.leaseGrant({ TTL: 3660 })).ID);
  const all = [...Array.from({ length: eventCount }, (_, i) => [...event(i), lease] as const), ...Array.from({ length: podCount }, (_, i) => [...pod(i), undefined] as const)];
  for (let i = 0; i < all.length; i += 128) {
    await etcd.kv.txn({
      compare: [], failure: [],
      success: all.slice(i, i + 128).map(([key, value, l]) => ({ request_put: { key: Buffer.from(key), value: Buffer.from(JSON.stringify(value)), ...(l ? { lease: l } : {}) } })),
    });
  }
}

test('kubectl get events -A and get pods -A page through 20,000 events and 5,000 pods; memory stays bounded', async () => {
  const pid = apiServerPid();
  for (const name of namespaceNames) await cluster.client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const rssStart = rssMiB(pid);
  const etcd = new Etcd3({ hosts: cluster.state.etcdEndpoints });
  const filled = Date.now();
  try {
    await fill(etcd);
  } finally {
    etcd.close();
  }
  console.log(`wrote ${eventCount} events and ${podCount} pods to etcd in ${Date.now() - filled} ms`);

  // A consistent list without a limit comes from the watch cache once it has caught up: every object, one answer.
  const all = await cluster.client.list('/api/v1/events?fieldSelector=reason%3DBackOff');
  assert.equal(all.items.length, eventCount);
  const rssStored = rssMiB(pid);

  const timed = async (args: string[]): Promise<{ lines: string[]; ms: number; requests: string[] }> => {
    const t = Date.now();
    const r = await cluster.kubectl([...args, '-v=6'], { timeoutMs: 180_000 });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr.slice(-2000)}`);
    return { lines: r.stdout.trim().split('\n'), ms: Date.now() - t, requests: r.stderr.split('\n').filter((l) => / GET https:/.test(l)) };
  };
  const events = await timed(['get', 'events', '-A']);
  const pages = events.requests.filter((l) => /\/api\/v1\/events\?/.test(l));
  assert.equal(pages.length, eventCount / 500, `kubectl read the events in pages of 500: ${pages.slice(0, 3).join('\n')}`);
  assert.ok(pages.every((l) => /limit=500/.test(l)) && pages.slice(1).every((l) => /continue=/.test(l)), pages.slice(0, 3).join('\n'));
  assert.match(events.lines[0]!, /^NAMESPACE\s+LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE/);
  assert.equal(events.lines.filter((l) => / BackOff /.test(l)).length, eventCount, 'every event printed once, across 40 pages');
  const pods = await timed(['get', 'pods', '-A']);
  assert.match(pods.lines[0]!, /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE/);
  assert.equal(pods.lines.filter((l) => / web-\d{5} /.test(l)).length, podCount);
  assert.ok(pods.lines.some((l) => /^scale-3\s+web-00003\s+0\/1\s+SchedulingGated|^scale-3\s+web-00003\s+0\/1\s+Pending/.test(l)), pods.lines[1]);
  const names = await timed(['get', 'pods', '-A', '-o', 'name']);
  assert.equal(new Set(names.lines).size, podCount, 'plain JSON lists page too');
  const rssListed = rssMiB(pid);
  console.log(`kubectl get events -A: ${events.lines.length - 1} rows in ${events.ms} ms; get pods -A: ${pods.lines.length - 1} rows in ${pods.ms} ms; -o name: ${names.ms} ms`);
  console.log(`API server RSS: ${rssStart} MiB before, ${rssStored} MiB with the objects stored and cached, ${rssListed} MiB after the lists`);
  assert.ok(rssListed - rssStored < 250, `listing grew the API server by ${rssListed - rssStored} MiB`);
  assert.ok(rssListed < 1024, `API server RSS ${rssListed} MiB`);

  const page = await cluster.client.list('/api/v1/pods?limit=500');
  assert.equal(page.items.length, 500);
  assert.equal(page.metadata.remainingItemCount, podCount - 500);
  assert.ok(page.metadata.continue);
  const selected = await cluster.client.list('/api/v1/events?limit=100&fieldSelector=involvedObject.name%3Dcrashy-7');
  assert.equal(selected.items.length, 100);
  assert.ok(selected.items.every((e) => (e['involvedObject'] as { name: string }).name === 'crashy-7'));
  assert.equal(selected.metadata.remainingItemCount, undefined, 'no count when a selector filters');
});

test('a continue token whose revision is compacted is 410 Expired, with a token that goes on at the newest revision', async () => {
  const first = await cluster.client.list('/api/v1/pods?limit=1000');
  const token = first.metadata.continue!;
  await cluster.client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'after-first-page' } });
  const store = new EtcdStore(cluster.state.etcdEndpoints);
  try {
    await store.compact(await store.revision());
  } finally {
    store.close();
  }
  const expired = await cluster.client.raw('GET', `/api/v1/pods?limit=1000&continue=${token}`);
  assert.equal(expired.code, 410);
  const status = expired.body as Status;
  assert.equal(status.reason, 'Expired');
  assert.match(status.message ?? '', /^The provided continue parameter is too old to display a consistent list result\. You can start a new list without the continue parameter, or use the continue token in this response/);
  const next = status.metadata.continue!;
  assert.equal(JSON.parse(Buffer.from(next, 'base64url').toString()).rv, -1);
  const rest = await cluster.client.list(`/api/v1/pods?limit=5000&continue=${next}`);
  assert.equal(first.items.length + rest.items.length, podCount, 'the new token reads the rest');
  assert.equal(rest.metadata.continue, undefined);
  const badToken = await cluster.client.raw('GET', '/api/v1/pods?limit=10&continue=bm90LWEtdG9rZW4');
  assert.equal(badToken.code, 400);
  assert.match((badToken.body as Status).message ?? '', /^invalid continue token: continue key is not valid/);
  const list: KubeList = await cluster.client.list('/api/v1/namespaces?resourceVersion=0');
  assert.ok(list.items.some((n) => n.metadata.name === 'after-first-page'), 'resourceVersion=0 is served (from the watch cache)');
});
