/** The parts of an OCI runtime spec (bundle config.json, exec process Any) the shim uses, validated. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { invalid } from '../errors.js';

export const ociProcessSchema = z.object({
  terminal: z.boolean().optional(),
  args: z.array(z.string()).min(1),
  env: z.array(z.string()).optional(),
  cwd: z.string().optional(),
  consoleSize: z.object({ height: z.number(), width: z.number() }).optional(),
  user: z.object({ uid: z.number().int().nonnegative(), gid: z.number().int().nonnegative(), additionalGids: z.array(z.number().int().nonnegative()).optional() }).passthrough().optional(),
  capabilities: z.object({ bounding: z.array(z.string()).optional(), effective: z.array(z.string()).optional() }).passthrough().optional(),
  noNewPrivileges: z.boolean().optional(),
}).passthrough();
export type OciProcess = z.infer<typeof ociProcessSchema>;

const linuxResourcesSchema = z.object({
  cpu: z.object({ quota: z.number().optional(), period: z.number().optional() }).passthrough().optional(),
  memory: z.object({ limit: z.number().optional() }).passthrough().optional(),
  pids: z.object({ limit: z.number().optional() }).passthrough().optional(),
}).passthrough();
export type LinuxResources = z.infer<typeof linuxResourcesSchema>;

const specSchema = z.object({
  process: ociProcessSchema,
  root: z.object({ path: z.string(), readonly: z.boolean().optional() }).passthrough().optional(),
  hostname: z.string().optional(),
  mounts: z.array(z.object({ destination: z.string(), type: z.string().optional(), source: z.string().optional(), options: z.array(z.string()).optional() }).passthrough()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  linux: z.object({
    resources: linuxResourcesSchema.optional(),
    namespaces: z.array(z.object({ type: z.string(), path: z.string().optional() }).passthrough()).optional(),
    sysctl: z.record(z.string(), z.string()).optional(),
    maskedPaths: z.array(z.string()).nullish(),
    readonlyPaths: z.array(z.string()).nullish(),
    /** Checked and compiled by seccomp/compile.ts. */
    seccomp: z.unknown().optional(),
    devices: z.array(z.object({
      path: z.string(), type: z.string(), major: z.number().int().optional(), minor: z.number().int().optional(),
    }).passthrough()).optional(),
  }).passthrough().optional(),
}).passthrough();
export type OciSpec = z.infer<typeof specSchema>;
export type OciMount = NonNullable<OciSpec['mounts']>[number];

export async function readBundleSpec(bundle: string, object: string): Promise<OciSpec> {
  let text: string;
  try {
    text = await readFile(join(bundle, 'config.json'), 'utf8');
  } catch (err) {
    throw invalid(object, `cannot read ${bundle}/config.json`, err);
  }
  const parsed = specSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw invalid(object, `the bundle's config.json is not a usable OCI spec: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** The LinuxResources JSON of an Update request (CRI's UpdateContainerResources). */
export function parseLinuxResources(json: Buffer, object: string): LinuxResources {
  const parsed = linuxResourcesSchema.safeParse(JSON.parse(json.toString('utf8')));
  if (!parsed.success) throw invalid(object, `update resources are invalid: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export function parseOciProcess(json: Buffer, object: string): OciProcess {
  const parsed = ociProcessSchema.safeParse(JSON.parse(json.toString('utf8')));
  if (!parsed.success) throw invalid(object, `exec process spec is invalid: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
