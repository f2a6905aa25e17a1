/**
 * An OCI seccomp profile (`linux.seccomp`, which containerd fills with its RuntimeDefault profile, a
 * Localhost profile's file, or nothing for Unconfined and privileged containers) compiled to a classic BPF
 * program for x86-64 guests, which sandpod-spawn loads with seccomp(2) right before exec.
 *
 * The program: any architecture but x86-64 is killed (as libseccomp does for architectures a filter does
 * not cover); x32 numbers get ENOSYS (Debian's kernel does not enable x32); then each rule in the profile's
 * order: the first rule whose syscall and argument conditions match decides; none: the default action.
 * Conditions of one rule must all hold; when a rule compares one argument more than once, each comparison
 * is a rule of its own (runc's rule). Names unknown on x86-64 are skipped, as runc skips them.
 */
import { z } from 'zod';
import { invalid } from '../../errors.js';
import { X86_64_SYSCALLS } from './syscalls-x86-64.js';

const ACTIONS = ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY'] as const;
const OPS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;
const uint64 = z.number().int().nonnegative().refine(Number.isSafeInteger, 'is larger than this compiler compares exactly (2^53)');

export const ociSeccompSchema = z.object({
  defaultAction: z.enum(ACTIONS),
  defaultErrnoRet: z.number().int().nonnegative().optional(),
  architectures: z.array(z.string()).nullish(),
  flags: z.array(z.string()).nullish(),
  listenerPath: z.string().optional(),
  syscalls: z.array(z.object({
    names: z.array(z.string()),
    action: z.enum(ACTIONS),
    errnoRet: z.number().int().nonnegative().optional(),
    args: z.array(z.object({ index: z.number().int().min(0).max(5), value: uint64, valueTwo: uint64.optional(), op: z.enum(OPS) }).passthrough()).nullish(),
  }).passthrough()).nullish(),
}).passthrough();
export type OciSeccomp = z.infer<typeof ociSeccompSchema>;
type Action = OciSeccomp['defaultAction'];
type Arg = NonNullable<NonNullable<OciSeccomp['syscalls']>[number]['args']>[number];

/** seccomp(2) return values (linux/seccomp.h). */
export const RET = {
  KILL_PROCESS: 0x80000000, KILL_THREAD: 0, TRAP: 0x00030000, ERRNO: 0x00050000, TRACE: 0x7ff00000, LOG: 0x7ffc0000, ALLOW: 0x7fff0000,
} as const;
/** seccomp(2) filter flags a profile may name (TSYNC is moot: sandpod-spawn's child has one thread). */
const FLAGS: Record<string, number> = { SECCOMP_FILTER_FLAG_TSYNC: 0, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4 };
export const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
const EPERM = 1;
const ENOSYS = 38;
/** The kernel's limit on a filter's length (BPF_MAXINSNS). */
export const MAX_INSTRUCTIONS = 4096;

// Classic BPF opcodes (linux/filter.h).
const LD_W_ABS = 0x20;
const ALU_AND_K = 0x54;
const JEQ = 0x15;
const JGT = 0x25;
const JGE = 0x35;
const RET_K = 0x06;

export interface Instruction { code: number; jt: number; jf: number; k: number }
/** A jump target inside a rule: `fail` is the next rule, `ok` the end of the current comparison. */
type Target = number | 'fail' | 'ok';
interface Pending { code: number; jt: Target; jf: Target; k: number; label?: 'ok' }

function actionValue(action: Action, errnoRet: number | undefined, object: string): number {
  switch (action) {
    case 'SCMP_ACT_KILL': case 'SCMP_ACT_KILL_THREAD': return RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS': return RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP': return RET.TRAP;
    case 'SCMP_ACT_ERRNO': return RET.ERRNO | ((errnoRet ?? EPERM) & 0xffff);
    case 'SCMP_ACT_TRACE': return RET.TRACE | ((errnoRet ?? EPERM) & 0xffff);
    case 'SCMP_ACT_ALLOW': return RET.ALLOW;
    case 'SCMP_ACT_LOG': return RET.LOG;
    case 'SCMP_ACT_NOTIFY': throw invalid(object, 'the seccomp profile uses SCMP_ACT_NOTIFY, which needs a notification listener on the host; a VM pod has none: use another action');
  }
}

const ld = (offset: number): Pending => ({ code: LD_W_ABS, jt: 0, jf: 0, k: offset });
const jump = (code: number, k: number, jt: Target, jf: Target): Pending => ({ code, jt, jf, k: k >>> 0 });
const ret = (k: number): Instruction => ({ code: RET_K, jt: 0, jf: 0, k: k >>> 0 });

/** One 64-bit comparison of argument `a`: falls through when it holds, jumps to `fail` when not. */
function comparison(a: Arg): Pending[] {
  const lo = 16 + 8 * a.index;
  const hi = lo + 4;
  const split = (v: number): [number, number] => [Math.floor(v / 2 ** 32), v % 2 ** 32];
  const [vh, vl] = split(a.value);
  const end: Pending = { code: -1, jt: 0, jf: 0, k: 0, label: 'ok' };
  switch (a.op) {
    case 'SCMP_CMP_EQ': return [ld(hi), jump(JEQ, vh, 0, 'fail'), ld(lo), jump(JEQ, vl, 0, 'fail')];
    case 'SCMP_CMP_NE': return [ld(hi), jump(JEQ, vh, 0, 'ok'), ld(lo), jump(JEQ, vl, 'fail', 0), end];
    case 'SCMP_CMP_MASKED_EQ': {
      // OCI: value is the mask, valueTwo the datum: (arg & value) == valueTwo.
      const [dh, dl] = split(a.valueTwo ?? 0);
      return [ld(hi), { code: ALU_AND_K, jt: 0, jf: 0, k: vh }, jump(JEQ, dh, 0, 'fail'), ld(lo), { code: ALU_AND_K, jt: 0, jf: 0, k: vl }, jump(JEQ, dl, 0, 'fail')];
    }
    case 'SCMP_CMP_GT': return [ld(hi), jump(JGT, vh, 'ok', 0), jump(JEQ, vh, 0, 'fail'), ld(lo), jump(JGT, vl, 0, 'fail'), end];
    case 'SCMP_CMP_GE': return [ld(hi), jump(JGT, vh, 'ok', 0), jump(JEQ, vh, 0, 'fail'), ld(lo), jump(JGE, vl, 0, 'fail'), end];
    case 'SCMP_CMP_LT': return [ld(hi), jump(JGT, vh, 'fail', 0), jump(JEQ, vh, 0, 'ok'), ld(lo), jump(JGE, vl, 'fail', 0), end];
    case 'SCMP_CMP_LE': return [ld(hi), jump(JGT, vh, 'fail', 0), jump(JEQ, vh, 0, 'ok'), ld(lo), jump(JGT, vl, 'fail', 0), end];
  }
}

/** A rule's block: the syscall number, then each comparison, then its action; `fail` is the block's end. */
function ruleBlock(nr: number, args: Arg[], action: number, object: string): Instruction[] {
  const body: Pending[] = [];
  for (const a of args) {
    // Each comparison's `ok` label is its own end marker; resolve it within the comparison.
    const part = comparison(a);
    const okAt = part.findIndex((p) => p.label === 'ok');
    const resolved = part.filter((p) => p.label !== 'ok').map((p, i) => {
      const target = (t: Target): Target => (t === 'ok' ? (okAt < 0 ? 0 : okAt - i - 1) : t);
      return { ...p, jt: target(p.jt), jf: target(p.jf) };
    });
    body.push(...resolved);
  }
  const block: Pending[] = [jump(JEQ, nr, 0, 'fail'), ...body];
  const length = block.length + 1;
  const out = block.map((p, i): Instruction => {
    const target = (t: Target): number => {
      const v = t === 'fail' ? length - i - 1 : t === 'ok' ? 0 : t;
      if (v < 0 || v > 255) throw invalid(object, 'a seccomp rule has too many argument conditions to compile');
      return v;
    };
    return { code: p.code, jt: target(p.jt), jf: target(p.jf), k: p.k };
  });
  return [...out, ret(action)];
}

export interface CompiledSeccomp {
  /** The program as struct sock_filter[] (8 bytes each, little-endian). */
  program: Buffer;
  /** seccomp(2) flags. */
  flags: number;
  instructions: number;
  /** Names of the profile that x86-64 does not have (skipped). */
  skipped: string[];
}

/** Compiles a profile; throws Invalid naming what cannot be honoured. */
export function compileSeccomp(raw: unknown, object: string): CompiledSeccomp {
  const parsed = ociSeccompSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(object, `the seccomp profile is not usable: ${issue?.path.join('.')} ${issue?.message}`);
  }
  const p = parsed.data;
  let flags = 0;
  for (const f of p.flags ?? []) {
    const v = FLAGS[f];
    if (v === undefined) throw invalid(object, `the seccomp profile asks for flag ${f}, which the guest does not support; it supports ${Object.keys(FLAGS).join(', ')}`);
    flags |= v;
  }
  const code: Instruction[] = [
    { code: LD_W_ABS, jt: 0, jf: 0, k: 4 }, { code: JEQ, jt: 1, jf: 0, k: AUDIT_ARCH_X86_64 }, ret(RET.KILL_PROCESS),
    { code: LD_W_ABS, jt: 0, jf: 0, k: 0 }, { code: JGE, jt: 0, jf: 1, k: X32_SYSCALL_BIT }, ret(RET.ERRNO | ENOSYS),
  ];
  const skipped = new Set<string>();
  // A rule with conditions leaves an argument in the accumulator: the next rule loads the number again.
  let clobbered = false;
  for (const rule of p.syscalls ?? []) {
    const action = actionValue(rule.action, rule.errnoRet, object);
    const args = rule.args ?? [];
    const repeated = new Set(args.map((a) => a.index)).size !== args.length;
    const conditions = repeated ? args.map((a) => [a]) : [args];
    for (const name of rule.names) {
      const nr = X86_64_SYSCALLS[name];
      if (nr === undefined) { skipped.add(name); continue; }
      for (const c of conditions) {
        if (clobbered) code.push({ code: LD_W_ABS, jt: 0, jf: 0, k: 0 });
        code.push(...ruleBlock(nr, c, action, object));
        clobbered = c.length > 0;
      }
    }
  }
  code.push(ret(actionValue(p.defaultAction, p.defaultErrnoRet, object)));
  if (code.length > MAX_INSTRUCTIONS) throw invalid(object, `the seccomp profile compiles to ${code.length} BPF instructions, more than the kernel's ${MAX_INSTRUCTIONS}`);
  const program = Buffer.alloc(code.length * 8);
  code.forEach((ins, i) => {
    program.writeUInt16LE(ins.code, i * 8);
    program.writeUInt8(ins.jt, i * 8 + 2);
    program.writeUInt8(ins.jf, i * 8 + 3);
    program.writeUInt32LE(ins.k >>> 0, i * 8 + 4);
  });
  return { program, flags, instructions: code.length, skipped: [...skipped].sort() };
}
