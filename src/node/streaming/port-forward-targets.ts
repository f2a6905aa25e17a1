/**
 * Where a port-forward's connections go. A runc pod shares the node's kernel: the runtime's own port-forward
 * (CRI PortForward) dials localhost inside the pod's network namespace, as kubelet has it do. A VM pod's ports
 * are inside its VM, where that namespace's localhost does not lead: the node dials the pod's address over the
 * pod bridge instead, so a VM pod's server must listen on the pod's interface, not only on 127.0.0.1.
 */
import { connect } from 'node:net';
import { unavailable } from '../../errors.js';
import { portForwardProtocol, type ForwardedConnection, type PortForwardTarget } from './port-forward.js';
import { dialSpdy, type SpdyConnection } from './spdy.js';

/** How long a connection to a pod's port may take to open. */
const connectTimeoutMs = 10_000;

/** Connects to the pod's own address from the node (VM pods). */
export class PodAddressTarget implements PortForwardTarget {
  constructor(private readonly podIP: string, private readonly object: string) {}

  connect(port: number): Promise<ForwardedConnection> {
    const address = `${this.podIP.includes(':') ? `[${this.podIP}]` : this.podIP}:${port}`;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.podIP, port, allowHalfOpen: true });
      const fail = (why: string): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(unavailable(this.object, `cannot connect to ${address}, the pod's address: ${why}; is a server listening on port ${port} on the pod's interface (0.0.0.0, not only 127.0.0.1)?`));
      };
      const timer = setTimeout(() => fail(`no answer within ${connectTimeoutMs / 1000} s`), connectTimeoutMs);
      const onError = (err: Error): void => fail(err.message);
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        // Later errors are the forward's to report; until it listens, they must not go unhandled.
        socket.on('error', () => undefined);
        resolve({ data: socket });
      });
    });
  }

  close(): void {
    // Each connection is closed with its forward; the target holds nothing else.
  }
}

/** The container runtime's port-forward on its streaming server (runc pods): one SPDY connection per session. */
export class RuntimePortForwardTarget implements PortForwardTarget {
  private constructor(private readonly spdy: SpdyConnection) {}

  /** Connects to the URL CRI PortForward returned; `object` names the pod in errors. */
  static async open(url: string, object: string): Promise<RuntimePortForwardTarget> {
    return new RuntimePortForwardTarget(await dialSpdy(url, portForwardProtocol, `the container runtime's port-forward for ${object}`));
  }

  get closed(): Promise<void> {
    return this.spdy.closed;
  }

  /** client-go's sequence: the error stream (its half closed at once), then the data stream, same headers. */
  async connect(port: number, requestId: string): Promise<ForwardedConnection> {
    const headers = { streamType: 'error', port: String(port), requestID: requestId };
    const errors = await this.spdy.openStream(headers);
    errors.end();
    const data = await this.spdy.openStream({ ...headers, streamType: 'data' });
    return { data, errors };
  }

  close(): void {
    this.spdy.destroy();
  }
}
