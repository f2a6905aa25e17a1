/**
 * Every file in examples/ reaches the state its header documents, applied with unmodified kubectl to a local
 * cluster, each in a namespace of its own. A header line says what to expect:
 *   # expect: ready                          every pod in the file becomes Ready
 *   # expect: rejected: TEXT                 kubectl apply fails and prints TEXT
 *   # expect: warning: TEXT                  kubectl apply succeeds and warns TEXT
 *   # expect: exec POD: SCRIPT ~ REGEX       `sh -c SCRIPT` in POD prints what REGEX matches (HOST_KERNEL: this host's release)
 * A file without an expectation fails the test, so a new example cannot go unchecked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './helpers.js';
import { localCluster } from './local-cluster.js';

const c = localCluster('examples');
const dir = join(repoRoot, 'examples');
const hostKernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim().replace(/[.]/g, '\\.');

type Expectation =
  | { kind: 'ready' }
  | { kind: 'rejected' | 'warning'; text: string }
  | { kind: 'exec'; pod: string; script: string; pattern: RegExp };

function expectations(text: string): Expectation[] {
  const out: Expectation[] = [];
  for (const line of text.split('\n')) {
    const m = /^# expect: (.*)$/.exec(line);
    if (!m) continue;
    const body = m[1]!;
    let x: RegExpExecArray | null;
    if (body === 'ready') out.push({ kind: 'ready' });
    else if ((x = /^(rejected|warning): (.+)$/.exec(body))) out.push({ kind: x[1] as 'rejected' | 'warning', text: x[2]! });
    else if ((x = /^exec ([a-z0-9-]+): (.+) ~ (.+)$/.exec(body))) out.push({ kind: 'exec', pod: x[1]!, script: x[2]!, pattern: new RegExp(x[3]!.replace('HOST_KERNEL', hostKernel)) });
    else throw new Error(`unreadable expectation: ${line}`);
  }
  return out;
}

for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
  test(`examples/${file} reaches its documented state`, async () => {
    const text = readFileSync(join(dir, file), 'utf8');
    const expected = expectations(text);
    assert.ok(expected.length > 0, `examples/${file} documents no expected state (# expect: …)`);
    const ns = `ex-${file.replace(/\.yaml$/, '').replace(/[^a-z0-9-]/g, '-')}`.slice(0, 63);
    await c.ok(['create', 'namespace', ns]);
    const applied = await c.kubectl(['apply', '-n', ns, '-f', join(dir, file)]);
    const rejected = expected.find((e) => e.kind === 'rejected');
    if (rejected?.kind === 'rejected') {
      assert.notEqual(applied.code, 0, `examples/${file} should be rejected`);
      assert.ok(applied.stderr.includes(rejected.text), `examples/${file}: expected "${rejected.text}" in: ${applied.stderr}`);
    } else {
      assert.equal(applied.code, 0, `kubectl apply -f examples/${file}: ${applied.stderr}`);
    }
    for (const e of expected) {
      if (e.kind === 'warning') assert.ok(applied.stderr.includes(e.text), `examples/${file}: expected the warning "${e.text}" in: ${applied.stderr}`);
    }
    if (expected.some((e) => e.kind === 'ready')) {
      const pods = parseAllDocuments(text).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } }).filter((o) => o?.kind === 'Pod').map((o) => `pod/${o.metadata?.name ?? ''}`);
      assert.ok(pods.length > 0, `examples/${file} expects ready pods but has none`);
      await c.ok(['wait', '-n', ns, '--for=condition=Ready', ...pods, '--timeout=240s']);
    }
    for (const e of expected) {
      if (e.kind !== 'exec') continue;
      const r = await c.kubectl(['exec', '-n', ns, e.pod, '--', 'sh', '-c', e.script]);
      assert.equal(r.code, 0, `examples/${file}: ${e.script}: ${r.stderr}`);
      assert.match(r.stdout.trim(), e.pattern, `examples/${file}: ${e.script}`);
    }
    await c.ok(['delete', 'namespace', ns, '--wait=false']);
  });
}
