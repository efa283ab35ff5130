// Kernel report detection over a console log, with titles in syzbot's conventions
// (syzkaller pkg/report, Linux) so that a report can be looked up on the syzbot dashboard
// and pasted into a reply on the list. Everything that varies is data:
//   FORMATS       one row per kind of report: the header line that starts it, its title
//                 template, where the guilty frame is looked for, whether it is fatal;
//   SKIP_FRAMES   functions that never name a bug (helpers, reporting machinery);
//   ENTRY_FRAMES  entry points (syscall, workqueue, kthread) that name no bug either, but
//                 anchor the frame picked for stalls.
// The engine below walks the console once: it charges each report to the test whose
// `kl: test-start` marker came last, keeps only the lines of the reporting task or CPU
// (PRINTK_CALLER), and flags a report `corrupted` when it is cut off or has no usable frame.
import { testMarker } from './agent.ts';
import type { CrashRecord } from './types.ts';

// ---------------------------------------------------------------------------------------
// Console lines

interface Line {
  text: string; // the kernel message, without host stamp, printk time and caller id
  ctx: string; // 'T123' / 'C1' (PRINTK_CALLER), 'console' (time, no caller), '' (no time)
  no: number; // 1-based line number in the console log
}

// [host 1.234] [   12.345678][  T123] text   (our own host stamp, then printk's prefix)
const HOST_STAMP = /^\[host\s+[\d.]+\]\s?/;
const PRINTK_PREFIX = /^(?:\*\* \d+ printk messages dropped \*\* )?(?:.* login: )?(?:<\d+>)?\[\s*\d+\.\d+\](?:\[\s*([TC])\s*(\d+)\])? ?/;

function parseLine(raw: string, no: number): Line {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  const noHost = line.replace(HOST_STAMP, '');
  const m = PRINTK_PREFIX.exec(noHost);
  if (!m) return { text: noHost, ctx: '', no };
  return { text: noHost.slice(m[0].length), ctx: m[1] ? `${m[1]}${m[2]}` : 'console', no };
}

/** Console line → kernel message text: strip our host stamp, printk time and caller id. */
export function stripPrefixes(line: string): string {
  return parseLine(line, 0).text;
}

// ---------------------------------------------------------------------------------------
// Frames

// A stack frame line: optional [<pc>] pairs, then name+0xoff/0xsize. A frame printed with
// "? " is a stale word found on the stack, not a call: it never names anything.
const FRAME_LINE = /^\s*(?:\[<?(?:0x)?[0-9a-f]+>?\]\s*){0,2}(\??\s*)([A-Za-z_]\w*)(?:\.[\w.]+)?\+0x[0-9a-f]+/;
// The faulting instruction: "RIP: 0010:func+0x12/0x40", older "IP: [<ffff>] func+0x..",
// other arches "PC is at func+0x..", or a user address (a RIP line that names no function).
const RIP_LINE = /\b(?:R?IP|NIP|pc |PC is at):? (?:\d+:)?(?:(?:\[<?(?:0x)?[0-9a-f]+>?\]\s+){0,2}([A-Za-z_]\w*)[.+]|0x[0-9a-f]+|\[<\s*\(null\)>\]|\(null\)|\d+: +\(null\))/;
const CALL_TRACE = /Call [Tt]race:|Backtrace:/;
// A line that starts (another) stack trace: a trace being read ends there.
const STACK_START = /Call [Tt]race|Allocated:|Allocated by task \d+:|Freed:|Freed by task \d+:|[^k] backtrace(?: \(crc [0-9a-f]*\))?:|Backtrace:|Uninit was stored to memory at/;
// Fault injection prints its own stack into the middle of reports: such a report is suspect.
const FAULT_INJECTION_FRAME = /^\s*(?:\[<?(?:0x)?[0-9a-f]+>?\]\s*)?should_fail(?:slab|_ex)?(?:\.[\w.]+)?\+0x/;
// "... , at: func+0x12/0x40" (lockdep), "[<ffff>] func+0x" (a bare pc and symbol).
const AT_FRAME = /at: (?:\[<?(?:0x)?[0-9a-f]+>?\] +)?([A-Za-z_]\w*)[.+]/;
const PC_FRAME = /\[<?(?:0x)?[0-9a-f]+>?\] +([A-Za-z_]\w*)[.+]/;

/** Strip offsets and compiler clone suffixes: foo.isra.0+0x1c/0x40 → foo. */
export function normaliseFunc(f: string): string {
  return f
    .replace(/\+0x[0-9a-f]+\/0x[0-9a-f]+.*$/i, '')
    .replace(/\.(isra|constprop|part|cold|llvm|lto_priv)(\.\d+)*/g, '')
    .replace(/^[\s?]+/, '');
}

// Functions that never name the bug (matched anywhere in the name, like syzkaller's list).
// Grouped by why: they are how the bug was noticed or reported, or a helper the guilty
// caller handed bad arguments to.
export const SKIP_FRAMES: Record<string, string[]> = {
  sanitizers: ['__sanitizer', '__asan', 'kasan', 'hwasan', '__msan', 'kmsan', 'kcsan_setup_watchpoint', 'kfence_', '__ubsan', 'ubsan_', 'check_memory_region', 'read_word_at_a_time', '(?:read|write)_once_.*nocheck'],
  reporting: ['print_address_description', 'print_report', 'panic', 'report_bug', 'fixup_bug', 'handle_bug', 'exc_invalid_op', 'asm_exc_', 'print_usage_bug', 'do_error', 'invalid_op', '_trap$', 'do_trap', 'show_stack', 'dump_stack', 'walk_stack', 'dump_backtrace', 'warn_slowpath', 'warn_alloc', 'warn_bogus', '__warn', 'print_tainted', '^get_taint$', 'printk', 'va_format', 'dev_(?:info|notice|warn|err|alert|crit|emerg)', 'hex_dump_to_buffer', 'print_hex_dump', 'stack_trace_consume_entry', 'arch_stack_walk', 'stack_trace_save', 'assertfail', '__fortify_report'],
  allocators: ['alloc_page', 'k?v?(?:m|z|c)alloc', 'krealloc', 'kmem_cache', 'allocate_slab', 'slab_', '__alloc_frozen_pages', 'folio_(?:alloc|unlock)', 'filemap_alloc_folio', '__filemap_get_folio', 'find_or_create_page', 'do_read_cache_folio', 'read_cache_page', 'pagecache_get_page', 'grab_cache_page_write_begin', '^kv?free$', 'kfree_skb', 'memdup', 'strdup', 'strndup', 'kasprintf', 'kvasprintf'],
  strings: ['memcpy', 'memcmp', 'memset', 'memchr', 'memmove', 'strcmp', 'strncmp', 'strcpy', 'strlcpy', 'strncpy', 'strscpy', 'strlen', 'strstr', 'strnstr', 'strnlen', 'strchr', 'string', 'pointer', 'snprintf', 'scnprintf', '^crc\\d+', 'crc_itu_t'],
  usercopy: ['copy_to_user', 'copy_from_user', 'copy_to_iter', 'copy_from_iter', 'copy_page_to_iter', 'copy_page_from_iter', 'copy_folio_to_iter', '^copyin$', '^copyout$', 'put_user', 'get_user', 'check_heap_object', 'check_object', 'check_stack_object', 'usercopy_abort', 'might_fault', '__might_fault', 'extract_(?:user|iter)_to_sg'],
  sleeping: ['might_sleep', '__might_resched'],
  debugobjects: ['debug_object', 'timer_is_static_object', 'work_is_static_object'],
  lockdep: ['lockdep', 'print_unlock', 'imbalance_bug', 'lock_acquire', 'lock_release', 'lock_class', 'mark_lock', '(?:reacquire|mark)_held_locks', 'check_prev_add', 'validate_chain', 'check_noncircular', 'print_circular_bug', 'check_irq_usage', '(?:trace|lockdep)_(?:hard|soft)irq', 'bh_enable', 'bh_disable'],
  locking: ['raw_spin_rq', 'spin_lock', 'spin_trylock', 'spin_unlock', 'read_lock', 'read_trylock', 'write_lock', 'write_trylock', 'read_unlock', 'write_unlock', '^down$', 'down_read', 'down_write', 'down_trylock', 'up_read', 'up_write', '^mutex_', '^__mutex_', '^rt_mutex_', 'owner_on_cpu', 'osq_lock', 'osq_unlock', '^(?:un)?lock_page', 'seqprop_assert'],
  atomics: ['atomic(?:64)?_(?:dec|inc|read|set|or|xor|and|add|sub|fetch|xchg|cmpxchg|try)', '(?:set|clear|change|test)_bit', '__wake_up', '^complete$', 'wait_for_completion', 'finish_wait'],
  refcount: ['^refcount_', '^kref_', 'ref_tracker'],
  lists: ['list_add', 'list_del', 'list_replace', 'list_move', 'list_splice', '^rb_', '^__rb_', '^klist_', 'xas_(?:start|load|find)', 'rhashtable_lookup', 'ida_free'],
  workqueue: ['del_timer', 'flush_work', '__cancel_work_timer', 'cancel_work_sync', 'try_to_grab_pending', 'flush_workqueue', 'drain_workqueue', 'destroy_workqueue', 'queue_work', 'insert_work', '__queue_delayed_work', 'queue_delayed_work_on', 'kthread_stop', 'lock_timer_base', '__timer_delete_sync', 'sk_stop_timer_sync', '__mod_timer', 'cleanup_srcu_struct'],
  devices: ['kobject_', 'add_uevent_var', 'get_device_parent', 'device_add', 'device_del', 'device_unregister', 'device_destroy', 'device_release', 'devres_release_all', 'device_for_each_child', 'sysfs_remove', 'device_remove_file', '^put_device$', 'readb$', 'readw$', 'readl$', 'readq$', 'writeb$', 'writew$', 'writel$', 'writeq$', 'logic_in', 'logic_out', 'perf_trace'],
  vfs: ['^iput$', '^iput_final$', '^ihold$', 'drop_nlink', 'fast_dput', 'dput', 'mark_buffer_dirty', 'find_lock_entries', 'truncate_inode_pages_range', '__phys_addr', '_indirect_thunk_'],
};
// Where every kernel stack ends: syscall entry, workqueue and kthread plumbing. They never name
// a bug found in a call trace; stalls use them as anchors (the frame just above one is picked).
export const ENTRY_FRAMES = ['^entry_SYSCALL', '^do_syscall_', '^x64_sys_call$', '^ret_from_fork', '^kthread$', '^worker_thread$', '^process_one_work$'];

// Syscall wrappers: the same syscall must have one name on every arch and kernel version.
const SYSCALL_PREFIXES = ['SYSC_', 'SyS_', 'sys_', '__x64_', '__ia32_', '__arm64_', '____sys_', '___sys_', '__sys_', '__se_', '__se_sys_', '__do_sys_', 'compat_SYSC_', 'compat_SyS_', 'ksys_'];

function stripSyscallPrefix(f: string): string {
  let best = f;
  for (const p of SYSCALL_PREFIXES) if (f.startsWith(p) && f.length - p.length < best.length) best = f.slice(p.length);
  return best;
}

// Stalls loop across several functions, so the top frame differs from report to report. They
// are named by the frame just above the first of these (what the syscall or work item was).
const STALL_ANCHORS = new RegExp(
  [
    'process_one_work', 'do_syscall_', 'do_fast_syscall_', 'sysenter_dispatch', 'tracesys_phase2', 'el0_svc_handler', 'invoke_syscall', 'ret_fast_syscall',
    'netif_receive_skb', 'do_softirq', 'call_timer_fn', '_run_timers', 'run_timer_softirq', 'hrtimer_run', 'run_ksoftirqd', 'smpboot_thread_fn', '^kthread$', 'start_secondary', 'cpu_startup_entry', 'ret_from_fork',
    'vfs_write', 'vfs_read', 'vfs_iter_read', 'vfs_iter_write', 'do_iter_read', 'do_iter_write', 'call_read_iter', 'call_write_iter', 'new_sync_read', 'new_sync_write', 'vfs_ioctl', 'ksys_ioctl', 'compat_ioctl', 'compat_sys_ioctl', 'blkdev_driver_ioctl', 'blkdev_ioctl', 'do_iter_readv_writev', '^call_mmap', 'mmap_region', 'do_mmap', 'do_dentry_open', 'vfs_open',
    '^sock_sendmsg', '^sock_recvmsg', '^sock_release', '^__sock_release', '^setsockopt$', 'kernel_setsockopt', 'sock_common_setsockopt', '^listen$', 'kernel_listen', 'sk_common_release', '^sock_mmap', '^accept$', 'kernel_accept', '^sock_do_ioctl', '^sock_ioctl', '^compat_sock_ioctl', '^nfnetlink_rcv_msg', '^rtnetlink_rcv_msg', '^netlink_dump', '^(?:sys_)?(?:socketpair|connect|ioctl)',
    '__do_fault', 'do_page_fault', '^page_fault$', '__fput', 'task_work_run', 'exit_to_usermode', 'smp_call_function', 'tasklet_action', 'tasklet_hi_action',
  ].join('|'),
);

type Picker = (frames: string[]) => string | null;

const pickFirst: Picker = (frames) => frames[0] ?? null;

const pickStall: Picker = (frames) => {
  let prev = frames[0];
  for (const f of frames) {
    if (STALL_ANCHORS.test(f)) return f.includes('smp_call_function') ? 'smp_call_function' : (prev ?? null);
    prev = f;
  }
  return null;
};

// A hung task is usually a victim; hangs on RCU grace periods and on rtnl are grouped.
const HUNG_GROUPS: [string, string][] = [['rtnl_lock', 'rtnl_lock'], ['synchronize_rcu', 'synchronize_rcu'], ['synchronize_srcu', 'synchronize_rcu'], ['synchronize_net', 'synchronize_rcu'], ['synchronize_sched', 'synchronize_rcu']];
const HUNG_WAITING = /sched|_lock|_slowlock|down|rwsem|completion|kthread|wait|synchronize|context_switch|__switch_to|cancel_delayed_work|rcu_barrier/;

const pickHung: Picker = (frames) => {
  for (const f of frames) for (const [anchor, name] of HUNG_GROUPS) if (f.includes(anchor)) return name;
  return frames.find((f) => !HUNG_WAITING.test(f)) ?? null;
};

// ---------------------------------------------------------------------------------------
// Formats

/**
 * Where a format's guilty frame is looked for, in order: 'header' (the function named in the
 * header line), 'rip' (the faulting instruction), a RegExp (the next line it matches; its first
 * group, if any, is a candidate), 'trace' (frames until the next stack starts).
 */
type Step = 'header' | 'rip' | 'trace' | RegExp;

interface Stack {
  steps: Step[];
  alt?: Step[]; // tried when steps find no usable frame
  more?: Step[][]; // then these, in order
  skip?: string[]; // frames this format never names, besides SKIP_FRAMES
  pick?: 'first' | 'stall' | 'hung';
}

export interface Format {
  type: string; // CrashRecord.type
  header: RegExp; // matched against a message; the named group `frame` is the 'header' step
  detail?: RegExp; // must match the report text; its groups follow the header's in the title
  title: string; // $1.. = groups of header then detail; {frame} = the guilty frame
  stack?: Stack;
  noStack?: boolean; // printed without a stack trace: none is needed for the report to be whole
  corrupted?: boolean; // a header that means the real start of the report was lost
  fatal?: boolean; // the kernel stops here
  joins?: RegExp; // inside an open report whose header matches this, continues it
}

const ANY = /./;
const onTrace = (skip?: string[], pick?: Stack['pick']): Stack => ({ steps: [CALL_TRACE, 'trace'], ...(skip ? { skip } : {}), ...(pick ? { pick } : {}) });
const onRip = (skip?: string[], pick?: Stack['pick']): Stack => ({ steps: ['rip', CALL_TRACE, 'trace'], ...(skip ? { skip } : {}), ...(pick ? { pick } : {}) });
// __warn(): the RIP is the function that warned, unless it is a helper; then the call trace.
const onWarn = (...skip: string[]): Stack => ({ steps: [/(?:\b(?:R?IP|NIP|pc |PC is at):? (?:\d+:)?(?:\[<?(?:0x)?[0-9a-f]+>?\]\s+){0,2}([A-Za-z_]\w*)[.+])|--- interrupt: \d+ at ([A-Za-z_]\w*)[.+]/, 'trace'], alt: [CALL_TRACE, 'trace'], skip });
const onHeader = (skip?: string[]): Stack => ({ steps: ['header', CALL_TRACE, 'trace'], ...(skip ? { skip } : {}) });

// The line __warn() prints: "WARNING: CPU: 0 PID: 1 at lib/refcount.c:25 refcount_warn_saturate+0x..",
// and the forms of older and newer kernels. `file` and `fn` narrow it to one subsystem's warnings.
function warnAt(file = '[\\w\\-/.]+', fn = ''): RegExp {
  return new RegExp(String.raw`^WARNING: (?:CPU: \d+ PID: \d+ at |\[[^\]]*\] |at )?(?:${file})\.[a-z]+:\d+ (?:at )?(?:(?<frame>${fn ? String.raw`\w*(?:${fn})\w*` : String.raw`[A-Za-z_]\w*`})[.+]|0x[0-9a-f]+)`);
}

const LOCK_AT = String.raw`at: (?:\[<?(?:0x)?[0-9a-f]+>?\] +)?([A-Za-z_]\w*)[.+]`;
const lockAfter = (what: string) => new RegExp(String.raw`${what}[\s\S]*?${LOCK_AT}`);
const LEAK_SKIP = ['kmemleak', 'mmap', 'kmem', 'slab', 'alloc', 'create_object', 'idr_get', 'list_lru_init', 'kasprintf', 'kvasprintf', 'pcpu_create', 'strdup', 'strndup', 'memdup'];
const leakStack: Stack = { steps: [/backtrace(?: \(crc [0-9a-f]*\))?:/, 'trace'], skip: LEAK_SKIP };
const UBSAN_SKIP = ['ubsan', 'overflow'];

// Order matters: the first format whose header matches (and whose detail, if any, matches
// the report) names the report.
export const FORMATS: Format[] = [
  // KASAN, KFENCE, KMSAN, KCSAN
  { type: 'KASAN', header: /^BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in (?<frame>\w+)[.+]/, title: 'KASAN: invalid-free in {frame}', stack: onHeader(['slab_', 'kfree', 'vunmap', 'vfree']) },
  { type: 'KASAN', header: /^BUG: KASAN: ([a-z-]+) in (?<frame>\w+)[.+]/, detail: /(Read|Write) (?:of size|at addr) [0-9a-f]+/, title: 'KASAN: $1 $3 in {frame}', stack: onHeader(['kernel_fault', 'tag_check', 'mem_abort', '^el1_', '^el1h_']) },
  { type: 'KASAN', header: /^BUG: KASAN: ([a-z-]+) on address/, detail: /(Read|Write) of size (\d+)/, title: 'KASAN: $1 $2', noStack: true },
  { type: 'KASAN', header: /^BUG: KASAN: (.*)/, title: 'KASAN: $1', corrupted: true },
  { type: 'KFENCE', header: /^BUG: KFENCE: (use-after-free|out-of-bounds) (read|write) in (?<frame>\w+)[.+]/, title: 'KFENCE: $1 $2 in {frame}', stack: { steps: ['header', 'trace'] } },
  { type: 'KFENCE', header: /^BUG: KFENCE: invalid free in (?<frame>\w+)[.+]/, title: 'KFENCE: invalid free in {frame}', stack: { steps: ['header', 'trace'] }, noStack: true },
  { type: 'KFENCE', header: /^BUG: KFENCE: invalid (read|write) in (?<frame>\w+)[.+]/, title: 'KFENCE: invalid $1 in {frame}', stack: { steps: ['header', 'trace'] } },
  { type: 'KFENCE', header: /^BUG: KFENCE: memory corruption in (?<frame>\w+)[.+]/, title: 'KFENCE: memory corruption in {frame}', stack: { steps: ['header', 'trace'] }, noStack: true },
  { type: 'KMSAN', header: /^BUG: KMSAN: ([a-z-]+) in (?<frame>\w+)[.+]/, title: 'KMSAN: $1 in {frame}', stack: { steps: ['header', 'trace'] }, noStack: true },
  { type: 'KCSAN', header: /^BUG: KCSAN: (.*)/, title: 'KCSAN: $1', noStack: true },

  // Page faults and other Oopses
  { type: 'BUG', header: /^BUG: (?:unable to handle kernel paging request|unable to handle page fault for address|Unable to handle kernel data access)/, title: 'BUG: unable to handle kernel paging request in {frame}', stack: onRip() },
  { type: 'BUG', header: /^BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference|Kernel NULL pointer dereference)/, title: 'BUG: unable to handle kernel NULL pointer dereference in {frame}', stack: onRip() },
  { type: 'BUG', header: /^BUG: (?:unable to handle kernel|Unable to handle kernel)/, title: 'BUG: unable to handle kernel', corrupted: true },
  { type: 'BUG', header: /^Unable to handle kernel (paging request|NULL pointer dereference|access to user memory)/, title: 'BUG: unable to handle kernel $1 in {frame}', stack: onRip() },
  { type: 'Oops', header: /^(?:Oops: )?general protection fault.*:/, title: 'general protection fault in {frame}', stack: onRip() },
  { type: 'Oops', header: /^(?:Oops: )?stack segment: /, title: 'stack segment fault in {frame}', stack: onRip() },
  { type: 'Oops', header: /^(?:Oops: )?divide(?: |_)error: /, title: 'divide error in {frame}', stack: { steps: ['rip'] }, noStack: true },
  { type: 'Oops', header: /^(?:Oops: )?int3: /, title: 'int3 in {frame}', stack: onRip() },
  { type: 'Oops', header: /^(?:Oops: )?invalid opcode: /, title: 'invalid opcode in {frame}', stack: { steps: ['rip'] }, noStack: true, joins: ANY },
  { type: 'panic', header: /^PANIC: double fault/, title: 'PANIC: double fault in {frame}', stack: { steps: ['rip'] }, noStack: true, fatal: true },
  { type: 'Oops', header: /^Oops: (?:Oops: )?[0-9a-f]{4} \[#\d+\]/, title: 'Oops in {frame}', stack: onRip(), joins: ANY },

  // BUG() and the checks built on it
  { type: 'BUG', header: /^kernel BUG at mm\/usercopy\.c/, title: 'BUG: bad usercopy in {frame}', stack: onTrace(['usercopy', '__check']) },
  { type: 'BUG', header: /^kernel BUG at lib\/list_debug\.c/, title: 'BUG: corrupted list in {frame}', stack: onTrace() },
  { type: 'BUG', header: /^kernel BUG at (.*)/, title: 'kernel BUG in {frame}', stack: onRip(['^skb_']) },
  { type: 'BUG', header: /^Kernel BUG (.*)/, title: 'kernel BUG $1', noStack: true },
  { type: 'BUG', header: /^BUG kmalloc-.*: Object already free/, title: 'BUG: Object already free', noStack: true },

  // Scheduler, sleeping and locking checks that print "BUG:"
  { type: 'BUG', header: /^BUG: sleeping function called from invalid context at /, title: 'BUG: sleeping function called from invalid context in {frame}', stack: onTrace() },
  { type: 'BUG', header: /^BUG: scheduling while atomic/, title: 'BUG: scheduling while atomic in {frame}', stack: onTrace(['schedule']) },
  { type: 'BUG', header: /^BUG: using (\w+)\(\) in preemptible/, title: 'BUG: using $1() in preemptible code in {frame}', stack: onTrace(['dump_stack', 'preemption', 'preempt', 'debug_', 'processor_id', 'this_cpu']) },
  { type: 'soft lockup', header: /^(?:watchdog: )?BUG: soft lockup/, title: 'BUG: soft lockup in {frame}', stack: onRip([], 'stall') },
  { type: 'BUG', header: /^BUG: .*stack guard page was hit at/, title: 'BUG: stack guard page was hit in {frame}', stack: onRip([], 'stall') },
  { type: 'BUG', header: /^BUG: (spinlock|rwlock) (lockup suspected|already unlocked|recursion|cpu recursion|bad magic|wrong owner|wrong CPU|trylock failure on UP)/, title: 'BUG: $1 $2 in {frame}', stack: onTrace(['spin_', '_lock', '_unlock']) },
  { type: 'BUG', header: /^BUG: workqueue lockup/, title: 'BUG: workqueue lockup', noStack: true },
  { type: 'BUG', header: /^BUG: workqueue leaked lock or atomic/, detail: /last function: (\w+)\n/, title: 'BUG: workqueue leaked lock or atomic in $1', noStack: true },
  { type: 'BUG', header: /^BUG: Bad page (state|cache)/, title: 'BUG: Bad page $1 in {frame}', stack: { steps: [/page last allocated/, 'trace'], skip: ['(?:free|put|get|update|release)_page', 'free_unref', '^_*folio', 'truncate_inode_pages', 'page_frag_free', 'alloc', 'vmap', 'page_owner'] } },
  { type: 'BUG', header: /^BUG: Bad page map/, title: 'BUG: Bad page map' },
  { type: 'BUG', header: /^BUG: Bad rss-counter state/, title: 'BUG: Bad rss-counter state', noStack: true },
  { type: 'BUG', header: /^BUG: Dentry .* still in use/, detail: /\[(unmount) of ([^\]]+)\]/, title: 'BUG: Dentry still in use in $1' },
  { type: 'kmemleak', header: /^BUG: memory leak/, title: 'memory leak in {frame}', stack: leakStack },
  { type: 'kmemleak', header: /^unreferenced object 0x[0-9a-f]+ \(size \d+\):/, title: 'memory leak in {frame}', stack: leakStack, joins: /^BUG: memory leak/ },

  // lockdep
  { type: 'lockdep', header: /^(?:\[ )?BUG: Invalid wait context/, title: 'WARNING: locking bug in {frame}', stack: onTrace(['lock_sock', 'release_sock']) },
  { type: 'lockdep', header: /^(BUG|WARNING): .*still has locks held!/, detail: /still has locks held![\s\S]*?at: (?:\[<?(?:0x)?[0-9a-f]+>?\] +)?([A-Za-z_]\w*)[.+]/, title: '$1: still has locks held in $2' },
  { type: 'lockdep', header: /^(BUG|WARNING): lock held when returning to user space/, detail: lockAfter('leaving the kernel with locks still held'), title: '$1: lock held when returning to user space in $2', noStack: true },
  { type: 'lockdep', header: /^(BUG|WARNING): bad unlock balance detected!/, title: '$1: bad unlock balance in {frame}', stack: { steps: [PC_FRAME, CALL_TRACE, 'trace'] } },
  { type: 'lockdep', header: /^(BUG|WARNING): held lock freed!/, detail: /held lock freed![\s\S]*?at:(?: \[<?(?:0x)?[0-9a-f]+>?\])? +([A-Za-z_]\w*)[.+]/, title: '$1: held lock freed in $2' },
  { type: 'lockdep', header: /^(?:WARNING|INFO): possible circular locking dependency detected/, detail: /is trying to acquire lock/, title: 'possible deadlock in {frame}', stack: { steps: [AT_FRAME, AT_FRAME, 'trace'], skip: ['process_one_work', 'flush_workqueue', 'drain_workqueue', 'destroy_workqueue'] } },
  { type: 'lockdep', header: /^(?:WARNING|INFO): possible irq lock inversion dependency detected/, detail: lockAfter('just changed the state of lock'), title: 'possible deadlock in $1' },
  { type: 'lockdep', header: /^(?:WARNING|INFO): .*-safe -> .*-unsafe lock order detected/, title: 'possible deadlock in {frame}', stack: { steps: [/which became (?:.*) at:/, 'trace'] } },
  { type: 'lockdep', header: /^(?:WARNING|INFO): possible recursive locking detected/, detail: lockAfter('is trying to acquire lock'), title: 'possible deadlock in $1' },
  { type: 'lockdep', header: /^(?:WARNING|INFO): inconsistent lock state/, detail: lockAfter('takes'), title: 'inconsistent lock state in {frame}', stack: onTrace() },
  { type: 'lockdep', header: /^(WARNING|INFO): suspicious RCU usage/, detail: /([\w\-/.]+\.[a-z]+:\d+)/, title: '$1: suspicious RCU usage in {frame}', stack: onTrace(['rcu', 'kmem', 'slab']) },
  { type: 'lockdep', header: /^WARNING: Nested lock was not taken/, title: 'WARNING: nested lock was not taken in {frame}', stack: onWarn() },
  { type: 'lockdep', header: /^INFO: trying to register non-static key/, title: 'INFO: trying to register non-static key in {frame}', stack: onTrace(['stack', 'lock', 'IRQ']) },

  // WARN(): only the line __warn() prints, named by subsystem where syzbot does
  { type: 'WARNING', header: warnAt('lib/debugobjects', 'debug_print|debug_check'), title: 'WARNING: ODEBUG bug in {frame}', stack: onWarn('debug_', 'rcu', 'hrtimer_', 'timer_', 'work_', 'percpu_', 'vunmap', 'vfree', '__free_', 'debug_check', 'kobject_') },
  { type: 'WARNING', header: warnAt('lib/debugobjects'), title: 'WARNING: ODEBUG bug in {frame}', stack: onWarn('debug_', 'rcu', 'hrtimer_', 'timer_', 'work_', 'percpu_', 'vunmap', 'vfree', '__free_', 'debug_check', 'kobject_') },
  { type: 'WARNING', header: warnAt('mm/usercopy'), title: 'WARNING: bad usercopy in {frame}', stack: onWarn('usercopy', '__check') },
  { type: 'WARNING', header: warnAt('lib/kobject'), title: 'WARNING: kobject bug in {frame}', stack: onWarn('kobject_') },
  { type: 'WARNING', header: warnAt('fs/proc/generic'), title: 'WARNING: proc registration bug in {frame}', stack: onWarn('proc_') },
  { type: 'WARNING', header: warnAt('lib/refcount'), title: 'WARNING: refcount bug in {frame}', stack: onWarn('refcount', 'kobject_') },
  { type: 'WARNING', header: warnAt('kernel/locking/lockdep', 'lock_'), title: 'WARNING: locking bug in {frame}', stack: onWarn('lock_sock', 'release_sock') },
  { type: 'WARNING', header: warnAt('mm/vmalloc', '__vmalloc_node'), title: 'WARNING: zero-size vmalloc in {frame}', stack: onWarn() },
  { type: 'WARNING', header: warnAt('mm/[\\w\\-/.]+', 'k.?.?malloc'), title: 'WARNING: kmalloc bug in {frame}', stack: onWarn('kmalloc', 'krealloc', 'slab', 'kmem') },
  { type: 'WARNING', header: warnAt(), title: 'WARNING in {frame}', stack: onWarn() },
  { type: 'WARNING', header: /^WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad '([^']+)' value/, title: "WARNING: kernel stack regs has bad '$1' value", noStack: true },
  { type: 'WARNING', header: /^WARNING: kernel stack frame pointer at [0-9a-f]+ in [^ ]* has bad value/, title: 'WARNING: kernel stack frame pointer has bad value', noStack: true },
  { type: 'WARNING', header: /^WARNING:\s*$/, title: 'WARNING: corrupted', corrupted: true },

  // Hangs and stalls
  { type: 'RCU stall', header: /^(?:rcu: )?INFO: rcu_(?:preempt|sched|bh|tasks) (?:self-)?detected(?: expedited)? stall/, title: 'INFO: rcu detected stall in {frame}', stack: { steps: [/apic_timer_interrupt/, 'rip', 'trace'], alt: [/apic_timer_interrupt|Exception stack|el1h_64_irq/, 'trace'], more: [[/NMI backtrace for cpu/, 'rip', /Call Trace:/, 'trace']], skip: ['apic_timer_interrupt', 'rcu'], pick: 'stall' } },
  { type: 'hung task', header: /^INFO: task .{0,100}? blocked (?:in I\/O wait )?for more than \d+ seconds/, title: 'INFO: task hung in {frame}', stack: onTrace([], 'hung') },
  { type: 'hung task', header: /^INFO: task .{0,100}? can't die for more than .* seconds/, title: "INFO: task can't die in {frame}", stack: onTrace(['schedule']) },
  { type: 'KASAN', header: /^INFO: (Freed|Allocated) in (.*)/, title: 'INFO: $1 in $2', corrupted: true },
  { type: 'BUG', header: /^INFO:\s*$/, title: 'INFO: corrupted', corrupted: true },

  // UBSAN
  { type: 'UBSAN', header: /^UBSAN: Undefined behaviour in/, title: 'UBSAN: undefined-behaviour in {frame}', stack: onTrace(UBSAN_SKIP) },
  { type: 'UBSAN', header: /^UBSAN: (.*?) in/, title: 'UBSAN: $1 in {frame}', stack: onTrace(UBSAN_SKIP) },

  // panic()
  { type: 'panic', header: /^Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: (?<frame>\w+)[.+]/, title: 'kernel panic: stack is corrupted in {frame}', stack: { steps: ['header'] }, noStack: true, fatal: true },
  { type: 'panic', header: /^Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: [a-f0-9]+/, title: 'kernel panic: stack is corrupted in {frame}', stack: onTrace(['stack_chk']), fatal: true },
  { type: 'panic', header: /^Kernel panic - not syncing: corrupted stack end detected inside scheduler/, title: 'kernel panic: corrupted stack end in {frame}', stack: onTrace(['schedule', 'retint_kernel'], 'stall'), fatal: true },
  { type: 'panic', header: /^Kernel panic - not syncing: kernel stack overflow/, title: 'kernel stack overflow in {frame}', stack: onTrace(['bad_stack'], 'stall'), fatal: true },
  { type: 'panic', header: /^Kernel panic - not syncing: Attempted to kill init!/, title: 'kernel panic: Attempted to kill init!', fatal: true, joins: ANY },
  { type: 'panic', header: /^Kernel panic - not syncing: Couldn't open N_TTY ldisc for [^ ]+ --- error -\d+/, title: "kernel panic: Couldn't open N_TTY ldisc", fatal: true },
  // These follow the report that caused them; alone, the real report was lost.
  { type: 'panic', header: /^Kernel panic - not syncing: (Fatal exception|panic_on_warn set|hung_task: blocked tasks)/, title: 'kernel panic: $1', corrupted: true, fatal: true, joins: ANY },
  { type: 'panic', header: /^Kernel panic - not syncing: (.*)/, title: 'kernel panic: $1', noStack: true, fatal: true, joins: ANY },

  // Reports without a stack
  { type: 'BUG', header: /^unregister_netdevice: waiting for (?:.*) to become free/, title: 'unregister_netdevice: waiting for DEV to become free', noStack: true, joins: ANY },
  { type: 'BUG', header: /^VFS: Close: file count is 0/, title: 'VFS: Close: file count is zero (use-after-free)', noStack: true },
  { type: 'BUG', header: /^VFS: Busy inodes after unmount/, title: 'VFS: Busy inodes after unmount (use-after-free)', noStack: true },
  // Any other "BUG:" is a bug check; its own words are the title.
  { type: 'BUG', header: /^BUG:\s*$/, title: 'BUG: corrupted', corrupted: true },
  { type: 'BUG', header: /^BUG: (.+)/, title: 'BUG: $1', noStack: true },
];

// Lines that look like a header but are not a report.
const NOT_A_REPORT = /^BUG: no syscalls can create resource|^INFO: lockdep is turned off|^INFO: Stall ended before state dump start|^INFO: NMI handler|^BUG: KASAN: .*\bkunit\b.*expected/;
// Cheap test before the table: a line that can start no report is looked at once.
const MAYBE_HEADER = /BUG|WARNING:|INFO:|Kernel panic|general protection|stack segment|PANIC: double|Unable to handle|UBSAN:|unreferenced object|divide.error|invalid opcode|int3:|^Oops:|unregister_netdevice|^VFS: /;

// Old lockdep put its header in brackets: "[ INFO: possible circular locking dependency detected ]".
const BRACKETED = /^\[ ((?:INFO|BUG|WARNING): .*?) \]\s*$/;

/** The format whose header starts at this message, and the header text it matched. */
function headerFormat(text: string): { format: Format; text: string } | null {
  if (!MAYBE_HEADER.test(text) || NOT_A_REPORT.test(text)) return null;
  const t = BRACKETED.exec(text)?.[1] ?? text;
  for (const f of FORMATS) if (f.header.test(t)) return { format: f, text: t };
  return null;
}

// ---------------------------------------------------------------------------------------
// The guilty frame

const skipRe = (extra: string[] = []) => new RegExp([...Object.values(SKIP_FRAMES).flat(), ...extra].join('|'));
const DEFAULT_SKIP = skipRe();
const ENTRY = new RegExp(ENTRY_FRAMES.join('|'));
const skipCache = new Map<Stack, RegExp>();

interface Candidate {
  name: string;
  fromTrace: boolean; // read in a call trace (not the header or the faulting instruction)
}

/** Candidate frames, in order, for one list of steps over the report's lines (after the header). */
function walk(steps: Step[], header: RegExpExecArray, lines: string[]): { frames: Candidate[]; suspect: boolean } {
  const frames: Candidate[] = [];
  let i = 1;
  const take = (name: string | undefined, fromTrace: boolean) => {
    if (name) frames.push({ name, fromTrace });
  };
  for (let s = 0; s < steps.length; s++) {
    const step = steps[s]!;
    if (step === 'header') {
      take(header.groups?.frame, false);
      continue;
    }
    if (step === 'trace') {
      const next = steps[s + 1];
      const nextRe = next === 'rip' ? RIP_LINE : next instanceof RegExp ? next : null;
      for (; i < lines.length; i++) {
        const l = lines[i]!;
        if (FAULT_INJECTION_FRAME.test(l)) return { frames, suspect: true };
        if (STACK_START.test(l)) {
          i++;
          break;
        }
        const m = nextRe?.exec(l);
        if (m) {
          take(m.slice(1).find(Boolean), false);
          i++;
          s++;
          break;
        }
        const f = FRAME_LINE.exec(l);
        if (f && !f[1]) take(f[2], true);
      }
      continue;
    }
    const re = step === 'rip' ? RIP_LINE : step;
    for (; i < lines.length; i++) {
      if (FAULT_INJECTION_FRAME.test(lines[i]!)) return { frames, suspect: true };
      const m = re.exec(lines[i]!);
      if (m) {
        take(m.slice(1).find(Boolean), false);
        i++;
        break;
      }
    }
  }
  return { frames, suspect: false };
}

function guiltyFrame(stack: Stack, header: RegExpExecArray, lines: string[]): { frame: string | null; suspect: boolean } {
  let skip = skipCache.get(stack);
  if (!skip) skipCache.set(stack, (skip = stack.skip?.length ? skipRe(stack.skip) : DEFAULT_SKIP));
  const pick = stack.pick === 'stall' ? pickStall : stack.pick === 'hung' ? pickHung : pickFirst;
  let suspect = false;
  for (const steps of [stack.steps, stack.alt, ...(stack.more ?? [])]) {
    if (!steps) continue;
    const w = walk(steps, header, lines);
    suspect ||= w.suspect;
    const names = w.frames
      .filter((c) => !skip.test(c.name) && (stack.pick === 'stall' || !c.fromTrace || !ENTRY.test(c.name)))
      .map((c) => stripSyscallPrefix(c.name));
    const frame = pick(names);
    if (frame) return { frame, suspect };
  }
  return { frame: null, suspect };
}

// ---------------------------------------------------------------------------------------
// Titles

// Whatever changes from run to run (addresses, numbers, lines, CPUs) is not part of a title.
const TITLE_REPLACEMENTS: [RegExp, string][] = [
  [/([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}/g, '$1ADDR'],
  [/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/g, 'IP'],
  [/(\.\w+)(:\d+)+/g, '$1:LINE'],
  [/([a-zA-Z][\w.]+)\+0x[0-9a-z]+\/0x[0-9a-z]+/g, '$1'],
  [/CPU#\d+/g, 'CPU'],
  [/(\W)(\d+)(\W|$)/g, '$1NUM$3'],
  [/\d{7,}/g, 'NUM'],
];

export function normaliseTitle(t: string): string {
  for (const [re, to] of TITLE_REPLACEMENTS) {
    for (let prev = ''; prev !== t; ) {
      prev = t;
      t = t.replace(re, to);
    }
  }
  return t.replace(/\t/g, ' ').replace(/[\x00-\x1f\x7f-\uffff]/g, '').replace(/ {2,}/g, ' ').slice(0, 120).trim();
}

// ---------------------------------------------------------------------------------------
// Reports

interface Open {
  format: Format;
  header: RegExpExecArray;
  lines: string[];
  ctx: string;
  test: string | null;
  start: number; // console line number of the header
  fatal: boolean;
  ended: boolean; // closed by an end marker (not cut off)
}

const MAX_LINES = 400;
const END_LINE = /^-+\[ end (?:trace|Kernel panic)|^={20,}\s*$/;
const QUESTIONABLE = /^\s*(?:\[<[0-9a-f]+>\])?\s*\? /;
const DROPPED_LINE = /Disabling lock debugging due to kernel taint/;
const TIMESTAMP_IN_TITLE = /\[ *\d+\.\d+\]/;

interface Described {
  format: Format;
  title: string;
  corrupted: string | null; // the reason, or null
  frame: string | null; // the guilty frame the title names
}

function describe(r: Open): Described {
  const text = r.lines.join('\n');
  let chosen: { format: Format; header: RegExpExecArray; detail: RegExpExecArray | null } | null = null;
  for (const f of FORMATS) {
    const header = f.header.exec(r.lines[0]!);
    if (!header) continue;
    const detail = f.detail ? f.detail.exec(text) : null;
    if (f.detail && !detail) continue; // this header, but not this kind of report: try the next
    chosen = { format: f, header, detail };
    break;
  }
  // No format fits the whole report: its header line is the title.
  if (!chosen) return { format: r.format, title: normaliseTitle(r.lines[0]!), corrupted: 'the report lacks the lines that name the bug', frame: null };
  const { format, header, detail } = chosen;
  const args = [...header.slice(1), ...(detail ? detail.slice(1) : [])];
  let corrupted: string | null = format.corrupted ? 'the header follows a report that was lost' : null;
  let frame = '';
  if (format.stack && format.title.includes('{frame}')) {
    const g = guiltyFrame(format.stack, header, r.lines);
    if (g.suspect) corrupted ??= 'fault injection frames inside the report';
    if (g.frame) frame = g.frame;
    else {
      frame = 'corrupted';
      corrupted ??= 'no usable frame';
    }
  }
  const title = normaliseTitle(format.title.replace(/\$(\d)/g, (_, n) => args[Number(n) - 1] ?? '').replace('{frame}', frame));
  if (TIMESTAMP_IN_TITLE.test(title)) corrupted ??= 'the title has a timestamp in it';
  if (!corrupted && !format.noStack && format.stack) corrupted = stackProblem(r.lines);
  if (!corrupted && !r.ended && r.lines.length < 3) corrupted = 'cut off after the header';
  return { format, title, corrupted, frame: frame && frame !== 'corrupted' ? frame : null };
}

/** A report that should carry a stack: each stack it starts must have frames, and there must be one. */
function stackProblem(lines: string[]): string | null {
  let seen = false;
  for (let i = 0; i < lines.length; i++) {
    if (!STACK_START.test(lines[i]!)) continue;
    seen = true;
    const rest = lines.slice(i + 1, i + 16);
    if (lines.length - i < 4) return 'the call trace is cut off';
    let ok = false;
    for (const l of rest) {
      if (STACK_START.test(l)) break;
      if (FRAME_LINE.test(l) || l.includes('(stack is not available)')) {
        ok = true;
        break;
      }
    }
    if (!ok) return 'no frames in a stack trace';
  }
  return seen ? null : 'no stack trace in the report';
}

export function detectCrashes(consoleText: string): CrashRecord[] {
  const crashes: CrashRecord[] = [];
  const open = new Map<string, Open>();
  let nmiOwner: Open | null = null;
  let test: string | null = null;

  const close = (r: Open) => {
    if (open.get(r.ctx) === r) open.delete(r.ctx);
    if (nmiOwner === r) nmiOwner = null;
    const d = describe(r);
    // A detector that fires again for the same bug (hung task every check, a WARN in a
    // loop, each leaked object) adds to the first record instead of adding records.
    const same = crashes.find((c) => c.title === d.title && c.test === r.test);
    if (same) {
      same.count++;
      return;
    }
    crashes.push({
      type: d.format.type,
      title: d.title,
      ...(d.frame ? { frame: d.frame } : {}),
      test: r.test,
      fatal: r.fatal,
      corrupted: d.corrupted !== null,
      ...(d.corrupted ? { corruptedReason: d.corrupted } : {}),
      report: r.lines.join('\n'),
      line: r.start,
      count: 1,
    });
  };

  const raw = consoleText.split('\n');
  for (let n = 0; n < raw.length; n++) {
    const line = parseLine(raw[n]!, n + 1);
    const marker = testMarker(line.text);
    if (marker) {
      test = marker.kind === 'start' ? marker.test : null;
      // A test boundary ends what its own task (or a console without caller ids) was printing.
      for (const r of [...open.values()]) if (r.ctx === line.ctx || r.ctx === '' || r.ctx === 'console') close(r);
      continue;
    }
    const head = headerFormat(line.text);
    const fmt = head?.format;
    let cur = open.get(line.ctx);
    if (!cur && nmiOwner && line.ctx.startsWith('C')) cur = nmiOwner;
    if (fmt) {
      if (cur && fmt.joins?.test(cur.lines[0]!) && cur.lines.length < MAX_LINES) {
        cur.lines.push(line.text);
        cur.fatal ||= fmt.fatal ?? false;
        continue;
      }
      if (cur && cur.ctx === line.ctx) close(cur);
      const r: Open = { format: fmt, header: fmt.header.exec(head.text)!, lines: [head.text], ctx: line.ctx, test, start: line.no, fatal: fmt.fatal ?? false, ended: false };
      open.set(line.ctx, r);
      continue;
    }
    // A "? func" word is a stale return address, not a call (dropped as syzkaller does when
    // the line has a timestamp).
    if (!cur || DROPPED_LINE.test(line.text) || (line.ctx !== '' && QUESTIONABLE.test(line.text))) continue;
    cur.lines.push(line.text);
    if (line.text.includes('Sending NMI from CPU')) nmiOwner = cur;
    if (END_LINE.test(line.text) && cur.lines.length > 2 && cur.ctx === line.ctx) {
      cur.ended = true;
      close(cur);
    } else if (cur.lines.length >= MAX_LINES) close(cur);
  }
  for (const r of [...open.values()].sort((a, b) => a.start - b.start)) close(r);
  return crashes.sort((a, b) => a.line - b.line);
}
