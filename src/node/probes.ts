/**
 * Runs one probe or lifecycle handler against a container, as kubelet's prober does: `exec` through CRI,
 * `httpGet` and `tcpSocket` and `grpc` from the node to the pod's IP (which reaches runc and VM pods alike),
 * `sleep` on the node. Each answers success or failure with kubelet's message; nothing here throws.
 */
import * as grpc from '@grpc/grpc-js';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import type { CriClient } from '../cri/index.js';
import { describeError } from '../errors.js';
import type { Container, HttpGetAction, LifecycleHandler, Probe } from '../kube/index.js';

export interface ProbeResult { ok: boolean; message: string }

export interface ProbeTarget {
  cri: CriClient;
  containerId: string;
  container: Container;
  /** Where httpGet, tcpSocket and grpc connect unless the handler names a host. */
  podIP: string | undefined;
  timeoutSeconds: number;
  /** Stops a sleep handler early (the container is being force-stopped). */
  signal?: AbortSignal;
}

export const PROBE_USER_AGENT = 'kube-probe/1.32';

/** A port by number or by the name of one of the container's ports. */
export function resolvePort(port: number | string, c: Container): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

const failed = (message: string): ProbeResult => ({ ok: false, message });
const passed = (message = ''): ProbeResult => ({ ok: true, message });

async function execHandler(command: string[], t: ProbeTarget): Promise<ProbeResult> {
  try {
    const r = await t.cri.execSync({ container_id: t.containerId, cmd: command, timeout: t.timeoutSeconds });
    const output = `${r.stdout.toString()}${r.stderr.toString()}`.trim();
    return r.exit_code === 0 ? passed(output) : failed(output || `command ${JSON.stringify(command)} exited with ${r.exit_code}`);
  } catch (err) {
    return failed(describeError(err));
  }
}

function httpHandler(h: HttpGetAction, t: ProbeTarget): Promise<ProbeResult> {
  const port = resolvePort(h.port, t.container);
  const host = h.host || t.podIP;
  if (port === undefined) return Promise.resolve(failed(`port ${String(h.port)} is not a port of container ${t.container.name}`));
  if (!host) return Promise.resolve(failed('the pod has no IP yet'));
  const https = h.scheme === 'HTTPS';
  const url = `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}${h.path ?? '/'}`;
  const headers: Record<string, string> = { 'User-Agent': PROBE_USER_AGENT, Accept: '*/*' };
  for (const hd of h.httpHeaders ?? []) headers[hd.name] = hd.value;
  return new Promise((resolve) => {
    const done = (r: ProbeResult): void => { req.destroy(); resolve(r); };
    const onResponse = (res: IncomingMessage): void => {
      const code = res.statusCode ?? 0;
      res.resume();
      // kubelet counts 2xx and 3xx as success (redirects to other hosts are not followed).
      done(code >= 200 && code < 400 ? passed(`HTTP probe succeeded with statuscode: ${code}`) : failed(`HTTP probe failed with statuscode: ${code}`));
    };
    const opts = { method: 'GET', headers, timeout: t.timeoutSeconds * 1000, rejectUnauthorized: false };
    const req = https ? httpsRequest(url, opts, onResponse) : httpRequest(url, opts, onResponse);
    req.on('timeout', () => done(failed(`Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`)));
    req.on('error', (err) => done(failed(`Get "${url}": ${err.message}`)));
    req.end();
  });
}

function tcpHandler(portSpec: number | string, hostSpec: string | undefined, t: ProbeTarget): Promise<ProbeResult> {
  const port = resolvePort(portSpec, t.container);
  const host = hostSpec || t.podIP;
  if (port === undefined) return Promise.resolve(failed(`port ${String(portSpec)} is not a port of container ${t.container.name}`));
  if (!host) return Promise.resolve(failed('the pod has no IP yet'));
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: t.timeoutSeconds * 1000 });
    s.once('connect', () => { s.destroy(); resolve(passed()); });
    s.once('timeout', () => { s.destroy(); resolve(failed(`dial tcp ${host}:${port}: i/o timeout`)); });
    s.once('error', (err) => resolve(failed(`dial tcp ${host}:${port}: ${err.message}`)));
  });
}

let health: { request: protobuf.Type; response: protobuf.Type } | undefined;
const healthTypes = (): { request: protobuf.Type; response: protobuf.Type } => {
  if (!health) {
    const root = new protobuf.Root().loadSync(fileURLToPath(new URL('./health.proto', import.meta.url)), { keepCase: true });
    health = { request: root.lookupType('grpc.health.v1.HealthCheckRequest'), response: root.lookupType('grpc.health.v1.HealthCheckResponse') };
  }
  return health;
};
const servingStatus = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

function grpcHandler(port: number, service: string, t: ProbeTarget): Promise<ProbeResult> {
  const host = t.podIP;
  if (!host) return Promise.resolve(failed('the pod has no IP yet'));
  const { request, response } = healthTypes();
  const client = new grpc.Client(`${host}:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (v: { service: string }) => Buffer.from(request.encode(request.fromObject(v)).finish()),
      (b: Buffer) => response.toObject(response.decode(b), { enums: Number, defaults: true }) as { status: number },
      { service },
      new grpc.Metadata(),
      { deadline: Date.now() + t.timeoutSeconds * 1000 },
      (err, value) => {
        client.close();
        if (err) {
          resolve(failed(err.code === grpc.status.DEADLINE_EXCEEDED
            ? `timeout: failed to connect service "${host}:${port}" within ${t.timeoutSeconds}s`
            : `rpc error: code = ${grpc.status[err.code]} desc = ${err.details}`));
          return;
        }
        const status = servingStatus[value?.status ?? 0] ?? 'UNKNOWN';
        resolve(status === 'SERVING' ? passed() : failed(`service unhealthy (responded with "${status}")`));
      },
    );
  });
}

function sleepHandler(seconds: number, signal: AbortSignal | undefined): Promise<ProbeResult> {
  return new Promise((resolve) => {
    if (signal?.aborted) { resolve(passed()); return; }
    const timer = setTimeout(() => resolve(passed()), seconds * 1000);
    signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(passed()); }, { once: true });
  });
}

/** Runs a probe or lifecycle handler once. */
export async function runHandler(h: Probe | LifecycleHandler, t: ProbeTarget): Promise<ProbeResult> {
  if (h.exec) return execHandler(h.exec.command ?? [], t);
  if (h.httpGet) return httpHandler(h.httpGet, t);
  if (h.tcpSocket) return tcpHandler(h.tcpSocket.port, h.tcpSocket.host, t);
  if ('grpc' in h && h.grpc) return grpcHandler(h.grpc.port, h.grpc.service ?? '', t);
  if ('sleep' in h && h.sleep) return sleepHandler(h.sleep.seconds, t.signal);
  return passed();
}
