// Crash parser against two golden corpora: console logs from real lab kernels (made by
// scripts/crash-fixtures.mjs with lkdtm; expected.json was written by reading each log), and
// a selection of syzkaller's Linux report corpus (test/fixtures/syzkaller/README.md), each
// file with the title syzbot gives it.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { detectCrashes, normaliseFunc, normaliseTitle, stripPrefixes } from '../../harness/crash.ts';
import { repoRoot } from '../../harness/paths.ts';

interface Expected {
  type: string;
  title: string;
  test: string | null;
  fatal?: boolean;
  corrupted?: boolean;
}
const dir = path.join(repoRoot, 'test', 'fixtures', 'console');
const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Record<string, Expected[]>;
const shape = (c: Expected) => ({ type: c.type, title: c.title, test: c.test, ...(c.fatal ? { fatal: true } : {}), ...(c.corrupted ? { corrupted: true } : {}) });

for (const [name, want] of Object.entries(expected)) {
  test(`fixture ${name}: reports, types, titles and tests`, (t) => {
    const got = detectCrashes(fs.readFileSync(path.join(dir, `${name}.log`), 'utf8'));
    t.deepEqual(got.map(shape), want.map(shape));
  });
}

// A console log as our kernels print it: printk time and PRINTK_CALLER context on each line.
const klog = (lines: [string, string][]) => lines.map(([ctx, text], i) => `[host ${(1 + i / 100).toFixed(3)}] [   10.${String(100000 + i).slice(1)}][${ctx.padStart(6)}] ${text}`).join('\n');
const body = (ctx: string, texts: string[]): [string, string][] => texts.map((x) => [ctx, x]);

test('the same bug gets the same title whatever the addresses, numbers, lines and clones', (t) => {
  t.is(normaliseFunc('io_fused_cmd_complete.isra.0+0x1c/0x40'), 'io_fused_cmd_complete');
  t.is(normaliseTitle('INFO: task hung in kworker/0:1 at 0xffffffff81234567'), 'INFO: task hung in kworker/NUM:NUM at ADDR');
  t.is(normaliseTitle('kernel panic: VFS: Unable to mount root fs on unknown-block(0,0)'), 'kernel panic: VFS: Unable to mount root fs on unknown-block(NUM,NUM)');
  t.is(normaliseTitle('BUG: spinlock bad magic on CPU#1, ext4_fill_super+0x12/0x40 at fs/ext4/super.c:120'), 'BUG: spinlock bad magic on CPU, ext4_fill_super at fs/ext4/super.c:LINE');
  t.is(stripPrefixes('[host    12.345] [    1.234567][  T123] BUG: oops'), 'BUG: oops');
});

test('a clean boot log has no reports; a kl marker line naming BUG is not a report', (t) => {
  const log = '[host 1.0] [    0.000000][    T0] Linux version 6.12.0\n[host 1.1] [    1.0][    T1] kl: test-start uring/BUG_is_in_a_name\n[host 1.2] [    1.1][    T1] kl: test-end uring/BUG_is_in_a_name rc=0\n';
  t.deepEqual(detectCrashes(log), []);
  // The boot and agent part of every lab fixture (before lkdtm runs) is a clean 6.12 boot.
  for (const name of Object.keys(expected)) {
    const text = fs.readFileSync(path.join(dir, `${name}.log`), 'utf8');
    const clean = text.slice(0, text.search(/lkdtm: Performing|unreferenced object/));
    t.deepEqual(detectCrashes(clean), [], `${name}: boot part`);
  }
});

test('a WARNING: that __warn() did not print is no report (pr_warn lines)', (t) => {
  const log = klog([
    ['T8428', '======================================================'],
    ['T8428', 'WARNING: the mand mount option is being deprecated and'],
    ['T8428', '         will be removed in v5.15!'],
    ['T8428', '======================================================'],
    ['T1', 'WARNING: Unprivileged eBPF is enabled with eIBRS on, data leaks possible via Spectre v2 BHB attacks!'],
    ['T1', 'WARNING: workqueue cpumask: online intersect > possible intersect'],
    ['T1', 'INFO: lockdep is turned off.'],
    ['T1', 'x86/cpu: WARNING: some firmware said something'],
  ]);
  t.deepEqual(detectCrashes(log), []);
});

test('only the reporting task counts: lines of other tasks inside a report are dropped', (t) => {
  const log = klog([
    ['T1', 'kl: test-start fused/interleaved'],
    ['T100', '------------[ cut here ]------------'],
    ['T100', 'WARNING: CPU: 1 PID: 100 at lib/refcount.c:28 refcount_warn_saturate+0xba/0x110'],
    ['T200', 'WARNING: the mand mount option is being deprecated and'],
    ['T100', 'Modules linked in:'],
    ['T100', 'CPU: 1 UID: 0 PID: 100 Comm: fused_test Not tainted 6.12.0+ #1'],
    ['T100', 'RIP: 0010:refcount_warn_saturate+0xba/0x110'],
    ['T100', 'Call Trace:'],
    ['T100', ' <TASK>'],
    ['T200', ' other_task_frame+0x10/0x20'],
    ['T100', ' ? __warn+0x80/0x130'],
    ['T100', ' io_fused_cmd_done+0x57/0x60'],
    ['T100', ' io_issue_sqe+0x1b2/0x3f0'],
    ['T100', ' do_syscall_64+0x4c/0x100'],
    ['T100', ' </TASK>'],
    ['T100', '---[ end trace 0000000000000000 ]---'],
    ['T1', 'kl: test-end fused/interleaved rc=1'],
  ]);
  const got = detectCrashes(log);
  t.deepEqual(got.map((c) => [c.type, c.title, c.test, c.corrupted]), [['WARNING', 'WARNING: refcount bug in io_fused_cmd_done', 'fused/interleaved', false]]);
  t.notRegex(got[0]!.report, /other_task_frame|mand mount/);
});

test('two reports in two tests, each charged to its own test; a cut-off report is kept, flagged corrupted', (t) => {
  const log = klog([
    ['T1', 'kl: test-start uring/a'],
    ...body('T50', ['BUG: sleeping function called from invalid context at kernel/locking/mutex.c:585', 'in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 50, name: a', 'preempt_count: 1, expected: 0', 'CPU: 0 UID: 0 PID: 50 Comm: a Not tainted 6.12.0+ #1', 'Call Trace:', ' <TASK>', ' dump_stack_lvl+0x5d/0x80', ' __might_resched+0x16c/0x1b0', ' mutex_lock+0x1a/0x40', ' io_ring_ctx_lock_under_spin+0x2a/0x40', ' io_issue_sqe+0x1b2/0x3f0', ' </TASK>']),
    ['T1', 'kl: test-end uring/a rc=0'],
    ['T1', 'kl: test-start uring/b'],
    ...body('T60', ['BUG: unable to handle page fault for address: ffffc90000a7e000', '#PF: supervisor write access in kernel mode', 'Oops: Oops: 0002 [#1] SMP NOPTI', 'CPU: 1 UID: 0 PID: 60 Comm: b Not tainted 6.12.0+ #1', 'RIP: 0010:memset_orig+0x33/0xb0', 'Code: 48 89']),
  ]);
  const got = detectCrashes(log);
  t.deepEqual(got.map((c) => [c.title, c.test, c.corrupted]), [
    ['BUG: sleeping function called from invalid context in io_ring_ctx_lock_under_spin', 'uring/a', false],
    ['BUG: unable to handle kernel paging request in corrupted', 'uring/b', true],
  ]);
  t.regex(got[1]!.corruptedReason ?? '', /frame/);
});

// 6.12-shaped reports of kinds the lab fixtures do not have, written from the kernel's printk
// formats (lib/ubsan.c, lib/list_debug.c, lib/string_helpers.c, kernel/panic.c, lockdep).
const SNIPPETS: [string, string[], string][] = [
  ['UBSAN shift', ['UBSAN: shift-out-of-bounds in io_uring/rsrc.c:120:20', 'shift exponent 64 is too large for 64-bit type \'long unsigned int\'', 'CPU: 0 UID: 0 PID: 70 Comm: t Not tainted 6.12.0+ #1', 'Call Trace:', ' <TASK>', ' dump_stack_lvl+0x5d/0x80', ' __ubsan_handle_shift_out_of_bounds+0x10e/0x260', ' io_buffer_account_pin+0x8a/0x90', ' io_sqe_buffer_register+0x2c0/0x5a0', ' </TASK>', '---[ end trace ]---'], 'UBSAN: shift-out-of-bounds in io_buffer_account_pin'],
  ['list_add corruption', ['list_add corruption. prev->next should be next (ffff888005a1b2c8), but was ffff888005a1b000. (prev=ffff888005a1b2c8).', 'kernel BUG at lib/list_debug.c:32!', 'Oops: invalid opcode: 0000 [#1] SMP NOPTI', 'CPU: 0 UID: 0 PID: 70 Comm: t Not tainted 6.12.0+ #1', 'RIP: 0010:__list_add_valid_or_report+0x7c/0xa0', 'Call Trace:', ' <TASK>', ' ? die+0x36/0x90', ' __list_add_valid_or_report+0x7c/0xa0', ' ublk_queue_cmd_list+0x51/0x90', ' ublk_queue_rq+0x1b3/0x240', ' </TASK>'], 'BUG: corrupted list in ublk_queue_cmd_list'],
  ['fortify', ['strnlen: detected buffer overflow: 9 byte read of buffer size 8', 'WARNING: CPU: 0 PID: 70 at lib/string_helpers.c:1033 __fortify_report+0x45/0x50', 'CPU: 0 UID: 0 PID: 70 Comm: t Not tainted 6.12.0+ #1', 'RIP: 0010:__fortify_report+0x45/0x50', 'Call Trace:', ' <TASK>', ' __fortify_panic+0xd/0xf', ' lkdtm_FORTIFY_STRSCPY+0x1c/0x20', ' lkdtm_do_action+0x10/0x20', ' </TASK>', '---[ end trace 0000000000000000 ]---'], 'WARNING in lkdtm_FORTIFY_STRSCPY'],
  ['stack-protector', ['Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: lkdtm_CORRUPT_STACK+0x3a/0x40', 'CPU: 0 UID: 0 PID: 70 Comm: t Not tainted 6.12.0+ #1', 'Call Trace:', ' <TASK>', ' panic+0x10e/0x2d0', ' __stack_chk_fail+0x14/0x20', ' lkdtm_CORRUPT_STACK+0x3a/0x40', ' </TASK>'], 'kernel panic: stack is corrupted in lkdtm_CORRUPT_STACK'],
  ['double fault', ['PANIC: double fault, error_code: 0x0', 'Oops: double fault: 0000 [#1] SMP NOPTI', 'CPU: 0 UID: 0 PID: 70 Comm: t Not tainted 6.12.0+ #1', 'RIP: 0010:recurse_forever+0x5/0x20', 'Kernel panic - not syncing: Fatal exception in interrupt'], 'PANIC: double fault in recurse_forever'],
  ['GPF, KASAN non-canonical', ['Oops: general protection fault, probably for non-canonical address 0xdffffc0000000002: 0000 [#1] PREEMPT SMP KASAN NOPTI', 'KASAN: null-ptr-deref in range [0x0000000000000010-0x0000000000000017]', 'CPU: 0 UID: 0 PID: 70 Comm: t Not tainted 6.12.0+ #1', 'RIP: 0010:io_fused_cmd_done+0x3d/0x90', 'Call Trace:', ' <TASK>', ' io_issue_sqe+0x1b2/0x3f0', ' </TASK>'], 'general protection fault in io_fused_cmd_done'],
  ['lockdep circular', ['======================================================', 'WARNING: possible circular locking dependency detected', '6.12.0+ #1 Not tainted', '------------------------------------------------------', 't/70 is trying to acquire lock:', 'ffff888005a1b2c8 (&ub->mutex){+.+.}-{4:4}, at: ublk_ctrl_stop_dev+0x2a/0x90', '', 'but task is already holding lock:', 'ffff888005a1b000 (&ctx->uring_lock){+.+.}-{4:4}, at: __do_sys_io_uring_enter+0x2c0/0x7a0', '', 'which lock already depends on the new lock.', '', 'the existing dependency chain (in reverse order) is:', '', '-> #1 (&ub->mutex){+.+.}-{4:4}:', '       __mutex_lock+0x92/0x9a0', '       ublk_ctrl_stop_dev+0x2a/0x90', '', 'stack backtrace:', 'CPU: 0 UID: 0 PID: 70 Comm: t Not tainted 6.12.0+ #1', 'Call Trace:', ' <TASK>', ' dump_stack_lvl+0x5d/0x80', ' check_noncircular+0x130/0x150', ' </TASK>'], 'possible deadlock in ublk_ctrl_stop_dev'],
  ['RCU stall, self-detected', ['rcu: INFO: rcu_preempt self-detected stall on CPU', 'rcu: \t0-....: (21000 ticks this GP) idle=1234/1/0x4000000000000000 softirq=1/1 fqs=5000', 'rcu: \t(t=21002 jiffies g=1 q=1 ncpus=2)', 'CPU: 0 UID: 0 PID: 70 Comm: t Not tainted 6.12.0+ #1', 'RIP: 0010:io_poll_loop+0x12/0x30', 'Call Trace:', ' <IRQ>', ' rcu_dump_cpu_stacks+0xed/0x170', ' rcu_sched_clock_irq+0x58e/0xb60', ' update_process_times+0x74/0xb0', ' __sysvec_apic_timer_interrupt+0x52/0x130', ' sysvec_apic_timer_interrupt+0x6a/0x80', ' </IRQ>', ' <TASK>', ' asm_sysvec_apic_timer_interrupt+0x1a/0x20', 'RIP: 0010:io_poll_loop+0x12/0x30', 'Code: 00 00', ' io_uring_poll_wait+0x22/0x40', ' io_issue_sqe+0x1b2/0x3f0', ' io_submit_sqes+0x1bf/0x730', ' __do_sys_io_uring_enter+0x43f/0x600', ' do_syscall_64+0x4c/0x100', ' entry_SYSCALL_64_after_hwframe+0x4b/0x53', ' </TASK>'], 'INFO: rcu detected stall in io_uring_enter'],
  // No interrupted stack to name it by: flagged corrupted, as syzbot does.
  ['RCU stall, expedited, without the rcu: prefix', ['INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 1-... } 21002 jiffies s: 89 root: 0x2/.', 'Sending NMI from CPU 0 to CPUs 1:'], 'INFO: rcu detected stall in corrupted'],
  ['hung task', ['INFO: task fused_test:70 blocked for more than 30 seconds.', '      Not tainted 6.12.0+ #1', 'task:fused_test state:D stack:0 pid:70 tgid:70 ppid:1 flags:0x00004002', 'Call Trace:', ' <TASK>', ' __schedule+0x286/0x670', ' schedule+0x1b/0x90', ' schedule_preempt_disabled+0x15/0x20', ' __mutex_lock.constprop.0+0x3ab/0x6c0', ' io_fused_get_primary+0x44/0x90', ' io_issue_sqe+0x1b2/0x3f0', ' </TASK>'], 'INFO: task hung in io_fused_get_primary'],
  ['scheduling while atomic', ['BUG: scheduling while atomic: t/70/0x00000002', 'CPU: 0 UID: 0 PID: 70 Comm: t Not tainted 6.12.0+ #1', 'Call Trace:', ' <TASK>', ' dump_stack_lvl+0x5d/0x80', ' __schedule_bug+0x52/0x70', ' __schedule+0x5b6/0x670', ' schedule+0x1b/0x90', ' schedule_timeout+0x7a/0xe0', ' ublk_wait_for_idle+0x33/0x60', ' </TASK>'], 'BUG: scheduling while atomic in ublk_wait_for_idle'],
];

for (const [name, lines, title] of SNIPPETS) {
  test(`6.12 report: ${name} → ${title}`, (t) => {
    const got = detectCrashes(klog(body('T70', lines)));
    t.is(got[0]?.title, title, JSON.stringify(got.map((c) => c.title)));
  });
}

test('kmemleak: the allocating caller names the leak, with or without [<address>]; one record per site, counted', (t) => {
  const leak = (frames: string[]) => detectCrashes(klog(body('T1', ['unreferenced object 0xffff888002ec88a0 (size 96):', '  comm "x", pid 1, jiffies 4294682285', '  backtrace (crc 42edcaf6):', ...frames])))[0]?.title;
  t.is(leak(['    [<ffffffff812b4f4e>] __kmalloc_cache_noprof+0x10b/0x1e0', '    [<ffffffff81501234>] ublk_io_buf_get.isra.0+0x1e/0x40']), 'memory leak in ublk_io_buf_get');
  t.is(leak(['    kmemleak_alloc+0x4a/0x80', '    kmem_cache_alloc_noprof+0x10/0x20', '    io_alloc_req+0x1e/0x40', '    io_submit_sqes+0x1bf/0x730']), 'memory leak in io_submit_sqes', 'a helper with "alloc" in its name is the allocator too, as syzbot counts it');
  const got = detectCrashes(fs.readFileSync(path.join(dir, 'kmemleak_nop.log'), 'utf8'));
  t.is(got.length, 1);
  t.is(got[0]!.count, 8, 'eight NOPs, eight leaked objects, one report');
  t.false(got[0]!.fatal);
});

// syzkaller's corpus: the first report of each log must get syzbot's title; logs without a
// TITLE must give no report at all.
const syzDir = path.join(repoRoot, 'test', 'fixtures', 'syzkaller');
const EXACT_FLOOR = 0.95;

test(`syzkaller corpus: ≥ ${EXACT_FLOOR * 100}% of titles exactly syzbot's, no report where syzbot finds none`, (t) => {
  const files = fs.readdirSync(syzDir).filter((f) => /^\d+$/.test(f));
  let withTitle = 0;
  let exact = 0;
  const falseReports: string[] = [];
  const misses: string[] = [];
  for (const f of files) {
    const data = fs.readFileSync(path.join(syzDir, f), 'latin1').replace(/\r/g, '');
    const cut = data.indexOf('\n\n');
    const want = /^TITLE: (.*)$/m.exec(data.slice(0, cut))?.[1] ?? null;
    let log = data.slice(cut + 2);
    const rep = log.indexOf('\n\nREPORT:\n');
    if (rep >= 0) log = log.slice(0, rep + 1);
    const got = detectCrashes(log);
    if (want === null) {
      if (got.length > 0) falseReports.push(`${f}: ${got[0]!.title}`);
      continue;
    }
    withTitle++;
    if (got[0]?.title === want) exact++;
    else misses.push(`${f}: want '${want}', got '${got[0]?.title ?? '(none)'}'`);
  }
  const rate = exact / withTitle;
  t.log(`syzkaller corpus: ${exact}/${withTitle} titles exact (${(rate * 100).toFixed(1)}%), ${files.length - withTitle} logs without a report, ${falseReports.length} false reports`);
  for (const m of misses) t.log(`  differs: ${m}`);
  t.deepEqual(falseReports, []);
  t.true(rate >= EXACT_FLOOR, `${(rate * 100).toFixed(1)}% < ${EXACT_FLOOR * 100}%`);
});
