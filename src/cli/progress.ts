/** Progress lines for people on a terminal (stderr), silent when stderr is not a terminal unless asked. */
export function progressPrinter(enabled = process.stderr.isTTY): (step: string) => void {
  return (step) => { if (enabled) process.stderr.write(`sandpod: ${step}…\n`); };
}
