/**
 * Semantic validation of a pod spec, kube-apiserver's ValidatePodSpec in the parts Sandpod serves: every rule
 * names its field path and uses kube's wording, so kubectl prints what a user of any cluster would read.
 * The spec arrives parsed by the shared schema (src/kube/pod.ts); this file only judges values.
 */
import { isIP } from 'node:net';
import {
  checkConfigKey, checkDns1123Label, checkDns1123Subdomain, checkLabels, duplicate, forbidden, invalidValue, notFoundValue, notSupported, quantityValue, required,
  type Container, type DownwardApiItem, type FieldError, type KeyToPath, type LifecycleHandler, type PodSpec, type Probe, type Volume,
} from '../../kube/index.js';

type Errs = FieldError[];

export const restartPolicies = ['Always', 'OnFailure', 'Never'] as const;
const protocols = ['TCP', 'UDP', 'SCTP'];
const tolerationOperators = ['Exists', 'Equal'];
const taintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];
const pullPolicies = ['Always', 'IfNotPresent', 'Never'];
const dnsPolicies = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const hostPathTypes = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];
const terminationMessagePolicies = ['File', 'FallbackToLogsOnError'];
const propagations = ['None', 'HostToContainer', 'Bidirectional'];
const schemes = ['HTTP', 'HTTPS'];
const maxPath = 4096;

/** Field paths an env var's fieldRef may name (kube's validEnvDownwardAPIFieldPathExpressions). */
export const envFieldPaths = [
  'metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName',
  'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs',
];
/** Field paths a downwardAPI volume item may name (kube's validVolumeDownwardAPIFieldPathExpressions). */
export const volumeFieldPaths = ['metadata.name', 'metadata.namespace', 'metadata.labels', 'metadata.annotations', 'metadata.uid'];
/** Resources a resourceFieldRef may name. */
export const fieldResources = ['limits.cpu', 'limits.memory', 'limits.ephemeral-storage', 'requests.cpu', 'requests.memory', 'requests.ephemeral-storage'];

/** Checks a map of resource quantities (requests, limits, overhead). */
export function checkResourceList(v: unknown, field: string): Errs {
  if (typeof v !== 'object' || v === null) return [];
  const errs: Errs = [];
  for (const [name, q] of Object.entries(v)) {
    const n = quantityValue(q);
    if (n === undefined) errs.push(invalidValue(`${field}[${name}]`, q, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
    else if (n < 0) errs.push(invalidValue(`${field}[${name}]`, q, 'must be greater than or equal to 0'));
  }
  return errs;
}

/** A relative path inside a volume or a container root: not absolute, no '..' element. */
function checkLocalPath(path: string, field: string): Errs {
  if (path.startsWith('/')) return [invalidValue(field, path, 'must be a relative path')];
  if (path.split('/').includes('..')) return [invalidValue(field, path, "must not contain '..'")];
  return [];
}

function checkMode(mode: number | undefined, field: string): Errs {
  return mode !== undefined && (mode < 0 || mode > 0o777) ? [invalidValue(field, mode, 'must be a number between 0 and 0777 (octal), both inclusive')] : [];
}

function checkPort(port: number | string, field: string, names: Set<string>): Errs {
  if (typeof port === 'number') return port < 1 || port > 65535 ? [invalidValue(field, port, 'must be between 1 and 65535, inclusive')] : [];
  if (!/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(port) || !/[a-z]/.test(port)) {
    return [invalidValue(field, port, 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-); must contain at least one letter (a-z); must be no more than 15 characters')];
  }
  return names.has(port) ? [] : [invalidValue(field, port, 'must be the name of a port of this container (spec.containers[*].ports[*].name)')];
}

function checkHandler(h: LifecycleHandler | Probe, field: string, ports: Set<string>): Errs {
  const kinds = (['exec', 'httpGet', 'tcpSocket', 'grpc', 'sleep'] as const).filter((k) => (h as Record<string, unknown>)[k] !== undefined);
  if (kinds.length === 0) return [required(field)].map((e) => ({ ...e, detail: 'Required value: must specify a handler type' }));
  if (kinds.length > 1) return [forbidden(`${field}.${kinds[1]!}`, 'may not specify more than 1 handler type')];
  const errs: Errs = [];
  if (h.exec && (h.exec.command ?? []).length === 0) errs.push(required(`${field}.exec.command`));
  if (h.httpGet) {
    errs.push(...checkPort(h.httpGet.port, `${field}.httpGet.port`, ports));
    if (h.httpGet.scheme !== undefined && !schemes.includes(h.httpGet.scheme)) errs.push(notSupported(`${field}.httpGet.scheme`, h.httpGet.scheme, schemes));
    (h.httpGet.httpHeaders ?? []).forEach((hd, i) => {
      if (!/^[-A-Za-z0-9!#$%&'*+.^_`|~]+$/.test(hd.name)) errs.push(invalidValue(`${field}.httpGet.httpHeaders[${i}].name`, hd.name, 'a valid HTTP header must consist of alphanumeric characters or \'-\''));
    });
  }
  if (h.tcpSocket) errs.push(...checkPort(h.tcpSocket.port, `${field}.tcpSocket.port`, ports));
  if ('grpc' in h && h.grpc) errs.push(...checkPort(h.grpc.port, `${field}.grpc.port`, ports));
  if ('sleep' in h && h.sleep && h.sleep.seconds < 0) errs.push(invalidValue(`${field}.sleep.seconds`, h.sleep.seconds, 'must be greater than or equal to 0'));
  return errs;
}

function checkProbe(p: Probe | undefined, field: string, ports: Set<string>, kind: 'liveness' | 'readiness' | 'startup'): Errs {
  if (!p) return [];
  const errs = checkHandler(p, field, ports);
  const positive: Array<[keyof Probe, number]> = [['initialDelaySeconds', 0], ['timeoutSeconds', 1], ['periodSeconds', 1], ['successThreshold', 1], ['failureThreshold', 1]];
  for (const [key, min] of positive) {
    const v = p[key];
    if (typeof v === 'number' && v < min) errs.push(invalidValue(`${field}.${key}`, v, `must be greater than or equal to ${min}`));
  }
  if (kind !== 'readiness' && p.successThreshold !== undefined && p.successThreshold !== 1) errs.push(invalidValue(`${field}.successThreshold`, p.successThreshold, 'must be 1'));
  if (kind === 'readiness' && p.terminationGracePeriodSeconds !== undefined) errs.push(invalidValue(`${field}.terminationGracePeriodSeconds`, p.terminationGracePeriodSeconds, 'must not be set for readinessProbes'));
  if (p.terminationGracePeriodSeconds !== undefined && p.terminationGracePeriodSeconds < 1) errs.push(invalidValue(`${field}.terminationGracePeriodSeconds`, p.terminationGracePeriodSeconds, 'must be greater than 0'));
  return errs;
}

const subscripted = (path: string): boolean => /^metadata\.(labels|annotations)\['[^']+'\]$/.test(path);

function checkFieldRef(path: string, field: string, allowed: string[]): Errs {
  if (subscripted(path) || allowed.includes(path)) return [];
  return [notSupported(`${field}.fieldPath`, path, [...allowed, ...(allowed.includes('metadata.labels') ? [] : ["metadata.labels['<KEY>']", "metadata.annotations['<KEY>']"])])];
}

function checkResourceRef(ref: { containerName?: string; resource: string; divisor?: string | number }, field: string, containers: Set<string>, needContainer: boolean): Errs {
  const errs: Errs = [];
  if (needContainer && !ref.containerName) errs.push(required(`${field}.containerName`));
  else if (ref.containerName && !containers.has(ref.containerName)) errs.push(notSupported(`${field}.containerName`, ref.containerName, [...containers]));
  if (!fieldResources.includes(ref.resource)) errs.push(notSupported(`${field}.resource`, ref.resource, fieldResources));
  if (ref.divisor !== undefined) {
    const d = quantityValue(ref.divisor);
    const cpu = ref.resource.endsWith('.cpu');
    const ok = d !== undefined && (cpu ? [1, 1e-3].includes(d) : [1, 1e3, 1e6, 1e9, 1e12, 1e15, 1e18, 2 ** 10, 2 ** 20, 2 ** 30, 2 ** 40, 2 ** 50, 2 ** 60].includes(d));
    if (!ok) errs.push(invalidValue(`${field}.divisor`, ref.divisor, cpu ? 'only divisor\'s values 1m and 1 are supported with the cpu resource' : 'only divisor\'s values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource'));
  }
  return errs;
}

function checkItems(items: KeyToPath[] | undefined, field: string, paths: Set<string>): Errs {
  const errs: Errs = [];
  (items ?? []).forEach((it, i) => {
    const f = `${field}.items[${i}]`;
    if (!it.key) errs.push(required(`${f}.key`));
    else errs.push(...checkConfigKey(it.key).map((bad) => invalidValue(`${f}.key`, it.key, bad)));
    if (!it.path) errs.push(required(`${f}.path`));
    else {
      errs.push(...checkLocalPath(it.path, `${f}.path`));
      if (paths.has(it.path)) errs.push(duplicate(`${f}.path`, it.path));
      paths.add(it.path);
    }
    errs.push(...checkMode(it.mode, `${f}.mode`));
  });
  return errs;
}

function checkDownwardItems(items: DownwardApiItem[] | undefined, field: string, containers: Set<string>, paths: Set<string>): Errs {
  const errs: Errs = [];
  (items ?? []).forEach((it, i) => {
    const f = `${field}.items[${i}]`;
    if (!it.path) errs.push(required(`${f}.path`));
    else {
      errs.push(...checkLocalPath(it.path, `${f}.path`));
      if (paths.has(it.path)) errs.push(duplicate(`${f}.path`, it.path));
      paths.add(it.path);
    }
    if (!!it.fieldRef === !!it.resourceFieldRef) errs.push(invalidValue(f, 'fieldRef', 'fieldRef and resourceFieldRef can not be specified simultaneously'));
    if (it.fieldRef) errs.push(...checkFieldRef(it.fieldRef.fieldPath, `${f}.fieldRef`, volumeFieldPaths));
    if (it.resourceFieldRef) errs.push(...checkResourceRef(it.resourceFieldRef, `${f}.resourceFieldRef`, containers, true));
    errs.push(...checkMode(it.mode, `${f}.mode`));
  });
  return errs;
}

/** The sources a volume names (exactly one is valid). */
export function volumeSources(v: Volume): string[] {
  return Object.keys(v).filter((k) => k !== 'name' && (v as Record<string, unknown>)[k] !== undefined);
}

function checkVolume(v: Volume, field: string, containers: Set<string>): Errs {
  const errs: Errs = [];
  const sources = volumeSources(v);
  if (sources.length === 0) errs.push({ ...required(field), detail: 'Required value: must specify a volume type' });
  if (sources.length > 1) errs.push(forbidden(`${field}.${sources[1]!}`, 'may not specify more than 1 volume type'));
  if (v.configMap) {
    if (!v.configMap.name) errs.push(required(`${field}.configMap.name`));
    errs.push(...checkItems(v.configMap.items, `${field}.configMap`, new Set()), ...checkMode(v.configMap.defaultMode, `${field}.configMap.defaultMode`));
  }
  if (v.secret) {
    if (!v.secret.secretName) errs.push(required(`${field}.secret.secretName`));
    errs.push(...checkItems(v.secret.items, `${field}.secret`, new Set()), ...checkMode(v.secret.defaultMode, `${field}.secret.defaultMode`));
  }
  if (v.downwardAPI) {
    errs.push(...checkDownwardItems(v.downwardAPI.items, `${field}.downwardAPI`, containers, new Set()), ...checkMode(v.downwardAPI.defaultMode, `${field}.downwardAPI.defaultMode`));
  }
  if (v.projected) {
    const paths = new Set<string>();
    errs.push(...checkMode(v.projected.defaultMode, `${field}.projected.defaultMode`));
    (v.projected.sources ?? []).forEach((s, i) => {
      const f = `${field}.projected.sources[${i}]`;
      const kinds = Object.keys(s).filter((k) => (s as Record<string, unknown>)[k] !== undefined);
      if (kinds.length !== 1) errs.push(forbidden(f, 'may not specify more than 1 volume type per source'));
      if (s.configMap) {
        if (!s.configMap.name) errs.push(required(`${f}.configMap.name`));
        errs.push(...checkItems(s.configMap.items, `${f}.configMap`, paths));
      }
      if (s.secret) {
        if (!s.secret.name) errs.push(required(`${f}.secret.name`));
        errs.push(...checkItems(s.secret.items, `${f}.secret`, paths));
      }
      if (s.downwardAPI) errs.push(...checkDownwardItems(s.downwardAPI.items, `${f}.downwardAPI`, containers, paths));
    });
  }
  if (v.hostPath) {
    if (!v.hostPath.path) errs.push(required(`${field}.hostPath.path`));
    else if (v.hostPath.path.split('/').includes('..')) errs.push(invalidValue(`${field}.hostPath.path`, v.hostPath.path, "must not contain '..'"));
    if (v.hostPath.type !== undefined && !hostPathTypes.includes(v.hostPath.type)) errs.push(notSupported(`${field}.hostPath.type`, v.hostPath.type, hostPathTypes));
  }
  if (v.emptyDir) {
    const medium = v.emptyDir.medium ?? '';
    if (!['', 'Memory'].includes(medium) && !medium.startsWith('HugePages')) errs.push(notSupported(`${field}.emptyDir.medium`, medium, ['', 'Memory', 'HugePages']));
    if (v.emptyDir.sizeLimit !== undefined) errs.push(...checkResourceList({ sizeLimit: v.emptyDir.sizeLimit }, `${field}.emptyDir`).map((e) => ({ ...e, field: `${field}.emptyDir.sizeLimit` })));
  }
  return errs;
}

const envName = /^[ -<>-~]+$/;

function checkEnv(c: Container, field: string, containers: Set<string>): Errs {
  const errs: Errs = [];
  (c.env ?? []).forEach((e, i) => {
    const f = `${field}.env[${i}]`;
    if (!e.name) errs.push(required(`${f}.name`));
    else if (!envName.test(e.name)) errs.push(invalidValue(`${f}.name`, e.name, "a valid environment variable name must consist only of printable ASCII characters other than '='"));
    const from = e.valueFrom;
    if (!from) return;
    const kinds = Object.keys(from).filter((k) => (from as Record<string, unknown>)[k] !== undefined);
    if (kinds.length === 0) errs.push({ ...required(`${f}.valueFrom`), detail: 'Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`' });
    if (kinds.length > 1) errs.push(invalidValue(`${f}.valueFrom`, '', 'may not have more than one field specified at a time'));
    if (e.value) errs.push(invalidValue(`${f}.valueFrom`, '', 'may not be specified when `value` is not empty'));
    if (from.fieldRef) errs.push(...checkFieldRef(from.fieldRef.fieldPath, `${f}.valueFrom.fieldRef`, envFieldPaths));
    if (from.resourceFieldRef) errs.push(...checkResourceRef(from.resourceFieldRef, `${f}.valueFrom.resourceFieldRef`, containers, false));
    for (const [kind, ref] of [['configMapKeyRef', from.configMapKeyRef], ['secretKeyRef', from.secretKeyRef]] as const) {
      if (!ref) continue;
      if (!ref.name) errs.push(required(`${f}.valueFrom.${kind}.name`));
      if (!ref.key) errs.push(required(`${f}.valueFrom.${kind}.key`));
      else errs.push(...checkConfigKey(ref.key).map((bad) => invalidValue(`${f}.valueFrom.${kind}.key`, ref.key, bad)));
    }
    if (from.fileKeyRef !== undefined) errs.push(forbidden(`${f}.valueFrom.fileKeyRef`, 'fileKeyRef is an alpha feature Sandpod does not serve; use configMapKeyRef or secretKeyRef'));
  });
  (c.envFrom ?? []).forEach((s, i) => {
    const f = `${field}.envFrom[${i}]`;
    if (!!s.configMapRef === !!s.secretRef) errs.push(invalidValue(f, '', 'may not have more than one field specified at a time'));
    if (s.configMapRef && !s.configMapRef.name) errs.push(required(`${f}.configMapRef.name`));
    if (s.secretRef && !s.secretRef.name) errs.push(required(`${f}.secretRef.name`));
    if (s.prefix !== undefined && s.prefix !== '' && !envName.test(s.prefix)) errs.push(invalidValue(`${f}.prefix`, s.prefix, "a valid environment variable name must consist only of printable ASCII characters other than '='"));
  });
  return errs;
}

function checkMounts(c: Container, field: string, volumes: Map<string, Volume>): Errs {
  const errs: Errs = [];
  const paths = new Set<string>();
  const privileged = c.securityContext?.privileged === true;
  (c.volumeMounts ?? []).forEach((m, i) => {
    const f = `${field}.volumeMounts[${i}]`;
    if (!m.name) errs.push(required(`${f}.name`));
    else if (!volumes.has(m.name)) errs.push(notFoundValue(`${f}.name`, m.name));
    if (!m.mountPath) errs.push(required(`${f}.mountPath`));
    else {
      if (!m.mountPath.startsWith('/')) errs.push(invalidValue(`${f}.mountPath`, m.mountPath, 'must be an absolute path'));
      if (m.mountPath.length > maxPath) errs.push(invalidValue(`${f}.mountPath`, m.mountPath, `must be no more than ${maxPath} characters`));
      if (paths.has(m.mountPath)) errs.push(invalidValue(`${f}.mountPath`, m.mountPath, 'must be unique'));
      paths.add(m.mountPath);
    }
    if (m.subPath) errs.push(...checkLocalPath(m.subPath, `${f}.subPath`));
    if (m.subPathExpr) {
      errs.push(...checkLocalPath(m.subPathExpr, `${f}.subPathExpr`));
      if (m.subPath) errs.push(invalidValue(`${f}.subPathExpr`, m.subPathExpr, 'subPathExpr and subPath are mutually exclusive'));
    }
    if (m.mountPropagation !== undefined) {
      if (!propagations.includes(m.mountPropagation)) errs.push(notSupported(`${f}.mountPropagation`, m.mountPropagation, propagations));
      else if (m.mountPropagation === 'Bidirectional' && !privileged) errs.push(forbidden(`${f}.mountPropagation`, 'Bidirectional mount propagation is available only to privileged containers'));
    }
    if (m.recursiveReadOnly !== undefined) {
      const modes = ['Disabled', 'IfPossible', 'Enabled'];
      if (!modes.includes(m.recursiveReadOnly)) errs.push(notSupported(`${f}.recursiveReadOnly`, m.recursiveReadOnly, modes));
      else if (m.recursiveReadOnly !== 'Disabled' && !m.readOnly) errs.push(forbidden(`${f}.recursiveReadOnly`, 'may only be specified when readOnly is true'));
    }
  });
  return errs;
}

function checkContainer(c: Container, field: string, o: { seen: Set<string>; volumes: Map<string, Volume>; containers: Set<string>; init: boolean }): Errs {
  const errs: Errs = [];
  if (!c.name) errs.push(required(`${field}.name`));
  else {
    const bad = checkDns1123Label(c.name);
    if (bad) errs.push(invalidValue(`${field}.name`, c.name, bad));
    if (o.seen.has(c.name)) errs.push(duplicate(`${field}.name`, c.name));
    o.seen.add(c.name);
  }
  if (!c.image || c.image.trim() === '') errs.push(required(`${field}.image`));
  const portNames = new Set<string>();
  (c.ports ?? []).forEach((p, i) => {
    const pf = `${field}.ports[${i}]`;
    if (p.containerPort < 1 || p.containerPort > 65535) errs.push(invalidValue(`${pf}.containerPort`, p.containerPort, 'must be between 1 and 65535, inclusive'));
    if (p.hostPort !== undefined && (p.hostPort < 0 || p.hostPort > 65535)) errs.push(invalidValue(`${pf}.hostPort`, p.hostPort, 'must be between 1 and 65535, inclusive'));
    if (p.protocol !== undefined && !protocols.includes(p.protocol)) errs.push(notSupported(`${pf}.protocol`, p.protocol, protocols));
    if (p.name !== undefined) {
      if (portNames.has(p.name)) errs.push(duplicate(`${pf}.name`, p.name));
      portNames.add(p.name);
    }
  });
  errs.push(...checkResourceList(c.resources?.requests, `${field}.resources.requests`));
  errs.push(...checkResourceList(c.resources?.limits, `${field}.resources.limits`));
  for (const [name, req] of Object.entries(c.resources?.requests ?? {})) {
    const lim = c.resources?.limits?.[name];
    const r = quantityValue(req);
    const l = lim === undefined ? undefined : quantityValue(lim);
    if (r !== undefined && l !== undefined && r > l) errs.push(invalidValue(`${field}.resources.requests`, String(req), `must be less than or equal to ${name} limit of ${String(lim)}`));
  }
  errs.push(...checkEnv(c, field, o.containers), ...checkMounts(c, field, o.volumes));
  const sidecar = o.init && c.restartPolicy === 'Always';
  if (c.restartPolicy !== undefined && !(o.init && c.restartPolicy === 'Always')) {
    errs.push(o.init ? notSupported(`${field}.restartPolicy`, c.restartPolicy, ['Always']) : forbidden(`${field}.restartPolicy`, 'may not be set for non-init containers'));
  }
  const probes = [['livenessProbe', c.livenessProbe, 'liveness'], ['readinessProbe', c.readinessProbe, 'readiness'], ['startupProbe', c.startupProbe, 'startup']] as const;
  for (const [key, p, kind] of probes) {
    if (p && o.init && !sidecar) errs.push(forbidden(`${field}.${key}`, 'may not be set for init containers without restartPolicy=Always'));
    else errs.push(...checkProbe(p, `${field}.${key}`, portNames, kind));
  }
  if (c.lifecycle) {
    if (o.init && !sidecar) errs.push(forbidden(`${field}.lifecycle`, 'may not be set for init containers without restartPolicy=Always'));
    for (const key of ['postStart', 'preStop'] as const) {
      const h = c.lifecycle[key];
      if (h) errs.push(...checkHandler(h, `${field}.lifecycle.${key}`, portNames));
    }
  }
  if (c.terminationMessagePolicy !== undefined && !terminationMessagePolicies.includes(c.terminationMessagePolicy)) {
    errs.push(notSupported(`${field}.terminationMessagePolicy`, c.terminationMessagePolicy, terminationMessagePolicies));
  }
  if (c.terminationMessagePath !== undefined && !c.terminationMessagePath.startsWith('/')) errs.push(invalidValue(`${field}.terminationMessagePath`, c.terminationMessagePath, 'must be an absolute path'));
  if (c.imagePullPolicy !== undefined && !pullPolicies.includes(c.imagePullPolicy)) errs.push(notSupported(`${field}.imagePullPolicy`, c.imagePullPolicy, pullPolicies));
  const sc = c.securityContext;
  if (sc) {
    if (sc.privileged && sc.allowPrivilegeEscalation === false) errs.push(invalidValue(`${field}.securityContext`, sc, 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true'));
    for (const key of ['runAsUser', 'runAsGroup'] as const) {
      const v = sc[key];
      if (v !== undefined && (v < 0 || v > 2147483647)) errs.push(invalidValue(`${field}.securityContext.${key}`, v, 'must be between 0 and 2147483647, inclusive'));
    }
    for (const list of ['add', 'drop'] as const) {
      (sc.capabilities?.[list] ?? []).forEach((cap, i) => {
        if (!/^(CAP_)?[A-Z_]+$/.test(cap) && cap !== 'ALL') errs.push(invalidValue(`${field}.securityContext.capabilities.${list}[${i}]`, cap, 'must be a capability name such as NET_ADMIN, or ALL'));
      });
    }
  }
  return errs;
}

/** kube's rules for a pod spec; `field` is where the spec sits ('spec', or 'spec.template.spec' in a workload). */
export function validatePodSpec(spec: PodSpec, field = 'spec'): Errs {
  const errs: Errs = [];
  const volumes = new Map<string, Volume>();
  const names = new Set([...(spec.initContainers ?? []), ...spec.containers].map((c) => c.name));
  (spec.volumes ?? []).forEach((v, i) => {
    const f = `${field}.volumes[${i}]`;
    if (!v.name) errs.push(required(`${f}.name`));
    else {
      const bad = checkDns1123Label(v.name);
      if (bad) errs.push(invalidValue(`${f}.name`, v.name, bad));
      if (volumes.has(v.name)) errs.push(duplicate(`${f}.name`, v.name));
      volumes.set(v.name, v);
    }
    errs.push(...checkVolume(v, f, names));
  });
  const seen = new Set<string>();
  if (spec.containers.length === 0) errs.push(required(`${field}.containers`));
  (spec.initContainers ?? []).forEach((c, i) => errs.push(...checkContainer(c, `${field}.initContainers[${i}]`, { seen, volumes, containers: names, init: true })));
  spec.containers.forEach((c, i) => errs.push(...checkContainer(c, `${field}.containers[${i}]`, { seen, volumes, containers: names, init: false })));
  if (spec.restartPolicy !== undefined && !(restartPolicies as readonly string[]).includes(spec.restartPolicy)) {
    errs.push(notSupported(`${field}.restartPolicy`, spec.restartPolicy, restartPolicies));
  }
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds < 1) errs.push(invalidValue(`${field}.activeDeadlineSeconds`, spec.activeDeadlineSeconds, 'must be between 1 and 2147483647, inclusive'));
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds < 0) {
    errs.push(invalidValue(`${field}.terminationGracePeriodSeconds`, spec.terminationGracePeriodSeconds, 'must be greater than or equal to 0'));
  }
  if (spec.dnsPolicy !== undefined && !dnsPolicies.includes(spec.dnsPolicy)) errs.push(notSupported(`${field}.dnsPolicy`, spec.dnsPolicy, dnsPolicies));
  const dns = spec.dnsConfig;
  if (spec.dnsPolicy === 'None' && (dns?.nameservers ?? []).length === 0) errs.push({ ...required(`${field}.dnsConfig.nameservers`), detail: 'Required value: must provide at least one DNS nameserver when DNSPolicy is set to \'None\'' });
  if (dns) {
    if ((dns.nameservers ?? []).length > 3) errs.push(invalidValue(`${field}.dnsConfig.nameservers`, dns.nameservers, 'must not have more than 3 nameservers'));
    (dns.nameservers ?? []).forEach((n, i) => { if (!isIP(n)) errs.push(invalidValue(`${field}.dnsConfig.nameservers[${i}]`, n, 'must be a valid IP address')); });
    if ((dns.searches ?? []).length > 32) errs.push(invalidValue(`${field}.dnsConfig.searches`, dns.searches, 'must not have more than 32 search paths'));
    (dns.searches ?? []).forEach((s, i) => { const bad = checkDns1123Subdomain(s.replace(/\.$/, '')); if (bad) errs.push(invalidValue(`${field}.dnsConfig.searches[${i}]`, s, bad)); });
  }
  for (const key of ['hostname', 'subdomain'] as const) {
    const v = spec[key];
    if (v) { const bad = checkDns1123Label(v); if (bad) errs.push(invalidValue(`${field}.${key}`, v, bad)); }
  }
  (spec.hostAliases ?? []).forEach((h, i) => {
    if (!isIP(h.ip)) errs.push(invalidValue(`${field}.hostAliases[${i}].ip`, h.ip, 'must be a valid IP address'));
    (h.hostnames ?? []).forEach((n, j) => { const bad = checkDns1123Subdomain(n); if (bad) errs.push(invalidValue(`${field}.hostAliases[${i}].hostnames[${j}]`, n, bad)); });
  });
  (spec.readinessGates ?? []).forEach((g, i) => {
    if (!/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(g.conditionType)) errs.push(invalidValue(`${field}.readinessGates[${i}].conditionType`, g.conditionType, 'must be a qualified name'));
  });
  const psc = spec.securityContext;
  if (psc) {
    for (const key of ['runAsUser', 'runAsGroup', 'fsGroup'] as const) {
      const v = psc[key];
      if (v !== undefined && (v < 0 || v > 2147483647)) errs.push(invalidValue(`${field}.securityContext.${key}`, v, 'must be between 0 and 2147483647, inclusive'));
    }
    (psc.supplementalGroups ?? []).forEach((g, i) => { if (g < 0 || g > 2147483647) errs.push(invalidValue(`${field}.securityContext.supplementalGroups[${i}]`, g, 'must be between 0 and 2147483647, inclusive')); });
    if (psc.fsGroupChangePolicy !== undefined && !['OnRootMismatch', 'Always'].includes(psc.fsGroupChangePolicy)) errs.push(notSupported(`${field}.securityContext.fsGroupChangePolicy`, psc.fsGroupChangePolicy, ['OnRootMismatch', 'Always']));
    const sysctls = new Set<string>();
    (psc.sysctls ?? []).forEach((s, i) => {
      if (!/^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$/.test(s.name)) errs.push(invalidValue(`${field}.securityContext.sysctls[${i}].name`, s.name, "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"));
      if (sysctls.has(s.name)) errs.push(duplicate(`${field}.securityContext.sysctls[${i}].name`, s.name));
      sysctls.add(s.name);
    });
  }
  errs.push(...checkResourceList(spec.overhead, `${field}.overhead`));
  errs.push(...checkLabels(spec.nodeSelector, `${field}.nodeSelector`));
  (spec.tolerations ?? []).forEach((t, i) => {
    if (t.operator !== undefined && !tolerationOperators.includes(t.operator)) errs.push(notSupported(`${field}.tolerations[${i}].operator`, t.operator, tolerationOperators));
    if (t.effect !== undefined && t.effect !== '' && !taintEffects.includes(t.effect)) errs.push(notSupported(`${field}.tolerations[${i}].effect`, t.effect, taintEffects));
    if (t.operator === 'Exists' && t.value) errs.push(invalidValue(`${field}.tolerations[${i}].operator`, t.value, 'value must be empty when `operator` is \'Exists\''));
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') errs.push(invalidValue(`${field}.tolerations[${i}].effect`, t.effect ?? '', 'effect must be \'NoExecute\' when `tolerationSeconds` is set'));
  });
  const gates = new Set<string>();
  (spec.schedulingGates ?? []).forEach((g, i) => {
    if (gates.has(g.name)) errs.push(duplicate(`${field}.schedulingGates[${i}].name`, g.name));
    gates.add(g.name);
  });
  return errs;
}
