/**
 * VM sizing from what a pod or a user asked for: vCPUs = ceil(cpu limit), guest memory = memory limit.
 */
import { invalid } from '../errors.js';

export const DEFAULT_MEMORY_MIB = 512;
/** The smallest guest that boots the agent reliably (kernel, initramfs, Node); measured, see docs/sandbox.md. */
export const MIN_MEMORY_MIB = 128;
export const MAX_CPUS = 64;

const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const decimal: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** Bytes from a Kubernetes-style memory quantity ("256Mi", "1G", "536870912"). */
export function parseMemory(q: string, object: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q.trim());
  if (!m?.[1]) throw invalid(object, `memory "${q}" is not a quantity; use e.g. 256Mi or 1Gi`);
  const n = Number(m[1]) * (m[2] ? (binary[m[2]] ?? decimal[m[2]] ?? 1) : 1);
  return Math.round(n);
}

/** vCPUs from a Kubernetes-style CPU quantity ("2", "1.5", "500m"): rounded up, at least 1. */
export function parseCpus(q: string, object: string): number {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(q.trim());
  if (!m?.[1]) throw invalid(object, `cpus "${q}" is not a quantity; use e.g. 2, 1.5 or 500m`);
  const cores = Number(m[1]) / (m[2] ? 1000 : 1);
  if (cores <= 0) throw invalid(object, `cpus must be more than 0, got "${q}"`);
  return Math.max(1, Math.ceil(cores - 1e-9));
}

export interface VmSize { cpus: number; memoryMiB: number }

export function vmSize(cpu: string | undefined, memory: string | undefined, object: string): VmSize {
  const cpus = cpu === undefined ? 1 : parseCpus(cpu, object);
  if (cpus > MAX_CPUS) throw invalid(object, `cpus ${cpus} is more than the ${MAX_CPUS} a sandbox may have`);
  const memoryMiB = memory === undefined ? DEFAULT_MEMORY_MIB : Math.floor(parseMemory(memory, object) / 2 ** 20);
  if (memoryMiB < MIN_MEMORY_MIB) {
    throw invalid(object, `memory ${memory} is too small to boot a sandbox VM; give at least ${MIN_MEMORY_MIB}Mi`);
  }
  return { cpus, memoryMiB };
}
