/**
 * Entry point of the guest agent (bundled to agent.cjs, run by the guest's init as PID 1).
 */
import { AGENT_PORT_NAME } from '../layout.js';
import { GuestAgent, readyInfo } from './agent.js';
import { findPortDevice, PortChannel } from './channel.js';

async function main(): Promise<void> {
  const device = findPortDevice(AGENT_PORT_NAME);
  if (!device) throw new Error(`virtio-serial port "${AGENT_PORT_NAME}" not found in /sys/class/virtio-ports`);
  let agent: GuestAgent | undefined;
  const channel = new PortChannel(device, (m) => void agent?.handle(m));
  agent = new GuestAgent((m) => channel.send(m));
  await channel.open();
  await channel.send({ type: 'ready', info: readyInfo() });
}

process.on('uncaughtException', (err) => { process.stderr.write(`sandpod-agent: ${err.stack ?? err}\n`); });
main().catch((err: unknown) => {
  process.stderr.write(`sandpod-agent: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
