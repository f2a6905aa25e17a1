/**
 * The part of a Pod the node agent acts on, validated: the API server has admitted the pod, but the agent
 * still checks what it reads before handing it to the container runtime.
 */
import { z } from 'zod';
import { invalid } from '../errors.js';
import type { KubeObject } from '../kube/index.js';

const quantity = z.union([z.string(), z.number()]).transform(String);
const resourceList = z.record(z.string(), quantity);

const execAction = z.object({ command: z.array(z.string()).min(1) }).passthrough();
const probeSchema = z.object({
  exec: execAction.optional(),
  tcpSocket: z.object({ port: z.union([z.number().int(), z.string()]), host: z.string().optional() }).passthrough().optional(),
  initialDelaySeconds: z.number().int().nonnegative().default(0),
  periodSeconds: z.number().int().positive().default(10),
  timeoutSeconds: z.number().int().positive().default(1),
  failureThreshold: z.number().int().positive().default(3),
  successThreshold: z.number().int().positive().default(1),
}).passthrough();
export type Probe = z.infer<typeof probeSchema>;

const containerSchema = z.object({
  name: z.string().min(1),
  image: z.string().min(1),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  env: z.array(z.object({ name: z.string(), value: z.string().optional() }).passthrough()).optional(),
  ports: z.array(z.object({ containerPort: z.number().int(), name: z.string().optional() }).passthrough()).optional(),
  resources: z.object({ limits: resourceList.optional(), requests: resourceList.optional() }).passthrough().optional(),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  securityContext: z.object({
    privileged: z.boolean().optional(),
    runAsUser: z.number().int().nonnegative().optional(),
    runAsGroup: z.number().int().nonnegative().optional(),
    readOnlyRootFilesystem: z.boolean().optional(),
    allowPrivilegeEscalation: z.boolean().optional(),
    capabilities: z.object({ add: z.array(z.string()).optional(), drop: z.array(z.string()).optional() }).passthrough().optional(),
  }).passthrough().optional(),
  livenessProbe: probeSchema.optional(),
  readinessProbe: probeSchema.optional(),
  lifecycle: z.object({ preStop: z.object({ exec: execAction.optional() }).passthrough().optional() }).passthrough().optional(),
  stdin: z.boolean().optional(),
  stdinOnce: z.boolean().optional(),
  tty: z.boolean().optional(),
}).passthrough();
export type ContainerSpec = z.infer<typeof containerSchema>;

const podSpecSchema = z.object({
  nodeName: z.string().optional(),
  containers: z.array(containerSchema).min(1),
  initContainers: z.array(containerSchema).optional(),
  restartPolicy: z.enum(['Always', 'OnFailure', 'Never']).default('Always'),
  terminationGracePeriodSeconds: z.number().int().nonnegative().default(30),
  runtimeClassName: z.string().optional(),
  hostname: z.string().optional(),
  securityContext: z.object({ runAsUser: z.number().int().nonnegative().optional(), runAsGroup: z.number().int().nonnegative().optional() }).passthrough().optional(),
  overhead: resourceList.optional(),
}).passthrough();
export type PodSpec = z.infer<typeof podSpecSchema>;

export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  spec: PodSpec;
  object: KubeObject;
}

export function podInfo(pod: KubeObject): PodInfo {
  const object = `pod/${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
  const parsed = podSpecSchema.safeParse(pod['spec']);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(object, `the pod spec cannot be run: spec.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return { namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '', spec: parsed.data, object: pod };
}
