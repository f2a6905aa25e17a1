/** The guest console: the microvm ISA serial port (ttyS0), written to a log file on the host. */
export function serialConsoleArgs(logPath: string): string[] {
  return ['-chardev', `file,id=console0,path=${logPath}`, '-serial', 'chardev:console0'];
}
export const serialConsoleCmdline = 'console=ttyS0';
