/** Wires the sandbox runtime to the guest image builder for CLI commands. */
import { ensureGuestImage } from '../guest/index.js';
import type { Logger } from '../log.js';
import type { SandpodPaths } from '../paths.js';
import { SandboxRuntime } from '../sandbox/index.js';
import type { AcceleratorChoice } from '../vmm/index.js';
import { progressPrinter } from './progress.js';

export function cliRuntime(paths: SandpodPaths, accel: AcceleratorChoice, log: Logger): SandboxRuntime {
  const progress = progressPrinter();
  return new SandboxRuntime({ paths, log, accel, guestImage: () => ensureGuestImage(paths, undefined, progress) });
}
