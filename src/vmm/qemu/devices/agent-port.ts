/** The agent channel: a named virtio-serial port backed by a unix socket QEMU listens on. */
export function agentPortArgs(socketPath: string, portName: string): string[] {
  return [
    '-device', 'virtio-serial-device,id=vser0,max_ports=2',
    '-chardev', `socket,id=agent0,path=${socketPath},server=on,wait=off`,
    '-device', `virtserialport,id=agentport0,chardev=agent0,name=${portName}`,
  ];
}
