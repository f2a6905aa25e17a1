import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIT_ARCH_X86_64, compileSeccomp, RET } from './compile.js';
import { X86_64_SYSCALLS } from './syscalls-x86-64.js';

/** A classic BPF interpreter for the opcodes the compiler emits, over struct seccomp_data. */
function run(program: Buffer, nr: number, args: bigint[] = [], arch = AUDIT_ARCH_X86_64): number {
  const data = Buffer.alloc(64);
  data.writeInt32LE(nr, 0);
  data.writeUInt32LE(arch, 4);
  args.forEach((a, i) => data.writeBigUInt64LE(a, 16 + 8 * i));
  let acc = 0;
  for (let pc = 0; pc < program.length / 8;) {
    const [code, jt, jf, k] = [program.readUInt16LE(pc * 8), program.readUInt8(pc * 8 + 2), program.readUInt8(pc * 8 + 3), program.readUInt32LE(pc * 8 + 4)];
    pc++;
    switch (code) {
      case 0x20: acc = data.readUInt32LE(k); break;
      case 0x54: acc = (acc & k) >>> 0; break;
      case 0x15: pc += acc === k ? jt : jf; break;
      case 0x25: pc += acc > k ? jt : jf; break;
      case 0x35: pc += acc >= k ? jt : jf; break;
      case 0x06: return k;
      default: throw new Error(`opcode ${code.toString(16)}`);
    }
  }
  throw new Error('fell off the end of the program');
}
const nr = (name: string): number => X86_64_SYSCALLS[name] ?? -1;
const EPERM = RET.ERRNO | 1;

test('the default action, allowed names, errno values, other architectures', () => {
  const { program, skipped } = compileSeccomp({
    defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['read', 'write', 'socketcall', 'no_such_call'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['reboot'], action: 'SCMP_ACT_KILL_PROCESS' },
      { names: ['getpid'], action: 'SCMP_ACT_LOG' },
    ],
  }, 't');
  assert.equal(run(program, nr('read')), RET.ALLOW);
  assert.equal(run(program, nr('write')), RET.ALLOW);
  assert.equal(run(program, nr('sethostname')), EPERM, 'the default errno is EPERM');
  assert.equal(run(program, nr('mkdir')), RET.ERRNO | 13);
  assert.equal(run(program, nr('reboot')), RET.KILL_PROCESS);
  assert.equal(run(program, nr('getpid')), RET.LOG);
  assert.equal(run(program, nr('read'), [], 0x40000003), RET.KILL_PROCESS, 'i386 is killed');
  assert.equal(run(program, 0x40000000 + nr('read')), RET.ERRNO | 38, 'x32 gets ENOSYS');
  assert.deepEqual(skipped, ['no_such_call', 'socketcall'], 'names x86-64 lacks are skipped');
});

test('argument comparisons, 64-bit, and the first matching rule decides', () => {
  const big = 2 ** 32 + 5;
  const { program } = compileSeccomp({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_NE' }] },
      { names: ['clone'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['lseek'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: big, op: 'SCMP_CMP_GT' }] },
      { names: ['pread64'], action: 'SCMP_ACT_ERRNO', args: [{ index: 2, value: big, op: 'SCMP_CMP_LE' }, { index: 3, value: 7, op: 'SCMP_CMP_GE' }] },
      { names: ['pwrite64'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 3, op: 'SCMP_CMP_LT' }] },
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }, { index: 1, value: 15, op: 'SCMP_CMP_EQ' }] },
      { names: ['kill'], action: 'SCMP_ACT_TRAP' },
    ],
  }, 't');
  assert.equal(run(program, nr('personality'), [0xffffffffn]), RET.ALLOW);
  assert.equal(run(program, nr('personality'), [0x40000n]), EPERM);
  assert.equal(run(program, nr('personality'), [0x1ffffffffn]), EPERM, 'the high word counts');
  assert.equal(run(program, nr('clone'), [0x11n]), EPERM, 'no namespace flag: (flags & mask) == 0 matches');
  assert.equal(run(program, nr('clone'), [0x10000000n]), RET.ALLOW, 'CLONE_NEWUSER set: no match');
  assert.equal(run(program, nr('lseek'), [0n, BigInt(big)]), RET.ALLOW);
  assert.equal(run(program, nr('lseek'), [0n, BigInt(big) + 1n]), EPERM);
  assert.equal(run(program, nr('lseek'), [0n, 2n ** 33n]), EPERM, 'a larger high word');
  assert.equal(run(program, nr('pread64'), [0n, 0n, BigInt(big), 7n]), EPERM, 'both conditions of a rule hold');
  assert.equal(run(program, nr('pread64'), [0n, 0n, BigInt(big), 6n]), RET.ALLOW, 'one fails');
  assert.equal(run(program, nr('pread64'), [0n, 0n, BigInt(big) + 1n, 9n]), RET.ALLOW);
  assert.equal(run(program, nr('pwrite64'), [2n]), EPERM);
  assert.equal(run(program, nr('pwrite64'), [3n]), RET.ALLOW);
  assert.equal(run(program, nr('pwrite64'), [2n ** 32n]), RET.ALLOW);
  assert.equal(run(program, nr('kill'), [1n, 9n]), EPERM, 'two comparisons of one argument are two rules');
  assert.equal(run(program, nr('kill'), [1n, 15n]), EPERM);
  assert.equal(run(program, nr('kill'), [1n, 1n]), RET.TRAP, 'then the next rule');
  assert.equal(run(program, nr('read')), RET.ALLOW, 'after rules with arguments, the number is loaded again');
});

test('what cannot be honoured is refused with the reason', () => {
  assert.throws(() => compileSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY' }, 'task/x'), /SCMP_ACT_NOTIFY/);
  assert.throws(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] }, 'task/x'), /flag SECCOMP_FILTER_FLAG_NEW_LISTENER/);
  assert.throws(() => compileSeccomp({ defaultAction: 'SCMP_ACT_NOPE' }, 'task/x'), /seccomp profile is not usable/);
  assert.equal(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG'] }, 'x').flags, 2);
});
