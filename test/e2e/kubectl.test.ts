/** The acceptance flows of issue 3 driven by the real kubectl (1.32 and 1.33) against a real control plane. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { clusterLayout } from '../../src/cluster/index.js';
import { kubectlVersions, startCluster, waitUntil, type TestCluster } from './harness.js';
import { TestNode } from './test-node.js';

let cluster: TestCluster;
let node: TestNode;

before(async () => {
  cluster = await startCluster();
  node = new TestNode(cluster.client, 'node-a');
  await node.start();
});

after(async () => {
  await node?.stop();
  await cluster?.stop();
});

const podYaml = (name: string, image = 'nginx:1.25'): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: {app: web}
spec:
  containers:
  - name: web
    image: ${image}
    ports: [{containerPort: 80}]
`;

for (const [version, binary] of Object.entries(kubectlVersions)) {
  describe(`kubectl ${version}`, () => {
    const k = (args: string[], input?: string): ReturnType<TestCluster['kubectl']> => cluster.kubectl(args, { binary, ...(input !== undefined ? { input } : {}) });
    const pod = `web-${version.replace('.', '')}`;

    test('get ns lists the system namespaces', async () => {
      const r = await k(['get', 'ns']);
      assert.equal(r.code, 0, r.stderr);
      for (const ns of ['default', 'kube-system', 'kube-node-lease']) assert.match(r.stdout, new RegExp(`^${ns}\\s+Active`, 'm'));
    });

    test('create, apply twice, get -o wide, -o yaml, label, annotate, describe, wait, delete', async () => {
      const file = cluster.manifest(`${pod}.yaml`, podYaml(pod));
      let r = await k(['create', '-f', file]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`pod/${pod} created`));
      const changed = cluster.manifest(`${pod}-v2.yaml`, podYaml(pod, 'nginx:1.26'));
      r = await k(['apply', '-f', changed]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /configured/);
      r = await k(['apply', '-f', changed]);
      assert.match(r.stdout, new RegExp(`pod/${pod} unchanged`));
      r = await k(['wait', '--for=condition=PodScheduled', `pod/${pod}`, '--timeout=20s']);
      assert.equal(r.code, 0, r.stderr);
      await waitUntil('pod Running', async () => (await k(['get', 'pod', pod])).stdout.includes('Running') || undefined);
      r = await k(['get', 'pods', '-o', 'wide']);
      assert.match(r.stdout, /NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES/);
      assert.match(r.stdout, new RegExp(`${pod}\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+10\\.88\\.0\\.2\\s+node-a`));
      r = await k(['get', 'pod', pod, '-o', 'yaml']);
      assert.match(r.stdout, /image: nginx:1\.26/);
      assert.match(r.stdout, /resourceVersion: "\d+"/);
      assert.equal((await k(['label', 'pod', pod, 'tier=frontend'])).code, 0);
      assert.equal((await k(['annotate', 'pod', pod, 'note=hello'])).code, 0);
      r = await k(['get', 'pod', pod, '--show-labels']);
      assert.match(r.stdout, /tier=frontend/);
      r = await k(['describe', 'pod', pod]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Node:\s+node-a/);
      assert.match(r.stdout, /note: hello/);
      assert.match(r.stdout, new RegExp(`Normal\\s+Scheduled\\s+\\S+\\s+default-scheduler\\s+Successfully assigned default/${pod} to node-a`));
      r = await k(['delete', 'pod', pod, '--timeout=30s']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`pod "${pod}" deleted`));
      r = await k(['get', 'pod', pod]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`pods "${pod}" not found`));
    });

    test('auth can-i and auth whoami answer for the administrator', async () => {
      let r = await k(['auth', 'can-i', 'create', 'pods']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'yes');
      r = await k(['auth', 'whoami']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Username\s+sandpod-admin/);
      assert.match(r.stdout, /Groups\s+\[system:masters system:authenticated\]/);
    });

    test('get pods -w streams changes as table rows', async () => {
      const name = `watched-${version.replace('.', '')}`;
      const seed = `seed-${version.replace('.', '')}`;
      assert.equal((await k(['create', '-f', '-'], podYaml(seed))).code, 0);
      const child = spawn(binary, ['--kubeconfig', cluster.state.kubeconfig, '--cache-dir', `${cluster.root}/kubectl-cache`, 'get', 'pods', '-w']);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await waitUntil('the first listing', () => out.includes(seed) || undefined);
        assert.equal((await k(['create', '-f', '-'], podYaml(name))).code, 0);
        await waitUntil('the new pod in the watch', () => out.includes(name) || undefined);
        await waitUntil('the pod Running in the watch', () => new RegExp(`${name}\\s+1/1\\s+Running`).test(out) || undefined);
      } finally {
        child.kill();
      }
      assert.equal((await k(['delete', 'pod', name, seed, '--wait=true'])).code, 0);
    });
  });
}

test('runtimeclasses, network policies and events print kube-apiserver columns', async () => {
  let r = await cluster.kubectl(['get', 'runtimeclass']);
  assert.match(r.stdout, /NAME\s+HANDLER\s+AGE/);
  for (const [name, handler] of [['runc', 'runc'], ['vm-isolation', 'sandpod-vm'], ['kata-vm-isolation', 'sandpod-vm'], ['kata-mshv-vm-isolation', 'sandpod-vm']]) {
    assert.match(r.stdout, new RegExp(`^${name}\\s+${handler}\\s`, 'm'));
  }
  const netpol = cluster.manifest('netpol.yaml', `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-web}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{protocol: TCP, port: 80}]
`);
  r = await cluster.kubectl(['apply', '-f', netpol]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /networkpolicy.networking.k8s.io\/deny-web created/);
  r = await cluster.kubectl(['apply', '-f', netpol]);
  assert.match(r.stdout, /unchanged/);
  r = await cluster.kubectl(['get', 'netpol']);
  assert.match(r.stdout, /deny-web\s+app=web\s+\S+/);
  const rc = cluster.manifest('rc.yaml', 'apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: gvisor}\nhandler: runsc\n');
  assert.equal((await cluster.kubectl(['apply', '-f', rc])).code, 0);
  cluster.manifest('rc.yaml', 'apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: gvisor}\nhandler: other\n');
  r = await cluster.kubectl(['apply', '-f', rc]);
  assert.match(r.stderr, /RuntimeClass "gvisor" is invalid: handler: Invalid value: "other": field is immutable/);
  r = await cluster.kubectl(['get', 'events']);
  assert.match(r.stdout, /LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE/);
  assert.match(r.stdout, /Normal\s+Scheduled\s+pod\//);
});

test('server-side apply creates and then updates', async () => {
  const file = cluster.manifest('ssa.yaml', podYaml('ssa'));
  let r = await cluster.kubectl(['apply', '--server-side', '-f', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /pod\/ssa serverside-applied/);
  cluster.manifest('ssa.yaml', podYaml('ssa').replace('labels: {app: web}', 'labels: {app: web, v: "2"}'));
  r = await cluster.kubectl(['apply', '--server-side', '-f', file]);
  assert.equal(r.code, 0, r.stderr);
  r = await cluster.kubectl(['get', 'pod', 'ssa', '-o', 'jsonpath={.metadata.labels.v}']);
  assert.equal(r.stdout, '2');
  assert.equal((await cluster.kubectl(['label', 'pod', 'ssa', 'by-hand=yes'])).code, 0);
  cluster.manifest('ssa.yaml', podYaml('ssa'));
  r = await cluster.kubectl(['apply', '--server-side', '-f', file]);
  assert.equal(r.code, 0, r.stderr);
  r = await cluster.kubectl(['get', 'pod', 'ssa', '-o', 'jsonpath={.metadata.labels}']);
  assert.equal(r.stdout, '{"app":"web","by-hand":"yes"}', 'the label dropped from the manifest goes, the one set by hand stays');
  r = await cluster.kubectl(['get', 'pod', 'ssa', '-o', 'yaml', '--show-managed-fields']);
  assert.match(r.stdout, /manager: kubectl\n\s+operation: Apply/);
  assert.equal((await cluster.kubectl(['delete', 'pod', 'ssa'])).code, 0);
});

for (const [version, binary] of Object.entries(kubectlVersions)) test(`kubectl ${version}: bad input is rejected with a clear message and nothing is stored`, async () => {
  const cases: Array<{ name: string; yaml: string; error: RegExp }> = [
    { name: 'Bad_Name', yaml: podYaml('Bad_Name'), error: /metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/ },
    { name: 'noimage', yaml: podYaml('noimage').replace('    image: nginx:1.25\n', ''), error: /spec\.containers\[0\]\.image: Required value/ },
    { name: 'negmem', yaml: podYaml('negmem') + '    resources: {limits: {memory: "-1Gi"}}\n', error: /resources\.limits\[memory\]: Invalid value: "-1Gi": must be greater than or equal to 0/ },
    { name: 'badqty', yaml: podYaml('badqty') + '    resources: {requests: {cpu: "lots"}}\n', error: /resources\.requests\[cpu\]: Invalid value: "lots": quantities must match/ },
    { name: 'unknownrc', yaml: podYaml('unknownrc').replace('spec:\n', 'spec:\n  runtimeClassName: no-such-class\n'), error: /pods "unknownrc" is forbidden: pod rejected: RuntimeClass "no-such-class" not found/ },
    { name: 'vmhostnet', yaml: podYaml('vmhostnet').replace('spec:\n', 'spec:\n  runtimeClassName: kata-vm-isolation\n  hostNetwork: true\n'), error: /spec\.hostNetwork: Forbidden: pods of RuntimeClass "kata-vm-isolation" run in their own VM/ },
    { name: 'unknownfield', yaml: podYaml('unknownfield').replace('    image:', '    imagee: x\n    image:'), error: /strict decoding error: unknown field "spec\.containers\[0\]\.imagee"/ },
    { name: 'dupcontainer', yaml: podYaml('dupcontainer') + '  - name: web\n    image: busybox\n', error: /spec\.containers\[1\]\.name: Duplicate value: "web"/ },
    { name: 'badrestart', yaml: podYaml('badrestart').replace('spec:\n', 'spec:\n  restartPolicy: Sometimes\n'), error: /spec\.restartPolicy: Unsupported value: "Sometimes"/ },
  ];
  for (const c of cases) {
    const r = await cluster.kubectl(['create', '-f', cluster.manifest(`${c.name}.yaml`, c.yaml)], { binary });
    assert.notEqual(r.code, 0, `${c.name} was accepted`);
    assert.match(r.stderr, c.error, c.name);
    const get = await cluster.kubectl(['get', 'pod', c.name]);
    assert.match(get.stderr, /not found/, `${c.name} was stored`);
  }
  const bad = await cluster.kubectl(['create', '-f', '-'], { binary, input: '{"apiVersion":"v1","kind":"Pod",' });
  assert.notEqual(bad.code, 0);
});

for (const [version, binary] of Object.entries(kubectlVersions)) test(`kubectl ${version}: a privileged VM pod is accepted with a warning and gets a default VM size`, async () => {
  const r = await cluster.kubectl(['create', '-f', '-'], { binary, input: podYaml('privvm').replace('spec:\n', 'spec:\n  runtimeClassName: kata-vm-isolation\n') + '    securityContext: {privileged: true}\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Warning: spec\.containers\[0\]\.securityContext\.privileged: in RuntimeClass "kata-vm-isolation" privileged grants power inside the pod's VM only/);
  const ann = await cluster.kubectl(['get', 'pod', 'privvm', '-o', 'jsonpath={.metadata.annotations.sandpod\\.io/vm-memory} {.spec.overhead.memory} {.spec.nodeSelector}']);
  assert.equal(ann.stdout, '512Mi 200Mi {"kubernetes.azure.com/kata-vm-isolation":"true"}');
  assert.equal((await cluster.kubectl(['delete', 'pod', 'privvm'])).code, 0);
});

test('requests without a token are 401', async () => {
  const res = await fetch(`${cluster.state.apiServer}/api/v1/pods`).catch((err: Error) => err);
  // Node's fetch does not trust the cluster CA; use the client with an empty token instead.
  assert.ok(res instanceof Error);
  const { KubeClient } = await import('../../src/kube/index.js');
  const anon = new KubeClient({ ...cluster.client.config, token: '' });
  try {
    const r = await anon.raw('GET', '/api/v1/namespaces/default/pods');
    assert.equal(r.code, 401);
    assert.equal((r.body as { reason: string }).reason, 'Unauthorized');
    const wrong = new KubeClient({ ...cluster.client.config, token: 'nope' });
    assert.equal((await wrong.raw('GET', '/api/v1/namespaces/default/pods')).code, 401);
    wrong.close();
  } finally {
    anon.close();
  }
  const r = await cluster.kubectl(['--token=wrong', 'get', 'pods']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Unauthorized|must be logged in/);
});

test('the admin client certificate from the cluster CA authenticates too', async () => {
  const pki = clusterLayout(cluster.paths).pki;
  const code = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest(`${cluster.state.apiServer}/api/v1/namespaces`, {
      ca: readFileSync(join(pki, 'ca.crt')), cert: readFileSync(join(pki, 'admin.crt')), key: readFileSync(join(pki, 'admin.key')),
    }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(code, 200);
});
