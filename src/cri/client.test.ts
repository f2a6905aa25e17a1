import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSandpodError, type SandpodError } from '../errors.js';
import { createLogger, nullSink } from '../log.js';
import { criServices } from './api.js';
import { CriClient } from './client.js';

/** The fields of one protobuf message as they are on the wire: varints as numbers, length-delimited as bytes. */
function wireFields(data: Uint8Array): Map<number, (number | Buffer)[]> {
  const reader = protobuf.Reader.create(data);
  const fields = new Map<number, (number | Buffer)[]>();
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const value = (tag & 7) === 0 ? reader.uint32() : (tag & 7) === 2 ? Buffer.from(reader.bytes()) : undefined;
    if (value === undefined) throw new Error(`unexpected wire type ${tag & 7} in the test's messages`);
    fields.set(tag >>> 3, [...(fields.get(tag >>> 3) ?? []), value]);
  }
  return fields;
}
const field = (data: Uint8Array, ...path: number[]): number | Buffer => {
  let v: number | Buffer = Buffer.from(data);
  for (const n of path) {
    const got: number | Buffer | undefined = typeof v === 'number' ? undefined : wireFields(v).get(n)?.[0];
    if (got === undefined) throw new Error(`no field ${path.join('.')} on the wire`);
    v = got;
  }
  return v;
};
const text = (data: Uint8Array, ...path: number[]): string => String(field(data, ...path));

const CREATED_AT = 1_700_000_000_123_456_768; // nanoseconds, beyond 2^53: must survive as int64
let dir: string;
let server: grpc.Server;
let socket: string;
let rawRunPodSandbox: Buffer | undefined;
let rawListContainerStats: Buffer | undefined;
let rawPortForward: Buffer | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cri-client-test-'));
  socket = join(dir, 'cri.sock');
  server = new grpc.Server();
  const { RuntimeService, ImageService } = criServices();
  const runPodSandbox = RuntimeService['RunPodSandbox'] as grpc.MethodDefinition<object, object>;
  const listContainerStats = RuntimeService['ListContainerStats'] as grpc.MethodDefinition<object, object>;
  const portForward = RuntimeService['PortForward'] as grpc.MethodDefinition<object, object>;
  server.addService({
    ...RuntimeService,
    RunPodSandbox: { ...runPodSandbox, requestDeserialize: (b: Buffer) => { rawRunPodSandbox = b; return runPodSandbox.requestDeserialize(b); } },
    ListContainerStats: { ...listContainerStats, requestDeserialize: (b: Buffer) => { rawListContainerStats = b; return listContainerStats.requestDeserialize(b); } },
    PortForward: { ...portForward, requestDeserialize: (b: Buffer) => { rawPortForward = b; return portForward.requestDeserialize(b); } },
  }, {
    ListContainerStats: (_call: grpc.ServerUnaryCall<object, object>, cb: grpc.sendUnaryData<object>) => cb(null, {
      stats: [
        {
          attributes: { id: 'c1', metadata: { name: 'app' }, labels: { 'io.kubernetes.pod.uid': 'u1' } },
          cpu: { timestamp: CREATED_AT, usage_core_nano_seconds: { value: 12_000_000_000 } },
          memory: { timestamp: CREATED_AT, working_set_bytes: { value: 4096 } },
        },
        { attributes: { id: 'c2', metadata: { name: 'exited' } } },
      ],
    }),
    RunPodSandbox: (call: grpc.ServerUnaryCall<{ runtime_handler: string }, object>, cb: grpc.sendUnaryData<object>) =>
      cb(null, { pod_sandbox_id: `pod-for-${call.request.runtime_handler}` }),
    PodSandboxStatus: (call: grpc.ServerUnaryCall<{ pod_sandbox_id: string }, object>, cb: grpc.sendUnaryData<object>) => {
      if (call.request.pod_sandbox_id !== 'p1') { cb({ code: grpc.status.NOT_FOUND, details: `sandbox "${call.request.pod_sandbox_id}" not found` }); return; }
      cb(null, {
        status: { id: 'p1', state: 'SANDBOX_NOTREADY', created_at: CREATED_AT, network: { ip: '10.99.0.5', additional_ips: [{ ip: 'fd00::5' }] }, labels: { app: 'web' } },
        containers_statuses: [{ id: 'c1', state: 'CONTAINER_EXITED', exit_code: -1, reason: 'Error' }],
      });
    },
    ExecSync: (call: grpc.ServerUnaryCall<{ cmd: string[] }, object>, cb: grpc.sendUnaryData<object>) =>
      cb(null, { stdout: Buffer.from(`ran ${call.request.cmd.join(' ')}\n`), exit_code: 3 }),
    PortForward: (call: grpc.ServerUnaryCall<{ pod_sandbox_id: string }, object>, cb: grpc.sendUnaryData<object>) =>
      cb(null, { url: `http://127.0.0.1:1/portforward/token-for-${call.request.pod_sandbox_id}` }),
    Version: () => undefined, // never answers: the client's deadline must end the call
  });
  server.addService(ImageService, {
    ImageStatus: (_call: grpc.ServerUnaryCall<object, object>, cb: grpc.sendUnaryData<object>) => cb(null, {}),
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
});

after(async () => {
  server.forceShutdown();
  await rm(dir, { recursive: true, force: true });
});

const client = (timeoutMs = 5_000) => new CriClient(socket, { log: createLogger('cri-test', nullSink), timeoutMs });

test('RunPodSandbox puts upstream field numbers on the wire', async (t) => {
  const cri = client();
  t.after(() => cri.close());
  const res = await cri.runPodSandbox({
    runtime_handler: 'runc',
    config: {
      metadata: { name: 'web', namespace: 'default', uid: 'u1', attempt: 2 },
      hostname: 'web-host',
      labels: { app: 'web' },
      linux: { cgroup_parent: '/pods/u1', security_context: { namespace_options: { network: 'NODE' } } },
    },
  });
  assert.equal(res.pod_sandbox_id, 'pod-for-runc');
  assert.ok(rawRunPodSandbox);
  const raw = rawRunPodSandbox;
  assert.equal(text(raw, 2), 'runc', 'runtime_handler = 2');
  assert.equal(text(raw, 1, 1, 1), 'web', 'config = 1, metadata = 1, name = 1');
  assert.equal(text(raw, 1, 1, 3), 'default', 'metadata.namespace = 3');
  assert.equal(field(raw, 1, 1, 4), 2, 'metadata.attempt = 4');
  assert.equal(text(raw, 1, 2), 'web-host', 'hostname = 2');
  assert.equal(text(raw, 1, 6, 1) + '=' + text(raw, 1, 6, 2), 'app=web', 'labels = 6, a map entry');
  assert.equal(text(raw, 1, 8, 1), '/pods/u1', 'linux = 8, cgroup_parent = 1');
  assert.equal(field(raw, 1, 8, 2, 1, 1), 2, 'security_context = 2, namespace_options = 1, network = 1: NODE = 2');
});

test('ListContainerStats: upstream field numbers; containers without a task have no cpu or memory', async (t) => {
  const cri = client();
  t.after(() => cri.close());
  const { stats } = await cri.listContainerStats({ filter: { pod_sandbox_id: 'p1', label_selector: { app: 'web' } } });
  assert.ok(rawListContainerStats);
  assert.equal(text(rawListContainerStats, 1, 2), 'p1', 'filter = 1, pod_sandbox_id = 2');
  assert.equal(text(rawListContainerStats, 1, 3, 1) + '=' + text(rawListContainerStats, 1, 3, 2), 'app=web', 'label_selector = 3');
  assert.equal(stats.length, 2);
  assert.equal(stats[0]?.attributes?.metadata?.name, 'app');
  assert.equal(stats[0]?.cpu?.usage_core_nano_seconds?.value, 12_000_000_000);
  assert.equal(stats[0]?.cpu?.timestamp, CREATED_AT);
  assert.equal(stats[0]?.memory?.working_set_bytes?.value, 4096);
  assert.equal(stats[1]?.cpu, null);
  assert.equal(stats[1]?.memory, null);
});

test('PodSandboxStatus decodes names, enums, 64-bit timestamps and nested lists', async (t) => {
  const cri = client();
  t.after(() => cri.close());
  const { status, containers_statuses: containers } = await cri.podSandboxStatus({ pod_sandbox_id: 'p1' });
  assert.equal(status?.state, 'SANDBOX_NOTREADY');
  assert.equal(status?.created_at, CREATED_AT);
  assert.deepEqual(status?.network, { ip: '10.99.0.5', additional_ips: [{ ip: 'fd00::5' }] });
  assert.deepEqual(status?.labels, { app: 'web' });
  assert.equal(status?.metadata, null, 'an unset message field is null');
  assert.equal(containers[0]?.state, 'CONTAINER_EXITED');
  assert.equal(containers[0]?.exit_code, -1);
  assert.equal(containers[0]?.reason, 'Error');
});

test('ExecSync returns bytes and the exit code; ImageStatus of an absent image is null', async (t) => {
  const cri = client();
  t.after(() => cri.close());
  const res = await cri.execSync({ container_id: 'c1', cmd: ['sh', '-c', 'exit 3'], timeout: 5 });
  assert.ok(Buffer.isBuffer(res.stdout));
  assert.equal(res.stdout.toString(), 'ran sh -c exit 3\n');
  assert.equal(res.exit_code, 3);
  assert.equal((await cri.imageStatus({ image: { image: 'sandpod.local/absent:1' } })).image, null);
});

test('PortForward sends the sandbox id and ports with upstream field numbers and returns the URL', async (t) => {
  const cri = client();
  t.after(() => cri.close());
  const { url } = await cri.portForward({ pod_sandbox_id: 'p1', port: [80, 8080] });
  assert.equal(url, 'http://127.0.0.1:1/portforward/token-for-p1');
  assert.ok(rawPortForward);
  assert.equal(text(rawPortForward, 1), 'p1', 'pod_sandbox_id = 1');
  assert.deepEqual(field(rawPortForward, 2), Buffer.from([0x50, 0x90, 0x3f]), 'port = 2, packed varints 80 and 8080');
});

const failsWith = (kind: string, ...patterns: RegExp[]) => (e: unknown): boolean => {
  assert.ok(isSandpodError(e), `a SandpodError, got ${String(e)}`);
  const err = e as SandpodError;
  assert.equal(err.kind, kind);
  for (const p of patterns) assert.match(`${err.object} ${err.message}`, p);
  return true;
};

test('errors name the method, the object and the gRPC status', async (t) => {
  const cri = client();
  t.after(() => cri.close());
  await assert.rejects(cri.podSandboxStatus({ pod_sandbox_id: 'gone' }),
    failsWith('NotFound', /PodSandboxStatus/, /^podSandbox\/gone /, /NOT_FOUND/, /sandbox "gone" not found/));
  await assert.rejects(cri.stopContainer({ container_id: 'c9', timeout: 1 }),
    failsWith('Internal', /StopContainer/, /^container\/c9 /, /UNIMPLEMENTED/, /CRI plugin/));
  await assert.rejects(cri.removeImage({ image: { image: 'sandpod.local/x:1' } }), failsWith('Internal', /^image\/sandpod\.local\/x:1 /, /RemoveImage/));
  const err = await cri.podSandboxStatus({ pod_sandbox_id: 'gone' }).then(() => undefined, (e: SandpodError) => e);
  assert.equal((err?.cause as grpc.ServiceError | undefined)?.code, grpc.status.NOT_FOUND, 'the gRPC error is the cause');
});

test('a call that gets no answer ends at its deadline', async (t) => {
  const cri = client();
  t.after(() => cri.close());
  const started = Date.now();
  await assert.rejects(cri.version({}, { timeoutMs: 300 }), failsWith('Timeout', /^runtime /, /Version/, /DEADLINE_EXCEEDED/, /300 ms/));
  assert.ok(Date.now() - started < 3_000, 'the deadline was kept');
});

test('a socket nobody serves is Unavailable', async (t) => {
  const cri = new CriClient(join(dir, 'nobody.sock'), { log: createLogger('cri-test', nullSink), timeoutMs: 2_000 });
  t.after(() => cri.close());
  await assert.rejects(cri.version(), failsWith('Unavailable', /Version/, /UNAVAILABLE/, /nobody\.sock/));
});
