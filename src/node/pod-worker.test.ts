/**
 * The pod worker's states over a fake CRI (the fake lives here; the agent only ever talks to containerd): a slow
 * sandbox creation is awaited, never repeated; a container is created once even when the node's snapshot lags;
 * status says Ready only once the container runs; force deletion stops everything without grace; a failing stop
 * is retried until the pod is gone; a failed init container with restartPolicy Never fails the pod.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Container as CriContainer, ContainerStatus, CriClient, PodSandbox } from '../cri/index.js';
import { SandpodError } from '../errors.js';
import type { KubeClient, KubeObject } from '../kube/index.js';
import { createLogger, nullSink, stderrSink } from '../log.js';
import { LABEL } from './cri-config.js';
import { ObjectCache } from './object-cache.js';
import { podInfo } from './pod-spec.js';
import { PodWorker, type WorkerContext } from './pod-worker.js';
import type { NodeSnapshot } from './snapshot.js';

type Call = { method: string; arg: Record<string, unknown> };

/** containerd's CRI as the worker sees it: sandboxes and containers in memory, each call recorded. */
class FakeCri {
  readonly calls: Call[] = [];
  readonly sandboxes = new Map<string, PodSandbox>();
  readonly containers = new Map<string, ContainerStatus & { labels: Record<string, string>; sandbox: string }>();
  private next = 0;
  /** Resolves RunPodSandbox; tests hold it to make a slow sandbox. */
  sandboxGate: Promise<void> = Promise.resolve();
  /** StopPodSandbox fails this many more times. */
  stopFailures = 0;
  /** A started container exits at once with this code (undefined: it keeps running). */
  exitCode: Record<string, number> = {};

  private record(method: string, arg: unknown): void { this.calls.push({ method, arg: (arg ?? {}) as Record<string, unknown> }); }
  count(method: string): number { return this.calls.filter((c) => c.method === method).length; }

  snapshot(): NodeSnapshot {
    const containers = [...this.containers.values()].map((c) => ({
      id: c.id, pod_sandbox_id: c.sandbox, metadata: c.metadata, image: null, image_ref: '', state: c.state, created_at: c.created_at, labels: c.labels, annotations: c.annotations,
    })) as unknown as CriContainer[];
    return { sandboxes: [...this.sandboxes.values()], containers, takenAt: Date.now() };
  }

  async runPodSandbox(r: { config: { metadata: { name: string; uid: string; attempt?: number }; labels: Record<string, string> } }): Promise<{ pod_sandbox_id: string }> {
    this.record('RunPodSandbox', r);
    await this.sandboxGate;
    const id = `sb${++this.next}`;
    this.sandboxes.set(id, { id, metadata: { name: r.config.metadata.name, uid: r.config.metadata.uid, namespace: 'ns', attempt: r.config.metadata.attempt ?? 0 }, state: 'SANDBOX_READY', created_at: Date.now() * 1e6, labels: r.config.labels, annotations: {}, runtime_handler: '' } as PodSandbox);
    return { pod_sandbox_id: id };
  }
  async podSandboxStatus(r: { pod_sandbox_id: string }): Promise<unknown> {
    return { status: { id: r.pod_sandbox_id, created_at: Date.now() * 1e6, network: { ip: '10.0.0.9' } } };
  }
  async stopPodSandbox(r: { pod_sandbox_id: string }): Promise<void> {
    this.record('StopPodSandbox', r);
    if (this.stopFailures > 0) { this.stopFailures--; throw new Error('the VM would not stop'); }
    const s = this.sandboxes.get(r.pod_sandbox_id);
    if (s) s.state = 'SANDBOX_NOTREADY';
    for (const c of this.containers.values()) if (c.sandbox === r.pod_sandbox_id && c.state === 'CONTAINER_RUNNING') c.state = 'CONTAINER_EXITED';
  }
  async removePodSandbox(r: { pod_sandbox_id: string }): Promise<void> {
    this.record('RemovePodSandbox', r);
    this.sandboxes.delete(r.pod_sandbox_id);
    for (const [id, c] of this.containers) if (c.sandbox === r.pod_sandbox_id) this.containers.delete(id);
  }
  async listPodSandbox(r: { filter?: { label_selector?: Record<string, string> } }): Promise<{ items: PodSandbox[] }> {
    const sel = r.filter?.label_selector ?? {};
    return { items: [...this.sandboxes.values()].filter((s) => Object.entries(sel).every(([k, v]) => s.labels[k] === v)) };
  }
  async createContainer(r: { pod_sandbox_id: string; config: { metadata: { name: string; attempt: number }; labels: Record<string, string>; annotations: Record<string, string> } }): Promise<{ container_id: string }> {
    this.record('CreateContainer', r);
    const name = r.config.metadata.name;
    if ([...this.containers.values()].some((c) => c.metadata?.name === name && c.metadata.attempt === r.config.metadata.attempt && c.sandbox === r.pod_sandbox_id)) {
      throw new Error(`failed to reserve container name "${name}_${r.config.metadata.attempt}"`);
    }
    const id = `c${++this.next}`;
    this.containers.set(id, {
      id, metadata: r.config.metadata, state: 'CONTAINER_CREATED', created_at: Date.now() * 1e6 + this.next, started_at: 0, finished_at: 0, exit_code: 0,
      image: null, image_ref: 'sha256:x', reason: '', message: '', labels: r.config.labels, annotations: r.config.annotations, mounts: [], log_path: '', sandbox: r.pod_sandbox_id,
    } as unknown as ContainerStatus & { labels: Record<string, string>; sandbox: string });
    return { container_id: id };
  }
  async startContainer(r: { container_id: string }): Promise<void> {
    this.record('StartContainer', r);
    const c = this.containers.get(r.container_id)!;
    c.started_at = Date.now() * 1e6;
    const code = this.exitCode[c.metadata?.name ?? ''];
    if (code === undefined) c.state = 'CONTAINER_RUNNING';
    else Object.assign(c, { state: 'CONTAINER_EXITED', exit_code: code, finished_at: Date.now() * 1e6 + 1 });
  }
  async stopContainer(r: { container_id: string; timeout: number }): Promise<void> {
    this.record('StopContainer', r);
    const c = this.containers.get(r.container_id);
    if (c) Object.assign(c, { state: 'CONTAINER_EXITED', exit_code: 137, finished_at: Date.now() * 1e6 });
  }
  async removeContainer(r: { container_id: string }): Promise<void> {
    this.record('RemoveContainer', r);
    this.containers.delete(r.container_id);
  }
  async containerStatus(r: { container_id: string }): Promise<{ status: ContainerStatus | null }> {
    const c = this.containers.get(r.container_id);
    return { status: c ? structuredClone(c) : null };
  }
  async imageStatus(): Promise<unknown> { return { image: { id: 'sha256:x', uid: null, username: '' } }; }
  async pullImage(): Promise<unknown> { return { image_ref: 'sha256:x' }; }
  async execSync(): Promise<unknown> { return { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exit_code: 0 }; }
}

/** The API as the worker sees it: status patches, events and the final delete, recorded. */
class FakeApi {
  readonly statuses: Array<Record<string, unknown>> = [];
  readonly deletes: string[] = [];
  readonly events: string[] = [];
  async call(_method: string, _path: string, opts: { body: { status: Record<string, unknown> } }): Promise<unknown> {
    this.statuses.push(opts.body.status);
    return {};
  }
  async create(_path: string, ev: { reason: string }): Promise<unknown> { this.events.push(ev.reason); return ev; }
  /** The next deletes fail as an unreachable API server does. */
  deleteFailures = 0;
  /** The next deletes fail with a Conflict (writes racing them), the pod staying. */
  deleteConflicts = 0;
  /** What GET answers: the pod is gone unless a test puts it here. */
  stored: KubeObject | undefined;
  async delete(path: string): Promise<unknown> {
    this.deletes.push(path);
    if (this.deleteFailures > 0) { this.deleteFailures--; throw new SandpodError('Unavailable', 'connect ECONNREFUSED'); }
    if (this.deleteConflicts > 0) { this.deleteConflicts--; throw new SandpodError('Conflict', 'the object has been modified'); }
    return {};
  }
  async get(path: string): Promise<KubeObject> {
    if (this.stored) return this.stored;
    throw new SandpodError('NotFound', `not found: ${path}`);
  }
}

const pod = (spec: Record<string, unknown>, meta: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', uid: 'uid-1', ...meta }, spec: { terminationGracePeriodSeconds: 5, ...spec },
});
const main = { name: 'main', image: 'busybox:1', command: ['sleep', '1000'] };

async function frame(): Promise<{ cri: FakeCri; api: FakeApi; worker: (p: KubeObject) => PodWorker; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sandpod-worker-'));
  const cri = new FakeCri();
  const api = new FakeApi();
  const client = api as unknown as KubeClient;
  const ctx: WorkerContext = {
    cri: cri as unknown as CriClient, client, log: createLogger('test', process.env['DEBUG_WORKER'] ? stderrSink : nullSink), nodeName: 'n1', hostIP: '10.0.0.1',
    logsRoot: join(dir, 'logs'), podsDir: join(dir, 'pods'), objects: new ObjectCache(client), nodeDns: { servers: [], searches: [], options: [] },
    allocatable: { cpu: 2, memory: 2 ** 30, 'ephemeral-storage': 0 }, runtimeHandler: async () => '', wake: () => undefined,
  };
  return { cri, api, worker: (p) => new PodWorker(podInfo(p), ctx), done: () => rm(dir, { recursive: true, force: true }) };
}

/** Lets background work (a sandbox creation) run until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(done(), 'background work finished');
}

/** A worker whose pod has its sandbox and its container `main` created. */
async function runningWorker(f: Awaited<ReturnType<typeof frame>>): Promise<PodWorker> {
  const w = f.worker(pod({ containers: [main] }));
  await w.sync(f.cri.snapshot());
  await until(() => f.cri.sandboxes.size === 1);
  await new Promise((r) => setImmediate(r));
  await w.sync(f.cri.snapshot());
  return w;
}

const lastStatus = (api: FakeApi): Record<string, unknown> => api.statuses[api.statuses.length - 1] ?? {};
const condition = (s: Record<string, unknown>, type: string): unknown => (s['conditions'] as Array<Record<string, unknown>> | undefined)?.find((c) => c['type'] === type)?.['status'];

test('a slow sandbox creation is awaited, never repeated; each container is created once even with a lagging snapshot', async () => {
  const f = await frame();
  try {
    let release!: () => void;
    f.cri.sandboxGate = new Promise((r) => { release = r; });
    const w = f.worker(pod({ containers: [main] }));
    await w.sync(f.cri.snapshot());
    await until(() => f.cri.count('RunPodSandbox') === 1);
    for (let i = 0; i < 5; i++) await w.sync(f.cri.snapshot());
    assert.equal(f.cri.count('RunPodSandbox'), 1, 'one creation while it is slow');
    assert.equal(lastStatus(f.api)['phase'], 'Pending');
    const beforeSandbox = f.cri.snapshot();
    release();
    await until(() => f.cri.sandboxes.size === 1);
    await new Promise((r) => setImmediate(r));
    await w.sync(beforeSandbox);
    await w.sync(beforeSandbox);
    assert.equal(f.cri.count('RunPodSandbox'), 1, 'a snapshot from before the sandbox was made does not ask for it again');
    const stale = f.cri.snapshot();
    await w.sync(f.cri.snapshot());
    assert.equal(f.cri.count('CreateContainer'), 1);
    await w.sync(stale);
    await w.sync(stale);
    assert.equal(f.cri.count('CreateContainer'), 1, 'a snapshot from before the creation does not create it again');
    assert.equal(f.cri.count('RunPodSandbox'), 1);
    const s = lastStatus(f.api);
    assert.equal(s['phase'], 'Running');
    assert.equal(condition(s, 'Ready'), 'True');
    for (const st of f.api.statuses) {
      const ready = condition(st, 'Ready') === 'True';
      const running = (st['containerStatuses'] as Array<{ state: Record<string, unknown> }>)[0]?.state['running'] !== undefined;
      assert.ok(!ready || (running && st['phase'] === 'Running'), 'Ready is never written before the running state and phase');
    }
  } finally {
    await f.done();
  }
});

test('force deletion stops containers without grace and removes the sandbox; the API object is not deleted again', async () => {
  const f = await frame();
  try {
    const w = await runningWorker(f);
    assert.equal(f.cri.count('StartContainer'), 1);
    w.deleted();
    await w.sync(f.cri.snapshot());
    assert.equal(w.done, true);
    assert.deepEqual(f.cri.calls.filter((c) => c.method === 'StopContainer').map((c) => c.arg['timeout']), [0]);
    assert.equal(f.cri.sandboxes.size, 0, 'the sandbox is removed');
    assert.deepEqual(f.api.deletes, []);
  } finally {
    await f.done();
  }
});

test('a stop that fails is retried after a back-off until the pod is gone, then the deletion is confirmed', async () => {
  const f = await frame();
  try {
    const w = f.worker(pod({ containers: [main] }, { deletionTimestamp: '2026-01-01T00:00:00Z', deletionGracePeriodSeconds: 3 }));
    f.cri.stopFailures = 1;
    await f.cri.runPodSandbox({ config: { metadata: { name: 'p', uid: 'uid-1' }, labels: { [LABEL.podUid]: 'uid-1' } } });
    await w.sync(f.cri.snapshot());
    assert.equal(w.done, false, 'the first stop failed');
    assert.ok(f.api.events.includes('FailedKillPod'));
    await w.sync(f.cri.snapshot());
    assert.equal(f.cri.count('StopPodSandbox'), 1, 'not again before the back-off');
    await new Promise((r) => setTimeout(r, 1100));
    await w.sync(f.cri.snapshot());
    assert.equal(w.done, true);
    assert.deepEqual(f.api.deletes, ['/api/v1/namespaces/ns/pods/p']);
  } finally {
    await f.done();
  }
});

test('a failed init container with restartPolicy Never fails the pod and gives its sandbox back', async () => {
  const f = await frame();
  try {
    f.cri.exitCode['setup'] = 2;
    const w = f.worker(pod({ restartPolicy: 'Never', initContainers: [{ name: 'setup', image: 'busybox:1', command: ['false'] }], containers: [main] }));
    await w.sync(f.cri.snapshot());
    await until(() => f.cri.sandboxes.size === 1);
    await new Promise((r) => setImmediate(r));
    await w.sync(f.cri.snapshot());
    await w.sync(f.cri.snapshot());
    const s = lastStatus(f.api);
    assert.equal(s['phase'], 'Failed');
    assert.equal(f.cri.calls.filter((c) => c.method === 'CreateContainer').length, 1, 'the app container never starts');
    assert.equal(f.cri.count('StopPodSandbox'), 1);
    assert.equal(w.current, 'Finished');
  } finally {
    await f.done();
  }
});

test('old instances of a restarting container are removed: the current one and the one before it stay', async () => {
  const f = await frame();
  try {
    const w = await runningWorker(f);
    const [sandbox] = [...f.cri.sandboxes.keys()];
    const running = [...f.cri.containers.values()][0]!;
    // Four earlier instances that exited, as a crash loop leaves them.
    for (let attempt = 0; attempt < 4; attempt++) {
      const id = `old${attempt}`;
      f.cri.containers.set(id, { ...structuredClone(running), id, metadata: { name: 'main', attempt }, state: 'CONTAINER_EXITED', created_at: running.created_at - (4 - attempt) * 1e9, sandbox: sandbox! });
    }
    await w.sync(f.cri.snapshot());
    await until(() => f.cri.count('RemoveContainer') === 3);
    assert.deepEqual(f.cri.calls.filter((c) => c.method === 'RemoveContainer').map((c) => c.arg['container_id']).sort(), ['old0', 'old1', 'old2']);
    assert.deepEqual([...f.cri.containers.keys()].sort(), [running.id, 'old3'].sort());
  } finally {
    await f.done();
  }
});

test('earlier sandboxes of a running pod are stopped once, and all but the newest removed; the current one stays', async () => {
  const f = await frame();
  try {
    const w = await runningWorker(f);
    const [current] = [...f.cri.sandboxes.values()];
    // One that died long ago, and one containerd lost track of while it was being made, its VM still running.
    f.cri.sandboxes.set('dead', { ...structuredClone(current!), id: 'dead', state: 'SANDBOX_NOTREADY', created_at: current!.created_at - 2e9 });
    f.cri.sandboxes.set('lost', { ...structuredClone(current!), id: 'lost', state: 'SANDBOX_NOTREADY', created_at: current!.created_at - 1e9 });
    await w.sync(f.cri.snapshot());
    await until(() => f.cri.count('RemovePodSandbox') === 1);
    await w.sync(f.cri.snapshot());
    await w.sync(f.cri.snapshot());
    const stopped = f.cri.calls.filter((c) => c.method === 'StopPodSandbox').map((c) => c.arg['pod_sandbox_id']).sort();
    assert.deepEqual(stopped, ['dead', 'lost'], 'each earlier sandbox stopped once; the current one never');
    assert.deepEqual([...f.cri.sandboxes.keys()].sort(), [current!.id, 'lost'].sort(), 'the newest earlier sandbox is kept');
    assert.equal(lastStatus(f.api)['phase'], 'Running');
  } finally {
    await f.done();
  }
});

for (const [why, fail] of [
  ['it was down', (api: FakeApi): void => { api.deleteFailures = 1; }],
  ['a write conflict, the pod still there', (api: FakeApi): void => { api.deleteConflicts = 1; api.stored = pod({ containers: [main] }); }],
] as const) test(`a deletion the API server could not confirm (${why}) is confirmed on a later sync, not forgotten`, async () => {
  const f = await frame();
  try {
    const w = f.worker(pod({ containers: [main] }, { deletionTimestamp: '2026-01-01T00:00:00Z', deletionGracePeriodSeconds: 1 }));
    fail(f.api);
    await w.sync(f.cri.snapshot());
    assert.equal(w.done, false, 'not gone while the API has not heard of it');
    await new Promise((r) => setTimeout(r, 1100));
    await w.sync(f.cri.snapshot());
    assert.equal(w.done, true);
    assert.equal(f.api.deletes.length, 2);
  } finally {
    await f.done();
  }
});
