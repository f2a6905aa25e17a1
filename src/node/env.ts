/**
 * A container's environment as kubelet builds it: `envFrom` sources in order (with their prefix), then `env`
 * (values from ConfigMap and Secret keys, the downward API and resource fields), each value expanded with
 * `$(VAR)` references to what came before; then the command and args expanded with the whole environment.
 * A missing ConfigMap, Secret or key that is not optional is a CreateContainerConfigError with kubelet's words.
 */
import { SandpodError } from '../errors.js';
import type { Container, KubeObject, PodSpec } from '../kube/index.js';
import { fieldValue, resourceValue, type PodFacts } from './downward.js';
import type { KeyedData } from './projection.js';

export interface EnvSources {
  configMap(name: string): KeyedData;
  secret(name: string): KeyedData;
}

/** Why a container's configuration cannot be built now (kubelet's CreateContainerConfigError). */
export class ContainerConfigError extends SandpodError {
  constructor(message: string) {
    super('FailedPrecondition', message);
    this.name = 'ContainerConfigError';
  }
}

/**
 * Expands `$(VAR)` with the variables given; `$$` is a literal `$`; a reference to an unknown variable stays
 * as written, as in Kubernetes.
 */
export function expand(input: string, vars: ReadonlyMap<string, string>): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch !== '$' || i + 1 >= input.length) { out += ch; continue; }
    const next = input[i + 1];
    if (next === '$') { out += '$'; i++; continue; }
    if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close === -1) { out += input.slice(i); break; }
      const name = input.slice(i + 2, close);
      out += vars.has(name) ? vars.get(name) : `$(${name})`;
      i = close;
      continue;
    }
    out += ch;
  }
  return out;
}

const text = (b: Buffer | undefined): string | undefined => b?.toString('utf8');

/** The environment of container `c`, in order, and the warnings kubelet would post as events. */
export function containerEnv(pod: KubeObject, spec: PodSpec, c: Container, facts: PodFacts, sources: EnvSources): { env: Array<[string, string]>; warnings: string[] } {
  const ns = pod.metadata.namespace ?? 'default';
  const vars = new Map<string, string>();
  const warnings: string[] = [];
  for (const from of c.envFrom ?? []) {
    const [kind, ref] = from.configMapRef ? ['ConfigMap', from.configMapRef] as const : ['Secret', from.secretRef] as const;
    if (!ref) continue;
    const data = kind === 'ConfigMap' ? sources.configMap(ref.name ?? '') : sources.secret(ref.name ?? '');
    if (!data) {
      if (ref.optional) continue;
      throw new ContainerConfigError(`${kind.toLowerCase()} "${ref.name ?? ''}" not found`);
    }
    const skipped: string[] = [];
    for (const [key, value] of Object.entries(data)) {
      const name = `${from.prefix ?? ''}${key}`;
      if (name.includes('=') || !/^[ -~]+$/.test(name)) { skipped.push(key); continue; }
      vars.set(name, text(value) ?? '');
    }
    if (skipped.length > 0) warnings.push(`Keys [${skipped.sort().join(', ')}] from the EnvFrom ${kind.toLowerCase()} ${ns}/${ref.name ?? ''} were skipped since they are considered invalid environment variable names.`);
  }
  for (const e of c.env ?? []) {
    const from = e.valueFrom;
    if (!from) { vars.set(e.name, expand(e.value ?? '', vars)); continue; }
    if (from.fieldRef) vars.set(e.name, fieldValue(from.fieldRef.fieldPath, pod, spec, facts));
    else if (from.resourceFieldRef) vars.set(e.name, resourceValue(from.resourceFieldRef, spec, c.name, facts));
    else {
      const [kind, ref] = from.configMapKeyRef ? ['ConfigMap', from.configMapKeyRef] as const : ['Secret', from.secretKeyRef] as const;
      if (!ref) continue;
      const data = kind === 'ConfigMap' ? sources.configMap(ref.name ?? '') : sources.secret(ref.name ?? '');
      const value = text(data?.[ref.key]);
      if (value === undefined) {
        if (ref.optional) continue;
        throw new ContainerConfigError(data ? `couldn't find key ${ref.key} in ${kind} ${ns}/${ref.name ?? ''}` : `${kind.toLowerCase()} "${ref.name ?? ''}" not found`);
      }
      vars.set(e.name, value);
    }
  }
  return { env: [...vars], warnings };
}

/** The container's command and args with `$(VAR)` references to its environment expanded. */
export function expandCommand(c: Container, env: Array<[string, string]>): { command: string[]; args: string[] } {
  const vars = new Map(env);
  return { command: (c.command ?? []).map((s) => expand(s, vars)), args: (c.args ?? []).map((s) => expand(s, vars)) };
}
