/**
 * Runs a list of commands in one busybox shell. Under emulation each process the agent (Node) spawns costs
 * tens of milliseconds, while the shell's own children are cheap; setup steps are batched through here.
 */
import { runTool } from '../../run-tool.js';
import { BUSYBOX } from '../layout.js';

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The commands as one `set -e` script: the first failure stops it, and its stderr becomes the error. */
export const script = (commands: string[][]): string => ['set -e', ...commands.map((c) => c.map(quote).join(' '))].join('\n');

export async function runCommands(commands: string[][]): Promise<void> {
  if (commands.length > 0) await runTool('guest', BUSYBOX, ['sh', '-c', script(commands)]);
}
