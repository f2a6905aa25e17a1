/** Runs a program to completion, failing with its stderr: for the image builders and the guest agent's helpers. */
import { spawn } from 'node:child_process';
import { internal } from './errors.js';

export interface RunOptions { cwd?: string; input?: Buffer; stdoutFile?: number }

export function runTool(object: string, file: string, args: string[], opts: RunOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      stdio: [opts.input ? 'pipe' : 'ignore', opts.stdoutFile ?? 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', (e) => reject(internal(object, `cannot run ${file}: ${e.message}; run scripts/setup to install it`, e)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(internal(object, `${file} ${args.slice(0, 3).join(' ')}… failed (exit ${code}): ${err.trim().slice(-400)}`));
    });
    // A tool that exits without reading all its input fails by its exit code, not by EPIPE.
    child.stdin?.on('error', () => undefined);
    if (opts.input) child.stdin?.end(opts.input);
  });
}
