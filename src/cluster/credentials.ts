/**
 * `get-credentials`: a cluster's administrator credentials merged into a kubeconfig file as the managed service's
 * CLI does it (a cluster, a user and a context named after the cluster; the context made current), replacing
 * entries of the same names and leaving every other entry as it was.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { failedPrecondition } from '../errors.js';

export interface Credentials {
  /** The name of the cluster, user and context entries. */
  context: string;
  user: string;
  server: string;
  /** The cluster CA, base64 as kubeconfig carries it. */
  caData: string;
  token: string;
}

const named = z.object({ name: z.string() }).passthrough();
const kubeconfigSchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  clusters: z.array(named).nullish(),
  users: z.array(named).nullish(),
  contexts: z.array(named).nullish(),
  'current-context': z.string().nullish(),
  preferences: z.record(z.string(), z.unknown()).nullish(),
}).passthrough();

const sandpodKubeconfig = z.object({
  clusters: z.array(z.object({ name: z.string(), cluster: z.object({ server: z.string(), 'certificate-authority-data': z.string() }).passthrough() })).min(1),
  users: z.array(z.object({ name: z.string(), user: z.object({ token: z.string() }).passthrough() })).min(1),
}).passthrough();

/** The credentials in a kubeconfig Sandpod wrote for a cluster, under the names the managed service would use. */
export function credentialsFrom(kubeconfigFile: string, resourceGroup: string, name: string): Credentials {
  const parsed = sandpodKubeconfig.safeParse(parse(readFileSync(kubeconfigFile, 'utf8')));
  if (!parsed.success) throw failedPrecondition(kubeconfigFile, `${kubeconfigFile} is not a kubeconfig Sandpod wrote; start the cluster again to rewrite it`);
  const { cluster } = parsed.data.clusters[0]!;
  return { context: name, user: `clusterAdmin_${resourceGroup}_${name}`, server: cluster.server, caData: cluster['certificate-authority-data'], token: parsed.data.users[0]!.user.token };
}

/** Where get-credentials writes without --file: the first file of $KUBECONFIG, else ~/.kube/config (as kubectl). */
export function defaultKubeconfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const first = (env['KUBECONFIG'] ?? '').split(delimiter).find((p) => p !== '');
  return first ?? join(homedir(), '.kube', 'config');
}

/** Merges the credentials into `file` (created if missing) and makes their context current. Returns whether entries were replaced. */
export function mergeKubeconfig(file: string, creds: Credentials): { replaced: boolean } {
  let doc: z.infer<typeof kubeconfigSchema> = { apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [], preferences: {} };
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    const parsed = kubeconfigSchema.safeParse(text.trim() === '' ? {} : parse(text));
    if (!parsed.success) throw failedPrecondition(file, `${file} is not a kubeconfig (${parsed.error.issues[0]?.message ?? 'unknown shape'}); fix it or pass --file PATH`);
    doc = { apiVersion: 'v1', kind: 'Config', ...parsed.data };
  }
  let replaced = false;
  const put = <T extends { name: string }>(list: T[] | null | undefined, entry: T): T[] => {
    const rest = (list ?? []).filter((e) => e.name !== entry.name);
    if (rest.length !== (list ?? []).length) replaced = true;
    return [...rest, entry];
  };
  doc.clusters = put(doc.clusters, { name: creds.context, cluster: { server: creds.server, 'certificate-authority-data': creds.caData } });
  doc.users = put(doc.users, { name: creds.user, user: { token: creds.token } });
  doc.contexts = put(doc.contexts, { name: creds.context, context: { cluster: creds.context, user: creds.user } });
  doc['current-context'] = creds.context;
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, stringify(doc), { mode: 0o600 });
  renameSync(tmp, file);
  return { replaced };
}

/** The credentials as a kubeconfig of their own (for `--file -`). */
export function kubeconfigText(creds: Credentials): string {
  return stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: creds.context, cluster: { server: creds.server, 'certificate-authority-data': creds.caData } }],
    users: [{ name: creds.user, user: { token: creds.token } }],
    contexts: [{ name: creds.context, context: { cluster: creds.context, user: creds.user } }],
    'current-context': creds.context,
  });
}
