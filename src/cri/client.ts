/**
 * A CRI runtime.v1 client over gRPC on a unix socket (containerd's own socket serves it). Each call has a
 * deadline; a failed call becomes a SandpodError naming the CRI method, the object (pod sandbox, container or
 * image) and the gRPC status, with the kind mapped from the status code.
 */
import * as grpc from '@grpc/grpc-js';
import { SandpodError, type ErrorKind } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { criServices, type CriServiceName } from './api.js';
import type * as T from './types.js';

/** Request and response of each method; the service it belongs to is in SERVICE_OF. */
interface Methods {
  Version: [T.VersionRequest, T.VersionResponse];
  Status: [T.StatusRequest, T.StatusResponse];
  RunPodSandbox: [T.RunPodSandboxRequest, T.RunPodSandboxResponse];
  StopPodSandbox: [T.PodSandboxIdRequest, T.Empty];
  RemovePodSandbox: [T.PodSandboxIdRequest, T.Empty];
  PodSandboxStatus: [T.PodSandboxStatusRequest, T.PodSandboxStatusResponse];
  ListPodSandbox: [T.ListPodSandboxRequest, T.ListPodSandboxResponse];
  CreateContainer: [T.CreateContainerRequest, T.CreateContainerResponse];
  StartContainer: [T.ContainerIdRequest, T.Empty];
  StopContainer: [T.StopContainerRequest, T.Empty];
  RemoveContainer: [T.ContainerIdRequest, T.Empty];
  ContainerStatus: [T.ContainerStatusRequest, T.ContainerStatusResponse];
  ListContainers: [T.ListContainersRequest, T.ListContainersResponse];
  ExecSync: [T.ExecSyncRequest, T.ExecSyncResponse];
  Exec: [T.ExecRequest, T.StreamingUrlResponse];
  Attach: [T.AttachRequest, T.StreamingUrlResponse];
  PortForward: [T.PortForwardRequest, T.StreamingUrlResponse];
  ReopenContainerLog: [T.ContainerIdRequest, T.Empty];
  UpdateContainerResources: [T.UpdateContainerResourcesRequest, T.Empty];
  ContainerStats: [T.ContainerIdRequest, T.ContainerStatsResponse];
  ListContainerStats: [T.ListContainerStatsRequest, T.ListContainerStatsResponse];
  PullImage: [T.PullImageRequest, T.PullImageResponse];
  ListImages: [T.ListImagesRequest, T.ListImagesResponse];
  ImageStatus: [T.ImageStatusRequest, T.ImageStatusResponse];
  RemoveImage: [T.ImageRequest, T.Empty];
}
export type CriMethod = keyof Methods;

const IMAGE_METHODS: ReadonlySet<CriMethod> = new Set(['PullImage', 'ListImages', 'ImageStatus', 'RemoveImage']);

export interface CriClientOptions {
  log?: Logger;
  /** Deadline of a call unless the call says otherwise. Default 2 minutes, kubelet's runtime request timeout. */
  timeoutMs?: number;
  /** Deadline of PullImage, which moves whole images. Default 10 minutes. */
  pullTimeoutMs?: number;
}

export interface CallOptions {
  /** This call's deadline, instead of the client's. */
  timeoutMs?: number;
}

/** kubelet's limit: larger than gRPC's 4 MiB default, for long container lists and ExecSync output. */
const MAX_MESSAGE_BYTES = 16 << 20;

const KIND_OF: Partial<Record<grpc.status, ErrorKind>> = {
  [grpc.status.NOT_FOUND]: 'NotFound',
  [grpc.status.ALREADY_EXISTS]: 'AlreadyExists',
  [grpc.status.INVALID_ARGUMENT]: 'Invalid',
  [grpc.status.OUT_OF_RANGE]: 'Invalid',
  [grpc.status.ABORTED]: 'Conflict',
  [grpc.status.UNAVAILABLE]: 'Unavailable',
  [grpc.status.DEADLINE_EXCEEDED]: 'Timeout',
  [grpc.status.FAILED_PRECONDITION]: 'FailedPrecondition',
};

/** What the caller can do about a failure with this status. */
function hint(code: grpc.status, socketPath: string, timeoutMs: number): string {
  switch (code) {
    case grpc.status.UNAVAILABLE: return `check that the runtime (containerd) is running and serves CRI on ${socketPath}`;
    case grpc.status.DEADLINE_EXCEEDED: return `the runtime did not answer within ${timeoutMs} ms; look at its log for what it was waiting on`;
    case grpc.status.UNIMPLEMENTED: return 'the runtime does not serve this runtime.v1 method; is its CRI plugin enabled?';
    case grpc.status.NOT_FOUND: return 'it does not exist (any more); list the objects again';
    default: return 'the runtime\'s log has the details';
  }
}

/** The object a request concerns, for errors and logs: `podSandbox/<id>`, `container/<id>`, `image/<ref>`. */
function objectOf(method: CriMethod, request: Record<string, unknown>): string {
  const id = (key: string): string | undefined => (typeof request[key] === 'string' && request[key] !== '' ? request[key] as string : undefined);
  const meta = (request['config'] as { metadata?: { name?: string; namespace?: string } | null } | null | undefined)?.metadata;
  const image = (request['image'] as { image?: string } | null | undefined)?.image
    ?? (request['filter'] as { image?: { image?: string } | null } | null | undefined)?.image?.image;
  if (method === 'RunPodSandbox') return `podSandbox/${meta?.namespace ?? ''}/${meta?.name ?? ''}`;
  if (method === 'CreateContainer') return `container/${meta?.name ?? ''} in podSandbox/${id('pod_sandbox_id') ?? ''}`;
  const container = id('container_id');
  if (container) return `container/${container}`;
  const podSandbox = id('pod_sandbox_id');
  if (podSandbox) return `podSandbox/${podSandbox}`;
  if (image) return `image/${image}`;
  return 'runtime';
}

export class CriClient {
  private readonly client: grpc.Client;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly pullTimeoutMs: number;

  /** `socketPath`: the runtime's unix socket, as a path or a `unix://` address (kubelet's --container-runtime-endpoint). */
  constructor(readonly socketPath: string, opts: CriClientOptions = {}) {
    const target = socketPath.startsWith('unix:') ? socketPath : `unix://${socketPath}`;
    this.client = new grpc.Client(target, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // A local socket: a runtime restarted (by the cluster's supervisor) is worth trying again within 2 s, not
      // gRPC's default back-off of up to 2 minutes, during which every call fails at once.
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 2_000,
    });
    this.log = (opts.log ?? createLogger('cri')).child({ socket: socketPath });
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.pullTimeoutMs = opts.pullTimeoutMs ?? 600_000;
  }

  version(r: T.Input<T.VersionRequest> = {}, o?: CallOptions) { return this.call('Version', r, o); }
  status(r: T.Input<T.StatusRequest> = {}, o?: CallOptions) { return this.call('Status', r, o); }
  runPodSandbox(r: T.Input<T.RunPodSandboxRequest>, o?: CallOptions) { return this.call('RunPodSandbox', r, o); }
  /** Idempotent: success when the pod sandbox is already stopped or gone. */
  stopPodSandbox(r: T.Input<T.PodSandboxIdRequest>, o?: CallOptions) { return this.call('StopPodSandbox', r, o); }
  /** Idempotent: success when the pod sandbox is already gone. */
  removePodSandbox(r: T.Input<T.PodSandboxIdRequest>, o?: CallOptions) { return this.call('RemovePodSandbox', r, o); }
  podSandboxStatus(r: T.Input<T.PodSandboxStatusRequest>, o?: CallOptions) { return this.call('PodSandboxStatus', r, o); }
  listPodSandbox(r: T.Input<T.ListPodSandboxRequest> = {}, o?: CallOptions) { return this.call('ListPodSandbox', r, o); }
  createContainer(r: T.Input<T.CreateContainerRequest>, o?: CallOptions) { return this.call('CreateContainer', r, o); }
  startContainer(r: T.Input<T.ContainerIdRequest>, o?: CallOptions) { return this.call('StartContainer', r, o); }
  stopContainer(r: T.Input<T.StopContainerRequest>, o?: CallOptions) { return this.call('StopContainer', r, o); }
  removeContainer(r: T.Input<T.ContainerIdRequest>, o?: CallOptions) { return this.call('RemoveContainer', r, o); }
  containerStatus(r: T.Input<T.ContainerStatusRequest>, o?: CallOptions) { return this.call('ContainerStatus', r, o); }
  listContainers(r: T.Input<T.ListContainersRequest> = {}, o?: CallOptions) { return this.call('ListContainers', r, o); }
  /** The deadline covers the command's own timeout (seconds) plus the client's. */
  execSync(r: T.Input<T.ExecSyncRequest>, o?: CallOptions) { return this.call('ExecSync', r, o); }
  exec(r: T.Input<T.ExecRequest>, o?: CallOptions) { return this.call('Exec', r, o); }
  attach(r: T.Input<T.AttachRequest>, o?: CallOptions) { return this.call('Attach', r, o); }
  portForward(r: T.Input<T.PortForwardRequest>, o?: CallOptions) { return this.call('PortForward', r, o); }
  /** The runtime closes the container's log file and opens it again at its path (after a rotation). */
  reopenContainerLog(r: T.Input<T.ContainerIdRequest>, o?: CallOptions) { return this.call('ReopenContainerLog', r, o); }
  updateContainerResources(r: T.Input<T.UpdateContainerResourcesRequest>, o?: CallOptions) { return this.call('UpdateContainerResources', r, o); }
  containerStats(r: T.Input<T.ContainerIdRequest>, o?: CallOptions) { return this.call('ContainerStats', r, o); }
  /** Stats of every container the runtime knows (or those the filter names), in one call. */
  listContainerStats(r: T.Input<T.ListContainerStatsRequest> = {}, o?: CallOptions) { return this.call('ListContainerStats', r, o); }
  pullImage(r: T.Input<T.PullImageRequest>, o?: CallOptions) { return this.call('PullImage', r, o); }
  listImages(r: T.Input<T.ListImagesRequest> = {}, o?: CallOptions) { return this.call('ListImages', r, o); }
  /** `image` in the answer is null when the runtime does not have the image. */
  imageStatus(r: T.Input<T.ImageStatusRequest>, o?: CallOptions) { return this.call('ImageStatus', r, o); }
  /** Idempotent: success when the image is already gone. */
  removeImage(r: T.Input<T.ImageRequest>, o?: CallOptions) { return this.call('RemoveImage', r, o); }

  close(): void {
    this.client.close();
  }

  private deadlineMs(method: CriMethod, request: Record<string, unknown>, opts: CallOptions | undefined): number {
    if (opts?.timeoutMs !== undefined) return opts.timeoutMs;
    if (method === 'PullImage') return this.pullTimeoutMs;
    if (method === 'ExecSync' && typeof request['timeout'] === 'number') return request['timeout'] * 1000 + this.timeoutMs;
    return this.timeoutMs;
  }

  private call<M extends CriMethod>(method: M, request: T.Input<Methods[M][0]>, opts?: CallOptions): Promise<Methods[M][1]> {
    const service: CriServiceName = IMAGE_METHODS.has(method) ? 'ImageService' : 'RuntimeService';
    const definition = criServices()[service][method] as grpc.MethodDefinition<T.Input<Methods[M][0]>, Methods[M][1]>;
    const fields = request as Record<string, unknown>;
    const object = objectOf(method, fields);
    const timeoutMs = this.deadlineMs(method, fields, opts);
    const started = Date.now();
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(definition.path, definition.requestSerialize, definition.responseDeserialize, request,
        new grpc.Metadata(), { deadline: started + timeoutMs }, (err, response) => {
          const ms = Date.now() - started;
          if (err || response === undefined) {
            const code = err?.code ?? grpc.status.INTERNAL;
            const codeName = grpc.status[code] ?? String(code);
            this.log.debug('CRI call failed', { method, object, code: codeName, details: err?.details, ms });
            reject(new SandpodError(KIND_OF[code] ?? 'Internal',
              `CRI ${method} failed: ${codeName}: ${err?.details || 'no response'}; ${hint(code, this.socketPath, timeoutMs)}`,
              { object, cause: err }));
            return;
          }
          this.log.debug('CRI call', { method, object, ms });
          resolve(response);
        });
    });
  }
}
