/**
 * Pods as users write them, on a local cluster through unmodified kubectl, for a runc pod and a VM pod alike:
 * volumes shared by init and app containers (emptyDir on disk and in memory, configMap, secret, downwardAPI,
 * projected, subPath, readOnly), environment from ConfigMaps, Secrets and the downward API with $(VAR)
 * expansion, a ConfigMap change reaching running pods; probes and lifecycle hooks; configuration errors as
 * kubelet reports them; a failing init container that restarts without the pod losing its files; force
 * deletion that leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { netnsInode, netnsNames } from './helpers.js';
import { localCluster } from './local-cluster.js';

const c = localCluster('pods');

const objects = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {color: blue, size: L}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: hunter2}
`;

/** One pod exercising every volume and env feature; `vm` picks the VM runtime. */
const volumesPod = (name: string, vm: boolean): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: {app: vols, kind: ${vm ? 'vm' : 'runc'}}
spec:
  ${vm ? 'runtimeClassName: kata-vm-isolation' : 'runtimeClassName: runc'}
  terminationGracePeriodSeconds: 2
  securityContext: {fsGroup: 2000, supplementalGroups: [3000]}
  volumes:
  - {name: work, emptyDir: {}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
  - {name: cfg, configMap: {name: settings}}
  - {name: sec, secret: {secretName: creds, defaultMode: 0400}}
  - {name: info, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}
  - name: all
    projected:
      sources:
      - configMap: {name: settings, items: [{key: color, path: colour}]}
      - secret: {name: creds}
      - downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}
  initContainers:
  - name: init
    image: busybox
    command: [sh, -c, 'echo from-init > /work/init.txt; mkdir -p /work/sub; echo in-sub > /work/sub/file']
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'echo "$GREETING" > /work/app.txt; echo "$(COLOR)" > /work/cmd.txt; echo app > /mem/app.txt; exec sleep 100000']
    env:
    - {name: COLOR, valueFrom: {configMapKeyRef: {name: settings, key: color}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: APP_LABEL, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
    - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: GREETING, value: "$(COLOR)-$(POD_NAME)-$$(LITERAL)"}
    envFrom: [{prefix: CFG_, configMapRef: {name: settings}}]
    resources: {limits: {memory: 200Mi}}
    volumeMounts:
    - {name: work, mountPath: /work}
    - {name: mem, mountPath: /mem}
    - {name: cfg, mountPath: /cfg}
    - {name: sec, mountPath: /sec}
    - {name: info, mountPath: /info}
    - {name: all, mountPath: /all}
  - name: side
    image: busybox
    command: [sleep, "100000"]
    resources: {limits: {memory: 56Mi}}
    volumeMounts:
    - {name: work, mountPath: /shared, readOnly: true}
    - {name: work, mountPath: /sub, subPath: sub}
    - {name: mem, mountPath: /mem}
    - {name: cfg, mountPath: /etc/color, subPath: color}
`;

const exec = (pod: string, container: string, script: string): Promise<string> => c.ok(['exec', pod, '-c', container, '--', 'sh', '-c', script]);

test('volumes and environment in a runc pod and a VM pod: shared by init and app containers, a ConfigMap change seen within 90 s', async () => {
  await c.ok(['apply', '-f', '-'], objects);
  await c.ok(['apply', '-f', '-'], `${volumesPod('vols-runc', false)}---\n${volumesPod('vols-vm', true)}`);
  await c.ok(['wait', '--for=condition=Ready', 'pod/vols-runc', 'pod/vols-vm', '--timeout=240s']);
  for (const pod of ['vols-runc', 'vols-vm']) {
    const ip = await c.jsonpath('pod', pod, '.status.podIP');
    assert.equal((await exec(pod, 'app', 'cat /work/init.txt /work/app.txt /work/cmd.txt')).trim(), `from-init\nblue-${pod}-$(LITERAL)\nblue`, `${pod}: init wrote; $(VAR) expanded in env and command`);
    const env = await exec(pod, 'app', 'env');
    for (const line of ['COLOR=blue', 'PASSWORD=hunter2', `POD_NAME=${pod}`, `POD_IP=${ip}`, 'APP_LABEL=vols', 'MEM_MI=200', 'CFG_color=blue', 'CFG_size=L']) {
      assert.match(env, new RegExp(`^${line.replace(/[.$()]/g, '\\$&')}$`, 'm'), `${pod}: env ${line}`);
    }
    assert.equal(await exec(pod, 'app', 'cat /cfg/color /sec/password /all/colour /all/password /all/name'), `bluehunter2bluehunter2${pod}`);
    assert.match(await exec(pod, 'app', 'cat /info/labels'), /app="vols"/);
    assert.match((await exec(pod, 'app', 'stat -c %a /sec/..data/password')).trim(), /^4[0-4]0$/, `${pod}: defaultMode 0400 (+ group read for fsGroup)`);
    assert.match(await exec(pod, 'app', 'id -G'), /\b2000\b.*\b3000\b|\b3000\b.*\b2000\b/, `${pod}: fsGroup and supplementalGroups`);
    assert.equal((await exec(pod, 'side', 'cat /shared/init.txt /sub/file /etc/color; cat /mem/app.txt')).trim(), 'from-init\nin-sub\nblueapp');
    const ro = await c.kubectl(['exec', pod, '-c', 'side', '--', 'sh', '-c', 'echo x > /shared/nope']);
    assert.notEqual(ro.code, 0, `${pod}: a readOnly mount refuses writes`);
    assert.match(ro.stderr + ro.stdout, /Read-only file system/);
    assert.match(await exec(pod, 'side', 'df -k /mem | tail -1'), /^\S+\s+16384\s/, `${pod}: the memory emptyDir is a 16Mi tmpfs`);
  }
  await c.ok(['patch', 'configmap', 'settings', '--type=merge', '-p', '{"data":{"color":"green"}}']);
  const t0 = Date.now();
  await c.waitFor('the changed ConfigMap in both pods', async () =>
    (await exec('vols-runc', 'app', 'cat /cfg/color')) === 'green' && (await exec('vols-vm', 'app', 'cat /cfg/color /all/colour')) === 'greengreen', 90_000);
  process.stdout.write(`# ConfigMap change visible in both pods after ${Date.now() - t0} ms\n`);
  assert.equal(await exec('vols-vm', 'side', 'cat /etc/color'), 'blue', 'a subPath mount keeps the file it started with, as in Kubernetes');
  await c.ok(['delete', 'pod', 'vols-runc', 'vols-vm', '--wait=false']);
});

test('probes and hooks: httpGet readiness by port name, startup gating, postStart, preStop, termination message', async () => {
  const pod = (name: string, vm: boolean): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  ${vm ? 'runtimeClassName: kata-vm-isolation' : ''}
  terminationGracePeriodSeconds: 10
  containers:
  - name: web
    image: busybox
    command: [sh, -c, 'mkdir -p /www; echo ok > /www/healthz; sleep 3; exec httpd -f -p 8080 -h /www']
    ports: [{name: http, containerPort: 8080}]
    startupProbe: {tcpSocket: {port: http}, periodSeconds: 1, failureThreshold: 60}
    readinessProbe: {httpGet: {path: /healthz, port: http, httpHeaders: [{name: X-Probe, value: "1"}]}, periodSeconds: 1}
    lifecycle:
      postStart: {exec: {command: [sh, -c, 'echo started > /tmp/post-start']}}
  - name: quitter
    image: busybox
    command: [sh, -c, 'echo "goodbye from $(hostname)" > /dev/termination-log; exit 3']
`;
  await c.ok(['apply', '-f', '-'], `${pod('probed-runc', false)}---\n${pod('probed-vm', true)}`);
  for (const name of ['probed-runc', 'probed-vm']) {
    await c.waitFor(`${name}'s web container ready`, async () => (await c.jsonpath('pod', name, '.status.containerStatuses[?(@.name=="web")].ready')) === 'true', 180_000);
    assert.equal(await c.jsonpath('pod', name, '.status.containerStatuses[?(@.name=="web")].started'), 'true');
    assert.equal((await exec(name, 'web', 'cat /tmp/post-start')).trim(), 'started', `${name}: postStart ran`);
    await c.waitFor(`${name}'s termination message`, async () => (await c.jsonpath('pod', name, '.status.containerStatuses[?(@.name=="quitter")].lastState.terminated.message')).includes('goodbye'), 60_000);
    assert.equal(await c.jsonpath('pod', name, '.status.containerStatuses[?(@.name=="quitter")].lastState.terminated.exitCode'), '3');
    // Breaking the health check makes the pod unready, and fixing it makes it ready again.
    await exec(name, 'web', 'rm /www/healthz');
    await c.waitFor(`${name} unready`, async () => (await c.jsonpath('pod', name, '.status.containerStatuses[?(@.name=="web")].ready')) === 'false', 30_000);
    const events = await c.ok(['get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
    assert.match(events, /Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 404/);
  }
  await c.ok(['delete', 'pod', 'probed-runc', 'probed-vm', '--wait=false']);
});

test('without privileged, a VM pod can neither administer its network nor mount (examples/vm-pod-privileged.yaml shows it can with)', async () => {
  await c.ok(['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: vm-plain}
spec:
  runtimeClassName: kata-vm-isolation
  containers: [{name: main, image: busybox, command: [sleep, "100000"]}]
`);
  await c.ok(['wait', '--for=condition=Ready', 'pod/vm-plain', '--timeout=240s']);
  for (const script of ['ip link add d0 type dummy', 'mkdir -p /mnt/x && mount -t tmpfs none /mnt/x']) {
    const r = await c.kubectl(['exec', 'vm-plain', '--', 'sh', '-c', script]);
    assert.notEqual(r.code, 0, `${script} must fail without privileged`);
    assert.match(r.stdout + r.stderr, /Operation not permitted|permission denied/i);
  }
  assert.equal((await exec('vm-plain', 'main', 'find /dev -type b | wc -l')).trim(), '0', 'no block device in /dev');
  await c.ok(['delete', 'pod', 'vm-plain', '--wait=false']);
});

test('configuration errors read like kubelet\'s: a missing key, a missing ConfigMap volume', async () => {
  await c.ok(['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: bad-key}
spec:
  containers:
  - name: main
    image: busybox
    command: [sleep, "1000"]
    env: [{name: X, valueFrom: {configMapKeyRef: {name: settings, key: nope}}}, {name: OPTIONAL, valueFrom: {configMapKeyRef: {name: settings, key: nope, optional: true}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: bad-volume}
spec:
  containers:
  - {name: main, image: busybox, command: [sleep, "1000"], volumeMounts: [{name: v, mountPath: /v}]}
  volumes: [{name: v, configMap: {name: not-there}}]
`);
  await c.waitFor('CreateContainerConfigError', async () => (await c.jsonpath('pod', 'bad-key', '.status.containerStatuses[0].state.waiting.reason')) === 'CreateContainerConfigError');
  assert.equal(await c.jsonpath('pod', 'bad-key', '.status.containerStatuses[0].state.waiting.message'), "couldn't find key nope in ConfigMap default/settings");
  await c.waitFor('FailedMount', async () => (await c.ok(['get', 'events', '--field-selector', 'involvedObject.name=bad-volume,reason=FailedMount', '-o', 'jsonpath={.items[*].message}'])).includes('configmap "not-there" not found'));
  assert.equal(await c.jsonpath('pod', 'bad-volume', '.status.containerStatuses[0].state.waiting.reason'), 'ContainerCreating');
  // Creating the missing ConfigMap lets the pod start, as kubelet retries the mount.
  await c.ok(['create', 'configmap', 'not-there', '--from-literal=k=v']);
  await c.ok(['wait', '--for=condition=Ready', 'pod/bad-volume', '--timeout=120s']);
  await c.ok(['delete', 'pod', 'bad-key', 'bad-volume', '--wait=false']);
});

test('a failing init container restarts, then succeeds, and the VM pod keeps its files; no sandbox is created twice', async () => {
  await c.ok(['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: retry-init}
spec:
  runtimeClassName: kata-vm-isolation
  volumes: [{name: data, emptyDir: {}}]
  initContainers:
  - name: flaky
    image: busybox
    command: [sh, -c, 'if [ -e /data/tried ]; then echo done > /data/result; else touch /data/tried; exit 1; fi']
    volumeMounts: [{name: data, mountPath: /data}]
  containers:
  - {name: main, image: busybox, command: [sleep, "100000"], volumeMounts: [{name: data, mountPath: /data}]}
`);
  await c.ok(['wait', '--for=condition=Ready', 'pod/retry-init', '--timeout=240s']);
  assert.equal(await c.jsonpath('pod', 'retry-init', '.status.initContainerStatuses[0].restartCount'), '1');
  assert.equal((await exec('retry-init', 'main', 'cat /data/result')).trim(), 'done');
  const events = await c.ok(['get', 'events', '-A', '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}']);
  assert.doesNotMatch(events, /FailedCreatePodSandBox/, 'no pod of this cluster saw its sandbox created twice or failing');
});

test('force deletion of a running VM pod leaves no QEMU, network namespace or share within 30 s', async () => {
  const before = await c.podVms();
  await c.ok(['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: forced}
spec:
  runtimeClassName: kata-vm-isolation
  containers: [{name: main, image: busybox, command: [sleep, "100000"]}]
`);
  await c.ok(['wait', '--for=condition=Ready', 'pod/forced', '--timeout=240s']);
  const vms = (await c.podVms()).filter((p) => !before.includes(p));
  assert.equal(vms.length, 1, 'the pod has its VM');
  const vm = vms[0]!;
  // The pod's network namespace (QEMU runs in it) and its share (QEMU serves it over 9p), from the VM itself.
  const namespaces = new Set([await netnsInode(vm)]);
  assert.equal((await netnsNames(namespaces)).length, 1, 'the pod has its network namespace');
  const share = /path=([^,\0]*\/shares\/[^,\0]+)/.exec(await readFile(`/proc/${vm}/cmdline`, 'utf8'))?.[1];
  assert.ok(share, 'the VM serves the pod share');
  const r = await c.kubectl(['delete', 'pod', 'forced', '--grace-period=0', '--force']);
  assert.equal(r.code, 0, r.stderr);
  const t0 = Date.now();
  await c.waitFor('the VM, its netns and its share to go', async () =>
    !(await c.podVms()).includes(vm) && (await netnsNames(namespaces)).length === 0 && !(await stat(share).catch(() => undefined)), 30_000);
  process.stdout.write(`# force-deleted VM pod gone from the node after ${Date.now() - t0} ms\n`);
});
