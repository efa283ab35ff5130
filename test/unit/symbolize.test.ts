import test from 'ava';
import { frameLocation, treePath } from '../../harness/symbolize.ts';

// decode_stacktrace.sh's output for a lockdep report of a lab kernel (--debug, reduced DWARF).
const DECODED = `sh/74 is trying to acquire lock:
ffffffff82e1b228 (lab_lock_a){+.+.}-{3:3}, at: lab_take_b_then_a (drivers/misc/lkdtm/lab.c:32)
-> #0 (lab_lock_a){+.+.}-{3:3}:
__lock_acquire (kernel/locking/lockdep.c:3190 kernel/locking/lockdep.c:3308 kernel/locking/lockdep.c:5236)
__mutex_lock (arch/x86/include/asm/atomic.h:23 include/linux/jump_label.h:261 kernel/locking/mutex.c:611 kernel/locking/mutex.c:759)
lab_take_b_then_a (drivers/misc/lkdtm/lab.c:32)
do_syscall_64 (arch/x86/entry/common.c:47 arch/x86/entry/common.c:78)
? lab_take_a_then_b+0x10/0x60
`;

test('the guilty frame\'s own line: the last of its inline chain, the first line naming it', (t) => {
  t.is(frameLocation(DECODED, 'lab_take_b_then_a'), 'drivers/misc/lkdtm/lab.c:32');
  t.is(frameLocation(DECODED, '__mutex_lock'), 'kernel/locking/mutex.c:759');
  t.is(frameLocation(DECODED, 'do_syscall_64'), 'arch/x86/entry/common.c:78');
  t.is(frameLocation(DECODED, 'lab_take_a_then_b'), null, 'an undecoded frame has no location');
  t.is(frameLocation(DECODED, 'lab_take'), null, 'a prefix of a name is not that frame');
  t.is(frameLocation('f (a/b.c:12 (discriminator 3))', 'f'), 'a/b.c:12');
});

test('addr2line paths become the tree\'s own', (t) => {
  t.is(treePath('../io_uring/nop.c', { tree: '/t', outDir: '/t/kl-out-debug' }), 'io_uring/nop.c');
  t.is(treePath('/t/io_uring/nop.c', { tree: '/t' }), 'io_uring/nop.c');
  t.is(treePath('/elsewhere/x.c', { tree: '/t' }), '/elsewhere/x.c');
});
