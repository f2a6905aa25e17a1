/**
 * The Task service on the wire: decodes each containerd.task.v2.Task request, calls TaskService, encodes
 * the reply. Pause, Resume and Checkpoint answer Unimplemented.
 */
import type protobuf from 'protobufjs';
import { Code, TtrpcError, decodeMessage, encodeMessage, loadProto, type MethodHandler, type TtrpcServer } from '../ttrpc/index.js';
import { timestamp } from './events.js';
import type { Mount, TaskService } from './task-service.js';

export const TASK_SERVICE = 'containerd.task.v2.Task';
const root = loadProto('./task.proto', import.meta.url);
const type = (name: string): protobuf.Type => root.lookupType(`containerd.task.v2.${name}`);
const PROCESS_SPEC_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
/** containerd's type URL for cgroup v2 metrics: the bare proto name, as typeurl registers it. */
const METRICS_TYPE = 'io.containerd.cgroups.v2.Metrics';
const metricsType = loadProto('./metrics.proto', import.meta.url).lookupType(METRICS_TYPE);

type Handler<Req> = (req: Req) => Promise<Record<string, unknown>> | Record<string, unknown>;

function method<Req>(reqType: string, resType: string, handle: Handler<Req>): MethodHandler {
  const rq = type(reqType);
  const rs = type(resType);
  return async (payload) => encodeMessage(rs, await handle(decodeMessage<Req>(rq, payload)));
}

const unimplemented = (name: string): MethodHandler => async () => { throw new TtrpcError(Code.Unimplemented, `${name} is not implemented by the Sandpod shim`); };

interface IdExec { id: string; exec_id: string }

export function registerTaskService(server: TtrpcServer, tasks: TaskService, hooks: { onShutdown: (now: boolean) => void; shimPid: number }): void {
  server.register(TASK_SERVICE, {
    Create: method<{ id: string; bundle: string; rootfs: Mount[]; terminal: boolean; stdin: string; stdout: string; stderr: string }>(
      'CreateTaskRequest', 'CreateTaskResponse', (r) => tasks.create(r)),
    Start: method<IdExec>('StartRequest', 'StartResponse', (r) => tasks.start(r.id, r.exec_id)),
    State: method<IdExec>('StateRequest', 'StateResponse', (r) => tasks.state(r.id, r.exec_id)),
    Wait: method<IdExec>('WaitRequest', 'WaitResponse', async (r) => {
      const e = await tasks.wait(r.id, r.exec_id);
      return { exit_status: e.exit_status, exited_at: timestamp(e.exited_at_ms) };
    }),
    Kill: method<IdExec & { signal: number; all: boolean }>('KillRequest', 'Empty', async (r) => { await tasks.kill(r.id, r.exec_id, r.signal); return {}; }),
    Exec: method<IdExec & { terminal: boolean; stdin: string; stdout: string; stderr: string; spec?: { type_url: string; value: Buffer } | null }>(
      'ExecProcessRequest', 'Empty', async (r) => {
        if (!r.spec || !r.spec.type_url.endsWith('/Process')) throw new TtrpcError(Code.InvalidArgument, `exec ${r.exec_id}: spec must be a ${PROCESS_SPEC_URL}`);
        await tasks.exec(r.id, r.exec_id, r.terminal, { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal }, r.spec.value);
        return {};
      }),
    ResizePty: method<IdExec & { width: number; height: number }>('ResizePtyRequest', 'Empty', (r) => { tasks.resize(r.id, r.exec_id, r.width, r.height); return {}; }),
    CloseIO: method<IdExec & { stdin: boolean }>('CloseIORequest', 'Empty', (r) => { if (r.stdin) tasks.closeIO(r.id, r.exec_id); return {}; }),
    Delete: method<IdExec>('DeleteRequest', 'DeleteResponse', async (r) => {
      const e = await tasks.delete(r.id, r.exec_id);
      return { pid: e.pid, exit_status: e.exit_status, exited_at: timestamp(e.exited_at_ms) };
    }),
    Pids: method<{ id: string }>('PidsRequest', 'PidsResponse', (r) => ({ processes: tasks.pids(r.id).map((pid) => ({ pid })) })),
    Stats: method<{ id: string }>('StatsRequest', 'StatsResponse', async (r) => ({
      stats: { type_url: METRICS_TYPE, value: encodeMessage(metricsType, await tasks.stats(r.id)) },
    })),
    Update: method<{ id: string; resources?: { type_url: string; value: Buffer } | null }>('UpdateTaskRequest', 'Empty', async (r) => {
      await tasks.update(r.id, r.resources?.value);
      return {};
    }),
    Connect: method<{ id: string }>('ConnectRequest', 'ConnectResponse', (r) => ({ shim_pid: hooks.shimPid, task_pid: tasks.taskPid(r.id), version: 'sandpod-v2' })),
    Shutdown: method<{ id: string; now: boolean }>('ShutdownRequest', 'Empty', (r) => { hooks.onShutdown(r.now); return {}; }),
    Pause: unimplemented('Pause'),
    Resume: unimplemented('Resume'),
    Checkpoint: unimplemented('Checkpoint'),
  });
}
