/**
 * A test double of a node agent: registers a Ready Node advertising its agent address, marks pods bound to it
 * Running, confirms their graceful deletion, and serves the node-side streaming contract (docs/node-streaming.md)
 * with canned behaviour: `echo ARGS`, `cat` (stdin echoed until the client closes it), `exit N`, and logs.
 * Port-forward is the node agent's own SPDY server, with every pod's ports on this machine's loopback.
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { Informer, isRecord, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { createLogger, nullSink } from '../../src/log.js';
import { PodAddressTarget } from '../../src/node/streaming/port-forward-targets.js';
import { portForwardProtocol, servePortForward } from '../../src/node/streaming/port-forward.js';

export interface TestNodeOptions {
  labels?: Record<string, string>;
  taints?: Array<{ key: string; value?: string; effect: string }>;
  cpu?: string;
  memory?: string;
  /** Leave pods Pending and deletions unconfirmed, like a node whose agent is gone. */
  passive?: boolean;
}

/** How long the double's "processes" take to start, like a fast real exec. */
const processStartMs = 25;

const channel = (id: number, data: string | Buffer): Buffer => Buffer.concat([Buffer.from([id]), Buffer.from(data)]);

/** Messages from the client, held from the moment of the upgrade until the "process" reads them. */
class Inbox {
  private readonly held: Buffer[] = [];
  private reader: ((m: Buffer) => void) | undefined;
  constructor(ws: WebSocket) {
    ws.on('message', (m: Buffer) => (this.reader ? this.reader(m) : this.held.push(m)));
  }
  read(fn: (m: Buffer) => void): void {
    this.reader = fn;
    for (const m of this.held.splice(0)) fn(m);
  }
}

function runExec(ws: WebSocket, inbox: Inbox, command: string[]): void {
  const finish = (code: number): void => {
    const status = code === 0
      ? { metadata: {}, status: 'Success' }
      : { metadata: {}, status: 'Failure', message: `command terminated with non-zero exit code: ${code}`, reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(code) }] } };
    ws.send(channel(3, JSON.stringify(status)));
    ws.close(1000);
  };
  const [cmd, ...args] = command;
  if (cmd === 'echo') {
    ws.send(channel(1, `${args.join(' ')}\n`));
    finish(0);
  } else if (cmd === 'exit') {
    finish(Number(args[0] ?? 1));
  } else if (cmd === 'cat') {
    inbox.read((data) => {
      if (data[0] === 0) ws.send(channel(1, data.subarray(1)));
      if (data[0] === 255 && data[1] === 0) finish(0);
    });
  } else {
    ws.send(channel(2, `${cmd ?? ''}: command not found\n`));
    finish(127);
  }
}

export class TestNode {
  private server: Server | undefined;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('v5.channel.k8s.io') ? 'v5.channel.k8s.io' : false) });
  private informer: Informer | undefined;
  /** Requests the agent received, for assertions. */
  readonly requests: string[] = [];
  private readonly portForwards = new Set<Socket>();

  constructor(private readonly client: KubeClient, readonly name: string, private readonly opts: TestNodeOptions = {}) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.requests.push(req.url ?? '');
      const url = new URL(req.url ?? '/', 'http://node');
      if (!url.pathname.startsWith('/containerLogs/')) {
        res.writeHead(404).end('not found');
        return;
      }
      const [, , ns, pod, container] = url.pathname.split('/');
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write(`log of ${ns ?? ''}/${pod ?? ''}/${container ?? ''} line 1\n`);
      if (url.searchParams.get('follow') !== 'true') {
        res.end(`log of ${ns ?? ''}/${pod ?? ''}/${container ?? ''} line 2\n`);
        return;
      }
      let n = 2;
      const t = setInterval(() => {
        res.write(`followed line ${n}\n`);
        if (++n > 4) {
          clearInterval(t);
          res.end();
        }
      }, 50);
      res.on('close', () => clearInterval(t));
    });
    this.server.on('upgrade', (req, socket: Socket, head: Buffer) => {
      this.requests.push(req.url ?? '');
      const url = new URL(req.url ?? '/', 'http://node');
      if (url.pathname.startsWith('/portForward/')) {
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${portForwardProtocol}\r\n\r\n`);
        this.portForwards.add(socket);
        socket.once('close', () => this.portForwards.delete(socket));
        const object = `pod ${url.pathname.split('/').slice(2).join('/')}`;
        void servePortForward(socket, head, new PodAddressTarget('127.0.0.1', object), { object, log: createLogger('test-node', nullSink) });
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        ws.send(channel(1, ''));
        const inbox = new Inbox(ws);
        const [, kind, , , container] = url.pathname.split('/');
        // A real process takes a while to start. Answering within microseconds would expose a race in client-go
        // (kubectl 1.32/1.33 read messages before registering their streams, and drop what arrives first), so
        // the double takes a process's start-up time too.
        setTimeout(() => runExec(ws, inbox, kind === 'attach' ? ['echo', `attached to ${container ?? ''}`] : url.searchParams.getAll('command')), processStartMs);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const addr = this.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    await this.client.create('/api/v1/nodes', {
      apiVersion: 'v1', kind: 'Node',
      metadata: { name: this.name, labels: { 'kubernetes.io/hostname': this.name, ...this.opts.labels } },
      spec: { taints: this.opts.taints ?? [] },
    });
    const resources = { cpu: this.opts.cpu ?? '4', memory: this.opts.memory ?? '8Gi', pods: '110' };
    await this.client.call('PATCH', `/api/v1/nodes/${this.name}/status`, {
      contentType: 'application/merge-patch+json',
      body: {
        status: {
          conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'test node agent is ready' }],
          addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: this.name }],
          daemonEndpoints: { kubeletEndpoint: { Port: port } },
          capacity: resources, allocatable: resources,
          nodeInfo: { kubeletVersion: 'v1.32.0-sandpod-test', osImage: 'test', kernelVersion: 'test', containerRuntimeVersion: 'test://0' },
        },
      },
    });
    if (this.opts.passive) return;
    this.informer = new Informer(this.client, `/api/v1/pods?fieldSelector=spec.nodeName%3D${this.name}`, (e) => {
      if (e.type !== 'DELETED') void this.reconcile(e.object).catch(() => undefined);
    }, 200);
    await this.informer.start();
  }

  private async reconcile(pod: KubeObject): Promise<void> {
    const path = `/api/v1/namespaces/${pod.metadata.namespace ?? ''}/pods/${pod.metadata.name ?? ''}`;
    if (pod.metadata.deletionTimestamp) {
      await this.client.delete(path, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
      return;
    }
    const status = isRecord(pod['status']) ? pod['status'] : {};
    if (status['phase'] === 'Running') return;
    const containers = (isRecord(pod['spec']) && Array.isArray(pod['spec']['containers']) ? pod['spec']['containers'] : []) as Array<{ name: string; image: string }>;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await this.client.call('PATCH', `${path}/status`, {
      contentType: 'application/strategic-merge-patch+json',
      body: {
        status: {
          phase: 'Running', podIP: '10.88.0.2', podIPs: [{ ip: '10.88.0.2' }], hostIP: '127.0.0.1', startTime: now,
          conditions: ['Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: now })),
          containerStatuses: containers.map((c) => ({ name: c.name, image: c.image, imageID: '', ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } } })),
        },
      },
    });
  }

  async stop(): Promise<void> {
    this.informer?.stop();
    for (const ws of this.wss.clients) ws.terminate();
    for (const socket of this.portForwards) socket.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
