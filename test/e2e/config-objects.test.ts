/**
 * ConfigMaps, Secrets and ServiceAccounts driven by the real kubectl (1.32 and 1.33) against a real control plane:
 * typed `kubectl create` (protobuf bodies), get/describe output, apply with stringData, immutability, strategic
 * patches and `kubectl edit`, the default ServiceAccount of every namespace, and no secret value in the API log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterLayout } from '../../src/cluster/index.js';
import { kubectlVersions, startCluster, waitUntil, type KubectlResult, type TestCluster } from './harness.js';

let cluster: TestCluster;
/** Every secret value the tests send; none may appear in the API server's log. */
const secretValues: string[] = [];

before(async () => {
  // Request logging is at debug level: turn it on so the log check below has something to look through.
  process.env['SANDPOD_LOG_LEVEL'] = 'debug';
  cluster = await startCluster();
});

after(async () => {
  await cluster?.stop();
});

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

for (const [version, binary] of Object.entries(kubectlVersions)) {
  describe(`kubectl ${version}`, () => {
    const v = version.replace('.', '');
    const k = (args: string[], input?: string): Promise<KubectlResult> => cluster.kubectl(args, { binary, ...(input !== undefined ? { input } : {}) });
    const ok = async (args: string[], input?: string): Promise<string> => {
      const r = await k(args, input);
      assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const cm = `c1-${v}`;

    test('create configmap from a literal and a file; get, -o yaml and describe show it', async () => {
      const file = cluster.manifest(`app-${v}.properties`, 'color=blue\nsize=2\n');
      assert.match(await ok(['create', 'configmap', cm, '--from-literal=a=1', `--from-file=${file}`]), new RegExp(`configmap/${cm} created`));
      const table = await ok(['get', 'cm']);
      assert.match(table, /^NAME\s+DATA\s+AGE$/m);
      assert.match(table, new RegExp(`^${cm}\\s+2\\s+\\d+s$`, 'm'));
      const yaml = await ok(['get', 'cm', cm, '-o', 'yaml']);
      assert.match(yaml, /^kind: ConfigMap$/m);
      assert.match(yaml, /^ {2}a: "1"$/m);
      assert.match(yaml, new RegExp(`^  app-${v}\\.properties: \\|\\n    color=blue\\n    size=2$`, 'm'));
      const described = await ok(['describe', 'configmap', cm]);
      assert.match(described, new RegExp(`^Name:\\s+${cm}$`, 'm'));
      assert.match(described, /^Namespace:\s+default$/m);
      assert.match(described, /^Data\n====$/m);
      assert.match(described, /^a:\n----\n1$/m);
      assert.match(described, /color=blue\nsize=2/);
      assert.match(described, /^BinaryData\n====$/m);
      assert.match(described, /^Events:\s+<none>$/m);
    });

    test('strategic merge patches and kubectl edit change a configmap\'s data', async () => {
      assert.match(await ok(['patch', 'configmap', cm, '-p', '{"data":{"a":"2","b":"3"}}']), new RegExp(`configmap/${cm} patched`));
      let data = JSON.parse(await ok(['get', 'cm', cm, '-o', 'jsonpath={.data}'])) as Record<string, string>;
      assert.deepEqual(Object.keys(data).sort(), ['a', `app-${v}.properties`, 'b']);
      assert.equal(data['a'], '2');
      await ok(['patch', 'configmap', cm, '--type=strategic', '-p', '{"data":{"b":null}}']);
      data = JSON.parse(await ok(['get', 'cm', cm, '-o', 'jsonpath={.data}'])) as Record<string, string>;
      assert.equal(data['b'], undefined, 'null deletes the key');
      // kubectl edit runs $KUBE_EDITOR on the YAML and sends the difference as a strategic merge patch.
      const edited = await kubectlWithEnv(binary, ['edit', 'configmap', cm], { KUBE_EDITOR: `sed -i -e 's/^  a: "2"$/  a: edited/'` });
      assert.equal(edited.code, 0, edited.stderr);
      assert.match(edited.stdout, new RegExp(`configmap/${cm} edited`));
      assert.equal(await ok(['get', 'cm', cm, '-o', 'jsonpath={.data.a}']), 'edited');
    });

    test('an immutable configmap refuses a change with kube\'s message; its metadata still changes', async () => {
      const frozen = (a: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen-${v}}\nimmutable: true\ndata: {a: "${a}"}\n`;
      assert.match(await ok(['apply', '-f', '-'], frozen('1')), new RegExp(`configmap/frozen-${v} created`));
      const r = await k(['apply', '-f', '-'], frozen('2'));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`The ConfigMap "frozen-${v}" is invalid: data: Forbidden: field is immutable when \`immutable\` is set`));
      assert.equal(await ok(['get', 'cm', `frozen-${v}`, '-o', 'jsonpath={.data.a}']), '1');
      await ok(['label', 'cm', `frozen-${v}`, 'team=a']);
      // kubectl create checks keys itself; a manifest reaches the server's validation.
      const bad = await k(['apply', '-f', '-'], `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad-${v}}\ndata: {..a: "1"}\n`);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /data\[\.\.a\]: Invalid value: "\.\.a": must not start with '\.\.'/);
    });

    test('create --dry-run=client -o yaml piped to apply round-trips', async () => {
      const yaml = await ok(['create', 'configmap', `rt-${v}`, '--from-literal=k=v', '--dry-run=client', '-o', 'yaml']);
      assert.match(await ok(['apply', '-f', '-'], yaml), new RegExp(`configmap/rt-${v} created`));
      assert.equal(await ok(['get', 'cm', `rt-${v}`, '-o', 'jsonpath={.data.k}']), 'v');
      assert.match(await ok(['apply', '-f', '-'], yaml.replace('k: v', 'k: w')), new RegExp(`configmap/rt-${v} configured`));
      assert.equal(await ok(['get', 'cm', `rt-${v}`, '-o', 'jsonpath={.data.k}']), 'w');
    });

    test('create secret generic; jsonpath gives the base64 value; describe shows sizes, not values', async () => {
      const value = `pw-${v}-${process.pid}`;
      secretValues.push(value);
      assert.match(await ok(['create', 'secret', 'generic', `s1-${v}`, `--from-literal=p=${value}`]), new RegExp(`secret/s1-${v} created`));
      assert.equal(unb64(await ok(['get', 'secret', `s1-${v}`, '-o', 'jsonpath={.data.p}'])), value);
      const table = await ok(['get', 'secret', `s1-${v}`]);
      assert.match(table, /^NAME\s+TYPE\s+DATA\s+AGE$/m);
      assert.match(table, new RegExp(`^s1-${v}\\s+Opaque\\s+1\\s+\\d+s$`, 'm'));
      const described = await ok(['describe', 'secret', `s1-${v}`]);
      assert.match(described, /^Type:\s+Opaque$/m);
      assert.match(described, new RegExp(`^p:\\s+${value.length} bytes$`, 'm'));
      assert.ok(!described.includes(value) && !described.includes(b64(value)), 'describe printed the secret');
      // The round trip of the acceptance, for a Secret.
      const yaml = await ok(['create', 'secret', 'generic', `rts-${v}`, '--from-literal=x=y', '--dry-run=client', '-o', 'yaml']);
      assert.match(await ok(['apply', '-f', '-'], yaml), new RegExp(`secret/rts-${v} created`));
    });

    test('apply a Secret with stringData: stored in data, never as stringData; a change applies', async () => {
      const password = `hunter-${v}-${process.pid}`;
      secretValues.push(password, `${password}-2`);
      const manifest = (pw: string): string => `apiVersion: v1\nkind: Secret\nmetadata: {name: login-${v}}\ntype: kubernetes.io/basic-auth\nstringData:\n  username: admin\n  password: ${pw}\n`;
      assert.match(await ok(['apply', '-f', '-'], manifest(password)), new RegExp(`secret/login-${v} created`));
      assert.equal(unb64(await ok(['get', 'secret', `login-${v}`, '-o', 'jsonpath={.data.password}'])), password);
      assert.equal(await ok(['get', 'secret', `login-${v}`, '-o', 'jsonpath={.stringData}']), '');
      assert.match(await ok(['apply', '-f', '-'], manifest(`${password}-2`)), new RegExp(`secret/login-${v} configured`));
      assert.equal(unb64(await ok(['get', 'secret', `login-${v}`, '-o', 'jsonpath={.data.password}'])), `${password}-2`);
      assert.match(await ok(['get', 'secrets', '--field-selector', 'type=kubernetes.io/basic-auth']), new RegExp(`^login-${v}\\s+kubernetes\\.io/basic-auth\\s+2\\s`, 'm'));
      assert.doesNotMatch(await ok(['get', 'secrets', '--field-selector', 'type=Opaque']), new RegExp(`login-${v}`));
    });

    test('secret types are checked and fixed once created', async () => {
      const tls = (data: string): string => `apiVersion: v1\nkind: Secret\nmetadata: {name: tls-${v}}\ntype: kubernetes.io/tls\ndata: {${data}}\n`;
      let r = await k(['apply', '-f', '-'], tls(`tls.crt: ${b64('cert')}`));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`The Secret "tls-${v}" is invalid: data\\[tls.key\\]: Required value`));
      await ok(['apply', '-f', '-'], tls(`tls.crt: ${b64('cert')}, tls.key: ${b64('key')}`));
      r = await k(['apply', '-f', '-'], tls(`tls.crt: ${b64('cert')}, tls.key: ${b64('key')}`).replace('type: kubernetes.io/tls', 'type: Opaque'));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /type: Invalid value: "Opaque": field is immutable/);
      r = await k(['apply', '-f', '-'], tls('tls.crt: "not base64!", tls.key: ""'));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /illegal base64 data at input byte 3/);
    });

    test('every namespace has a default ServiceAccount, made again when deleted; describe works', async () => {
      const table = await ok(['get', 'sa']);
      assert.match(table, /^NAME\s+SECRETS\s+AGE$/m);
      assert.match(table, /^default\s+0\s+\S+$/m);
      const ns = `team-${v}`;
      await ok(['create', 'namespace', ns]);
      await waitUntil(`the default ServiceAccount in ${ns}`, async () => /^default\s+0\s/m.test((await k(['get', 'sa', '-n', ns])).stdout) || undefined);
      assert.match(await ok(['create', 'serviceaccount', 'builder', '-n', ns]), /serviceaccount\/builder created/);
      assert.match(await ok(['get', 'serviceaccounts', '-n', ns]), /^builder\s+0\s/m);
      const uid = await ok(['get', 'sa', 'default', '-n', ns, '-o', 'jsonpath={.metadata.uid}']);
      await ok(['delete', 'sa', 'default', '-n', ns]);
      await waitUntil('the default ServiceAccount made again', async () => {
        const r = await k(['get', 'sa', 'default', '-n', ns, '-o', 'jsonpath={.metadata.uid}']);
        return (r.code === 0 && r.stdout !== '' && r.stdout !== uid) || undefined;
      });
      const described = await ok(['describe', 'sa', 'default', '-n', ns]);
      assert.match(described, /^Name:\s+default$/m);
      assert.match(described, new RegExp(`^Namespace:\\s+${ns}$`, 'm'));
      assert.match(described, /^Mountable secrets:\s+<none>$/m);
      assert.match(described, /^Tokens:\s+<none>$/m);
      await ok(['delete', 'namespace', ns, '--timeout=30s']);
      const gone = await k(['get', 'namespace', ns]);
      assert.match(gone.stderr, /not found/, 'the namespace went away although its default ServiceAccount is kept');
    });
  });
}

test('no secret value reaches the API server log', () => {
  const log = readFileSync(join(clusterLayout(cluster.paths).logs, 'apiserver.log'), 'utf8');
  assert.match(log, /"path":"\/api\/v1\/namespaces\/default\/secrets"/, 'requests were logged');
  assert.ok(secretValues.length > 0);
  for (const value of secretValues) {
    assert.ok(!log.includes(value) && !log.includes(b64(value)), 'a secret value is in the API server log');
  }
});

/** kubectl with extra environment (KUBE_EDITOR), which the harness does not pass. */
function kubectlWithEnv(binary: string, args: string[], env: Record<string, string>): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(binary, ['--kubeconfig', cluster.state.kubeconfig, '--cache-dir', join(cluster.root, 'kubectl-cache'), ...args],
      { timeout: 30000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end();
  });
}
