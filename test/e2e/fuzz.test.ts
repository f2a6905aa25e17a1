/**
 * Bad input: 10,000 generated malformed bodies (wrong types, huge strings, deep nesting, invalid UTF-8, 10 MiB bodies,
 * unknown kinds, bad YAML, bad protobuf, bad patches) sent to the create, update and every patch flavour of each
 * stored resource. Every one gets a Status with a 4xx code, etcd's revision does not move (nothing is stored), the
 * API server stays up and answers normally afterwards, and its memory comes back down (RSS printed).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { EtcdStore } from '../../src/api/index.js';
import { clusterLayout, isAlive, readState } from '../../src/cluster/index.js';
import { isRecord, type Status } from '../../src/kube/index.js';
import { gatedPod, startCluster, waitUntil, type TestCluster } from './harness.js';

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await cluster?.stop();
});

const total = 10_000;
const ns = 'fuzz';
const seed = Number(process.env['SANDPOD_FUZZ_SEED'] ?? 20260301);

/** mulberry32: a small seeded generator, so a failing body can be made again from the printed seed. */
function rng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Kind {
  plural: string;
  apiVersion: string;
  kind: string;
  namespaced: boolean;
  /** A valid object of the kind named `name`. */
  valid(name: string): Record<string, unknown>;
  /** A known field of the kind given a value of the wrong type. */
  wrongType(o: Record<string, unknown>): void;
}

const kinds: Kind[] = [
  {
    plural: 'pods', apiVersion: 'v1', kind: 'Pod', namespaced: true,
    valid: (name) => ({ metadata: { name }, spec: gatedPod(name).spec }),
    wrongType: (o) => { (o['spec'] as { containers: unknown }).containers = 'c'; },
  },
  {
    plural: 'namespaces', apiVersion: 'v1', kind: 'Namespace', namespaced: false,
    valid: (name) => ({ metadata: { name } }), wrongType: (o) => { o['spec'] = { finalizers: 'kubernetes' }; },
  },
  {
    plural: 'nodes', apiVersion: 'v1', kind: 'Node', namespaced: false,
    valid: (name) => ({ metadata: { name } }), wrongType: (o) => { o['spec'] = { unschedulable: 'yes' }; },
  },
  {
    plural: 'events', apiVersion: 'v1', kind: 'Event', namespaced: true,
    valid: (name) => ({ metadata: { name }, involvedObject: { kind: 'Pod', name: 'x', namespace: ns }, reason: 'Fuzz', message: 'm', type: 'Normal' }),
    wrongType: (o) => { o['count'] = 'many'; },
  },
  {
    plural: 'configmaps', apiVersion: 'v1', kind: 'ConfigMap', namespaced: true,
    valid: (name) => ({ metadata: { name }, data: { a: '1' } }), wrongType: (o) => { o['data'] = { a: 1 }; },
  },
  {
    plural: 'secrets', apiVersion: 'v1', kind: 'Secret', namespaced: true,
    valid: (name) => ({ metadata: { name }, stringData: { a: '1' } }), wrongType: (o) => { o['data'] = { a: 5 }; },
  },
  {
    plural: 'serviceaccounts', apiVersion: 'v1', kind: 'ServiceAccount', namespaced: true,
    valid: (name) => ({ metadata: { name } }), wrongType: (o) => { o['automountServiceAccountToken'] = 'yes'; },
  },
  {
    plural: 'leases', apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespaced: true,
    valid: (name) => ({ metadata: { name }, spec: { holderIdentity: 'x' } }), wrongType: (o) => { o['spec'] = { leaseDurationSeconds: 'long' }; },
  },
  {
    plural: 'runtimeclasses', apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', namespaced: false,
    valid: (name) => ({ metadata: { name }, handler: 'runc' }), wrongType: (o) => { o['handler'] = 5; },
  },
  {
    plural: 'networkpolicies', apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespaced: true,
    valid: (name) => ({ metadata: { name }, spec: { podSelector: {} } }), wrongType: (o) => { o['spec'] = { podSelector: 'all' }; },
  },
];

const collection = (k: Kind): string => {
  const group = k.apiVersion === 'v1' ? '/api/v1' : `/apis/${k.apiVersion}`;
  return k.namespaced ? `${group}/namespaces/${ns}/${k.plural}` : `${group}/${k.plural}`;
};
const target = (k: Kind): string => `fuzz-target-${k.plural}`;
const full = (k: Kind, name: string): Record<string, unknown> => ({ apiVersion: k.apiVersion, kind: k.kind, ...k.valid(name) });

type Verb = 'create' | 'update' | 'merge' | 'strategic' | 'json' | 'apply';
const verbs: Verb[] = ['create', 'update', 'merge', 'strategic', 'json', 'apply'];
const contentTypes: Record<Verb, string> = {
  create: 'application/json', update: 'application/json', merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json', json: 'application/json-patch+json', apply: 'application/apply-patch+yaml',
};

interface Body {
  family: string;
  bytes: Buffer;
  contentType?: string;
  /** Sent without Content-Length, so the server only learns the size while reading. */
  chunked?: boolean;
}

const tenMiB = 10 * 1024 * 1024;
const pad = Buffer.alloc(tenMiB, 'x');
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

/** JSON text nesting `depth` arrays and objects (written as text: JSON.stringify itself cannot go that deep). */
function nested(depth: number, r: () => number): string {
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    const array = r() < 0.5;
    open.push(array ? '[' : '{"n":');
    close.push(array ? ']' : '}');
  }
  return `${open.join('')}"leaf"${close.reverse().join('')}`;
}

/** One malformed body for `verb` on `k`. */
function generate(k: Kind, verb: Verb, i: number, r: () => number): Body {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const size = (lo: number, hi: number): number => Math.floor(lo + r() * (hi - lo));
  // The object a create or update sends (with the target's name for an update), or a patch's starting point.
  const base = (): Record<string, unknown> => (verb === 'create' ? full(k, `fuzz-new-${i}`) : verb === 'update' || verb === 'apply' ? full(k, target(k)) : {});
  const asPatch = verb === 'merge' || verb === 'strategic';
  const families = ['wrongType', 'hugeString', 'deepNesting', 'invalidUtf8', 'tenMiB', 'unknownKind', 'notAnObject', ...(verb === 'json' ? ['jsonPatch'] : []), 'badYaml', 'badProtobuf'];
  const family = i % 500 === 0 ? 'tenMiB' : pick(families.filter((f) => f !== 'tenMiB'));
  switch (family) {
    case 'wrongType': {
      if (verb === 'json') return { family, bytes: json([{ op: 'add', path: '/metadata/labels', value: pick([5, 'x', [1], { a: 1 }]) }]) };
      const o = asPatch ? { metadata: {} as Record<string, unknown> } : base();
      const meta = o['metadata'] as Record<string, unknown>;
      // A patch cannot rename (the name is the URL's), so patches get a wrong label instead.
      switch (pick(asPatch ? ['labels', 'annotations', 'kind', 'metadata'] : ['name', 'labels', 'annotations', 'kind', 'metadata'])) {
        case 'name': meta['name'] = pick([12345, {}, [], true]); break;
        case 'labels': meta['labels'] = pick(['x', [1], { a: 1 }, { a: { b: 'c' } }]); break;
        case 'annotations': meta['annotations'] = pick([{ a: { b: 1 } }, 'x', { a: false }]); break;
        case 'metadata': o['metadata'] = pick(['x', 5, [meta]]); break;
        default: if (asPatch) meta['labels'] = 7; else k.wrongType(o);
      }
      return { family, bytes: json(o) };
    }
    case 'hugeString': {
      const n = pick([size(300, 5000), size(5000, 200_000), size(2_000_000, 2_900_000)]);
      const s = 'a'.repeat(n);
      if (verb === 'json') return { family, bytes: json([{ op: 'add', path: '/metadata/annotations', value: { big: 'a'.repeat(262_145) + s } }]) };
      const o = asPatch ? { metadata: {} as Record<string, unknown> } : base();
      const meta = o['metadata'] as Record<string, unknown>;
      switch (pick(verb === 'create' ? ['name', 'label', 'annotation', 'unknown'] : ['label', 'annotation', 'unknown'])) {
        case 'name': meta['name'] = s; break;
        case 'label': meta['labels'] = { big: s.slice(0, Math.max(64, Math.min(n, 200_000))) }; break;
        case 'annotation': meta['annotations'] = { big: s.length > 262_144 ? s : 'a'.repeat(262_145) }; break;
        default: o['unknownField'] = s;
      }
      return { family, bytes: json(o) };
    }
    case 'deepNesting': {
      const deep = nested(pick([501, size(600, 5000), size(10_000, 100_000)]), r);
      const o: unknown = verb === 'json' ? [{ op: 'add', path: '/metadata/annotations', value: { deep: 'DEEP' } }] : { ...(asPatch ? { metadata: {} } : base()), [pick(['spec', 'status', 'unknownField', 'data'])]: 'DEEP' };
      return { family, bytes: Buffer.from(JSON.stringify(o).replace('"DEEP"', deep)) };
    }
    case 'invalidUtf8': {
      const text = JSON.stringify(verb === 'json' ? [{ op: 'add', path: '/metadata/labels/a', value: 'MARK' }] : asPatch ? { metadata: { labels: { a: 'MARK' } } } : base());
      const bad = pick([[0xff], [0xfe, 0xfe], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x28, 0xa1], [0x80]]);
      const [before, after = ''] = (text.includes('MARK') ? text : text.replace('"metadata":{', '"metadata":{"annotations":{"a":"MARK"},')).split('MARK');
      return { family, bytes: Buffer.concat([Buffer.from(before ?? ''), Buffer.from(bad), Buffer.from(after)]) };
    }
    case 'tenMiB': {
      const head = Buffer.from('{"metadata":{"name":"x"},"unknownField":"');
      return { family, bytes: Buffer.concat([head, pad.subarray(0, tenMiB - head.length - 2), Buffer.from('"}')]), chunked: r() < 0.5 };
    }
    case 'unknownKind': {
      const [apiVersion, kind] = pick([['apps/v1', 'Deployment'], ['v1', 'Service'], ['v2', k.kind], ['v1', k.kind === 'ConfigMap' ? 'Secret' : 'ConfigMap'], ['', ''], ['batch/v1', 'Job']]);
      if (verb === 'json') return { family, bytes: json([{ op: 'replace', path: '/kind', value: kind === k.kind || !kind ? 'Deployment' : kind }]) };
      const o = asPatch ? { metadata: {} } : base();
      return { family, bytes: json({ ...o, apiVersion: apiVersion || 5, kind: kind || ['x'] }) };
    }
    case 'notAnObject':
      // (An empty array is a JSON patch that changes nothing, so it is not sent as one.)
      return { family, bytes: Buffer.from(pick(['123', '"pod"', 'null', 'true', verb === 'json' ? '{}' : '[]', '[1,2]', '', '   ', '{', '{"metadata":', '}{', '{"a":1}{"b":2}', 'NaN'])) };
    case 'jsonPatch':
      return {
        family, bytes: json(pick<unknown>([
          { op: 'add', path: '/x', value: 1 }, [{ op: 'explode', path: '/metadata' }], [{ op: 'add' }], [{ op: 'remove', path: '/metadata' }],
          [{ op: 'test', path: '/metadata/name', value: 'not-this' }], [{ op: 'replace', path: '/no/such/path', value: 1 }],
          [{ op: 'move', from: '/nothing', path: '/metadata/name' }], [{ op: 'add', path: 'no-slash', value: 1 }],
          Array.from({ length: 10_001 }, () => ({ op: 'test', path: '/kind', value: k.kind })),
        ])),
      };
    case 'badYaml':
      return {
        // YAML where YAML is read: creates and updates say application/yaml, apply's own type is YAML.
        family, contentType: verb === 'create' || verb === 'update' ? 'application/yaml' : undefined,
        bytes: Buffer.from(pick([
          'metadata: [', 'a: b: c', 'metadata:\n\t- name: x', 'a: &x [*x, *x]\nb: *y', '{{{', 'key: "unterminated', '- - - [',
          'a: 1\na: 2', `${Array.from({ length: 12 }, (_, j) => `l${j}: &l${j} [${Array(12).fill(j === 0 ? '"lol"' : `*l${j - 1}`).join(',')}]`).join('\n')}`,
          '%YAML 9.9\n---\na: 1', '? [a\n: b', 'apiVersion: v1\nkind: Pod\nmetadata: {name: [}',
        ])),
      };
    default: {
      const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
      const junk = Buffer.from(Array.from({ length: size(1, 300) }, () => Math.floor(r() * 256)));
      // An Unknown envelope (field 1: TypeMeta, field 2: raw) whose raw bytes are not a ConfigMap.
      const str = (field: number, s: string): Buffer => Buffer.concat([Buffer.from([(field << 3) | 2, Buffer.byteLength(s)]), Buffer.from(s)]);
      const typeMeta = Buffer.concat([str(1, 'v1'), str(2, 'ConfigMap')]);
      const envelope = Buffer.concat([magic, Buffer.from([0x0a, typeMeta.length]), typeMeta, Buffer.from([0x12, 0x7f]), junk.subarray(0, 20)]);
      return { family, contentType: 'application/vnd.kubernetes.protobuf', bytes: pick([junk, Buffer.concat([magic, junk]), envelope, magic]) };
    }
  }
}

interface Answer {
  code: number;
  body: string;
}

function send(agent: Agent, method: string, path: string, body: Body, contentType: string): Promise<Answer> {
  const url = new URL(path, cluster.state.apiServer);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method, agent,
      headers: {
        Authorization: `Bearer ${cluster.client.config.token}`, Accept: 'application/json', 'Content-Type': body.contentType ?? contentType,
        ...(body.chunked ? {} : { 'Content-Length': String(body.bytes.length) }),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body.bytes);
  });
}

/** The process's resident memory, 0 once it has gone. */
function rssMiB(pid: number): number {
  let status = '';
  try { status = readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return 0; }
  return Math.round(Number(status.split('\n').find((l) => l.startsWith('VmRSS:'))?.split(/\s+/)[1] ?? 0) / 1024);
}

test('10,000 malformed bodies to every create, update and patch: each a 4xx Status, nothing stored, the server up, its memory back', async () => {
  await cluster.client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  for (const k of kinds) await cluster.client.create(collection(k), full(k, target(k)));
  const pid = readState(clusterLayout(cluster.paths))!.processes.find((p) => p.name === 'apiserver')!.pid;
  const store = new EtcdStore(cluster.state.etcdEndpoints);
  const agent = new Agent({ ca: cluster.client.config.ca, keepAlive: true, maxSockets: 8 });
  const failures: string[] = [];
  const tally = new Map<string, number>();
  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(pid)); }, 200);
  try {
    const revisionBefore = await store.revision();
    const rssBefore = rssMiB(pid);
    const r = rng(seed);
    const started = Date.now();
    const jobs = Array.from({ length: total }, (_, i) => {
      const k = kinds[i % kinds.length]!;
      const verb = verbs[Math.floor(i / kinds.length) % verbs.length]!;
      return { i, k, verb, body: generate(k, verb, i, r) };
    });
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let job = jobs[next++]; job; job = jobs[next++]) {
        const { i, k, verb, body } = job;
        const method = verb === 'create' ? 'POST' : verb === 'update' ? 'PUT' : 'PATCH';
        const path = verb === 'create' ? collection(k) : `${collection(k)}/${target(k)}`;
        const query = `?fieldValidation=Strict${verb === 'apply' ? '&fieldManager=fuzz' : ''}`;
        let answer: Answer;
        try {
          answer = await send(agent, method, `${path}${query}`, body, contentTypes[verb]);
        } catch (err) {
          const log = join(clusterLayout(cluster.paths).logs, 'apiserver.log');
          const dead = isAlive(pid) ? '' : `; the API server has died: ${readFileSync(log, 'utf8').trim().split('\n').slice(-15).join('\n')}`;
          failures.push(`#${i} ${method} ${k.plural} ${verb} ${body.family} (${body.bytes.length} bytes: ${body.bytes.subarray(0, 120).toString()}): no answer: ${(err as Error).message}${dead}`);
          if (dead) break;
          continue;
        }
        let status: unknown;
        try { status = JSON.parse(answer.body); } catch { /* not JSON */ }
        const ok = answer.code >= 400 && answer.code < 500 && isRecord(status) && status['kind'] === 'Status' && (status as unknown as Status).code === answer.code;
        tally.set(`${body.family} ${answer.code}`, (tally.get(`${body.family} ${answer.code}`) ?? 0) + 1);
        if (!ok) failures.push(`#${i} ${method} ${k.plural} ${verb} ${body.family} (${body.bytes.length} bytes: ${body.bytes.subarray(0, 120).toString()}): ${answer.code} ${answer.body.slice(0, 300)}`);
        delete (job as { body?: Body }).body;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const ms = Date.now() - started;
    clearInterval(sampler);
    console.log(`seed ${seed}: ${total} bodies in ${ms} ms; answers: ${[...tally].sort().map(([k, n]) => `${k}: ${n}`).join(', ')}`);
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} bodies were not refused with a 4xx Status`);
    assert.equal(await store.revision(), revisionBefore, 'etcd\'s revision moved: something was stored');

    assert.equal((await cluster.client.raw('GET', '/healthz')).code, 200);
    const fine = await cluster.kubectl(['create', 'configmap', 'after-fuzz', '-n', ns, '--from-literal=a=1']);
    assert.equal(fine.code, 0, fine.stderr);
    // V8 gives memory back to the system lazily: wait (a bounded while) for the heap the large bodies took to be released.
    const settled = await waitUntil('the API server\'s memory to come back down', () => (rssMiB(pid) - rssBefore < 100 ? rssMiB(pid) : undefined), 60_000, 1000)
      .catch(() => rssMiB(pid));
    console.log(`API server RSS: ${rssBefore} MiB before, ${peak} MiB at the peak, ${settled} MiB after`);
    assert.ok(settled - rssBefore < 100, `RSS stayed ${settled - rssBefore} MiB above where it started`);
  } finally {
    clearInterval(sampler);
    agent.destroy();
    store.close();
  }
});
