/**
 * TypeScript shapes of the runtime.v1 messages in api.proto, as the client decodes them: field names as the
 * contract spells them, every scalar present (proto3 default when unset), an unset message field `null`,
 * enums by name, 64-bit integers as numbers, bytes as Buffers. Timestamps are Unix nanoseconds; as numbers
 * they keep about a quarter of a microsecond of precision, enough for status and ordering.
 *
 * Requests take `Input<T>`: every field optional, so a caller writes only what it means.
 */

/** A message as a request accepts it: every field may be left out (or null) and takes its proto3 default. */
export type Input<T> = T extends Buffer ? T
  : T extends (infer U)[] ? Input<U>[]
  : T extends object ? { [K in keyof T]?: Input<T[K]> | null }
  : T;

export type StringMap = Record<string, string>;

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type MountPropagation = 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';
/** NODE for network means hostNetwork: no netns and no CNI. */
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
export type ProfileType = 'RuntimeDefault' | 'Unconfined' | 'Localhost';

export interface Int64Value { value: number }
export interface UInt64Value { value: number }

export interface VersionRequest { version: string }
export interface VersionResponse { version: string; runtime_name: string; runtime_version: string; runtime_api_version: string }

export interface DNSConfig { servers: string[]; searches: string[]; options: string[] }
export interface PortMapping { protocol: Protocol; container_port: number; host_port: number; host_ip: string }
export interface Mount { container_path: string; host_path: string; readonly: boolean; selinux_relabel: boolean; propagation: MountPropagation }
export interface NamespaceOption { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode; target_id: string }
export interface SELinuxOption { user: string; role: string; type: string; level: string }
export interface SecurityProfile { profile_type: ProfileType; localhost_ref: string }

export interface LinuxSandboxSecurityContext {
  namespace_options: NamespaceOption | null;
  selinux_options: SELinuxOption | null;
  run_as_user: Int64Value | null;
  run_as_group: Int64Value | null;
  readonly_rootfs: boolean;
  supplemental_groups: number[];
  privileged: boolean;
  seccomp: SecurityProfile | null;
  apparmor: SecurityProfile | null;
}

export interface HugepageLimit { page_size: string; limit: number }

export interface LinuxContainerResources {
  cpu_period: number;
  cpu_quota: number;
  cpu_shares: number;
  memory_limit_in_bytes: number;
  oom_score_adj: number;
  cpuset_cpus: string;
  cpuset_mems: string;
  hugepage_limits: HugepageLimit[];
  unified: StringMap;
  memory_swap_limit_in_bytes: number;
}

export interface LinuxPodSandboxConfig {
  cgroup_parent: string;
  security_context: LinuxSandboxSecurityContext | null;
  sysctls: StringMap;
  overhead: LinuxContainerResources | null;
  resources: LinuxContainerResources | null;
}

export interface PodSandboxMetadata { name: string; uid: string; namespace: string; attempt: number }

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata | null;
  hostname: string;
  log_directory: string;
  dns_config: DNSConfig | null;
  port_mappings: PortMapping[];
  labels: StringMap;
  annotations: StringMap;
  linux: LinuxPodSandboxConfig | null;
}

export interface RunPodSandboxRequest { config: PodSandboxConfig | null; runtime_handler: string }
export interface RunPodSandboxResponse { pod_sandbox_id: string }
export interface PodSandboxIdRequest { pod_sandbox_id: string }
export interface PodSandboxStatusRequest { pod_sandbox_id: string; verbose: boolean }

export interface PodIP { ip: string }
export interface PodSandboxNetworkStatus { ip: string; additional_ips: PodIP[] }
export interface LinuxPodSandboxStatus { namespaces: { options: NamespaceOption | null } | null }

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: PodSandboxState;
  created_at: number;
  network: PodSandboxNetworkStatus | null;
  linux: LinuxPodSandboxStatus | null;
  labels: StringMap;
  annotations: StringMap;
  runtime_handler: string;
}

export interface PodSandboxStatusResponse {
  status: PodSandboxStatus | null;
  /** With verbose: runtime-specific details; containerd puts a JSON document under `info`. */
  info: StringMap;
  containers_statuses: ContainerStatus[];
  timestamp: number;
}

export interface PodSandboxFilter { id: string; state: { state: PodSandboxState } | null; label_selector: StringMap }
export interface ListPodSandboxRequest { filter: PodSandboxFilter | null }

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: PodSandboxState;
  created_at: number;
  labels: StringMap;
  annotations: StringMap;
  runtime_handler: string;
}

export interface ListPodSandboxResponse { items: PodSandbox[] }

export interface ImageSpec { image: string; annotations: StringMap; user_specified_image: string; runtime_handler: string }
export interface KeyValue { key: string; value: string }
export interface Capability { add_capabilities: string[]; drop_capabilities: string[]; add_ambient_capabilities: string[] }

export interface LinuxContainerSecurityContext {
  capabilities: Capability | null;
  privileged: boolean;
  namespace_options: NamespaceOption | null;
  selinux_options: SELinuxOption | null;
  run_as_user: Int64Value | null;
  run_as_group: Int64Value | null;
  run_as_username: string;
  readonly_rootfs: boolean;
  supplemental_groups: number[];
  no_new_privs: boolean;
  masked_paths: string[];
  readonly_paths: string[];
  seccomp: SecurityProfile | null;
  apparmor: SecurityProfile | null;
}

export interface LinuxContainerConfig { resources: LinuxContainerResources | null; security_context: LinuxContainerSecurityContext | null }
export interface ContainerMetadata { name: string; attempt: number }
export interface Device { container_path: string; host_path: string; permissions: string }

export interface ContainerConfig {
  metadata: ContainerMetadata | null;
  image: ImageSpec | null;
  command: string[];
  args: string[];
  working_dir: string;
  envs: KeyValue[];
  mounts: Mount[];
  devices: Device[];
  labels: StringMap;
  annotations: StringMap;
  /** Relative to the pod's log_directory. */
  log_path: string;
  stdin: boolean;
  stdin_once: boolean;
  tty: boolean;
  linux: LinuxContainerConfig | null;
}

export interface CreateContainerRequest { pod_sandbox_id: string; config: ContainerConfig | null; sandbox_config: PodSandboxConfig | null }
export interface CreateContainerResponse { container_id: string }
export interface ContainerIdRequest { container_id: string }
/** timeout: seconds to wait after the stop signal before SIGKILL. */
export interface StopContainerRequest { container_id: string; timeout: number }

export interface ContainerFilter { id: string; state: { state: ContainerState } | null; pod_sandbox_id: string; label_selector: StringMap }
export interface ListContainersRequest { filter: ContainerFilter | null }

export interface Container {
  id: string;
  pod_sandbox_id: string;
  metadata: ContainerMetadata | null;
  image: ImageSpec | null;
  image_ref: string;
  state: ContainerState;
  created_at: number;
  labels: StringMap;
  annotations: StringMap;
}

export interface ListContainersResponse { containers: Container[] }
export interface ContainerStatusRequest { container_id: string; verbose: boolean }

export interface ContainerStatus {
  id: string;
  metadata: ContainerMetadata | null;
  state: ContainerState;
  created_at: number;
  started_at: number;
  finished_at: number;
  exit_code: number;
  image: ImageSpec | null;
  image_ref: string;
  reason: string;
  message: string;
  labels: StringMap;
  annotations: StringMap;
  mounts: Mount[];
  log_path: string;
  resources: { linux: LinuxContainerResources | null } | null;
}

export interface ContainerStatusResponse { status: ContainerStatus | null; info: StringMap }
export interface UpdateContainerResourcesRequest { container_id: string; linux: LinuxContainerResources | null; annotations: StringMap }

/** timeout: seconds, 0 for none. */
export interface ExecSyncRequest { container_id: string; cmd: string[]; timeout: number }
export interface ExecSyncResponse { stdout: Buffer; stderr: Buffer; exit_code: number }
export interface ExecRequest { container_id: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
export interface AttachRequest { container_id: string; stdin: boolean; tty: boolean; stdout: boolean; stderr: boolean }
/** port: the ports the client means to forward; containerd ignores it (each stream names its port). */
export interface PortForwardRequest { pod_sandbox_id: string; port: number[] }
/** A streaming URL on the runtime's stream server: single use, valid for about a minute. */
export interface StreamingUrlResponse { url: string }

export interface ContainerAttributes { id: string; metadata: ContainerMetadata | null; labels: StringMap; annotations: StringMap }
export interface CpuUsage { timestamp: number; usage_core_nano_seconds: UInt64Value | null; usage_nano_cores: UInt64Value | null }

export interface MemoryUsage {
  timestamp: number;
  working_set_bytes: UInt64Value | null;
  available_bytes: UInt64Value | null;
  usage_bytes: UInt64Value | null;
  rss_bytes: UInt64Value | null;
  page_faults: UInt64Value | null;
  major_page_faults: UInt64Value | null;
}

export interface FilesystemUsage { timestamp: number; fs_id: { mountpoint: string } | null; used_bytes: UInt64Value | null; inodes_used: UInt64Value | null }
export interface ContainerStats { attributes: ContainerAttributes | null; cpu: CpuUsage | null; memory: MemoryUsage | null; writable_layer: FilesystemUsage | null }
export interface ContainerStatsResponse { stats: ContainerStats | null }
export interface ContainerStatsFilter { id: string; pod_sandbox_id: string; label_selector: StringMap }
export interface ListContainerStatsRequest { filter: ContainerStatsFilter | null }
/** Containers without a task (not started, or exited) come with attributes only: `cpu` and `memory` are null. */
export interface ListContainerStatsResponse { stats: ContainerStats[] }

export interface RuntimeCondition { type: string; status: boolean; reason: string; message: string }
export interface StatusRequest { verbose: boolean }

export interface StatusResponse {
  status: { conditions: RuntimeCondition[] } | null;
  info: StringMap;
  /** Filled by newer runtimes only (not containerd 1.6). */
  runtime_handlers: { name: string; features: { recursive_read_only_mounts: boolean; user_namespaces: boolean } | null }[];
}

export interface Image {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: number;
  uid: Int64Value | null;
  username: string;
  spec: ImageSpec | null;
  pinned: boolean;
}

export interface AuthConfig { username: string; password: string; auth: string; server_address: string; identity_token: string; registry_token: string }
export interface ImageRequest { image: ImageSpec | null }
export interface ListImagesRequest { filter: ImageRequest | null }
export interface ListImagesResponse { images: Image[] }
export interface ImageStatusRequest { image: ImageSpec | null; verbose: boolean }
/** `image` is null when the runtime does not have it: that is an answer, not an error. */
export interface ImageStatusResponse { image: Image | null; info: StringMap }
export interface PullImageRequest { image: ImageSpec | null; auth: AuthConfig | null; sandbox_config: PodSandboxConfig | null }
export interface PullImageResponse { image_ref: string }

export type Empty = Record<string, never>;
