// Kernel report detection over a console log: a table of formats (syzkaller pkg/report
// style): header regex, crash type, how to build a title. Titles are normalised
// (addresses, offsets, numbers and compiler suffixes stripped) so one bug has one title.
// Each report is charged to the test whose `kl: test-start` marker came last.
import type { CrashRecord } from './types.ts';

interface Format {
  type: string;
  header: RegExp;
  title: (m: RegExpExecArray, report: string[]) => string;
  fatal?: boolean;
}

/** Strip offsets and compiler clone suffixes: foo.isra.0+0x1c/0x40 → foo. */
export function normaliseFunc(f: string): string {
  return f
    .replace(/\+0x[0-9a-f]+\/0x[0-9a-f]+.*$/i, '')
    .replace(/\.(isra|constprop|part|cold|llvm)(\.\d+)*/g, '')
    .replace(/^[\s?]+/, '');
}

export function normaliseTitle(t: string): string {
  return t
    .replace(/0x[0-9a-f]+/gi, 'ADDR')
    .replace(/\b[0-9a-f]{8,16}\b/gi, 'ADDR')
    .replace(/\[\s*\d+\]/g, '')
    .replace(/(?<=\b[a-z_]+\/)\d+(:\d+)?/gi, 'N') // kworker/0:1 → kworker/N
    .replace(/\s+/g, ' ')
    .trim();
}

const FRAME = /^\s*(?:\?\s+)?([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/;
// Frames that say where the report came from, not where the bug is.
const SKIP_FRAMES = /^(dump_stack|dump_stack_lvl|show_stack|panic|__warn|warn_slowpath|report_bug|handle_bug|exc_invalid_op|asm_exc_|do_error_trap|die|__die|oops_|kasan_|__kasan|print_report|print_address|kfence_|__asan|__ubsan|ubsan_|schedule|__schedule|schedule_timeout|io_schedule|rcu_|lock_acquire|__lock_acquire|print_circular|check_noncircular|validate_chain|__switch_to|context_switch|entry_SYSCALL|do_syscall|x64_sys_call|__x64_sys|do_syscall_64|ret_from_fork|kthread|worker_thread|process_one_work|__mutex_lock|mutex_lock|wait_for_completion|__wait_for_common|do_wait_for_common)/;

/** The first interesting frame: the RIP if it is not reporting machinery, else the call trace. */
export function guiltyFrame(report: string[]): string | null {
  for (const l of report) {
    const rip = /RIP: [0-9a-f]{4}:([A-Za-z_][\w.]*)\+0x/.exec(l);
    if (rip && !SKIP_FRAMES.test(rip[1]!)) return normaliseFunc(rip[1]!);
  }
  let inTrace = false;
  for (const l of report) {
    if (/Call Trace:|<TASK>/.test(l)) inTrace = true;
    if (!inTrace) continue;
    const f = FRAME.exec(l);
    if (f && !SKIP_FRAMES.test(f[1]!) && !l.trim().startsWith('?')) return normaliseFunc(f[1]!);
  }
  return null;
}

// kmemleak backtraces: "[<ffffffff8123abcd>] func+0x1e/0x40" (or without the address);
// the allocator's own frames come first and say nothing about who leaked.
const LEAK_FRAME = /^\s*(?:\[<[0-9a-f]+>\]\s*)?([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/;
const ALLOC_FRAMES = /^(kmemleak_|__?kmalloc|kmem_cache_alloc|__kmem_cache_alloc|kzalloc|kcalloc|krealloc|__?kvmalloc|kvzalloc|kvcalloc|kmemdup|kstrdup|slab_|__slab_|___slab_|__do_kmalloc|__?vmalloc|vzalloc|__?alloc_pages|alloc_slab|new_slab|mempool_alloc|__?kasan_|trace_kmalloc)/;

/** The frame that allocated a leaked object: the first backtrace frame outside the allocator. */
export function leakFrame(report: string[]): string | null {
  const bt = report.findIndex((l) => /^\s*backtrace/.test(l));
  if (bt < 0) return null;
  for (const l of report.slice(bt + 1)) {
    const f = LEAK_FRAME.exec(l);
    if (f && !ALLOC_FRAMES.test(f[1]!)) return normaliseFunc(f[1]!);
  }
  return null;
}

const inFrame = (prefix: string) => (_m: RegExpExecArray, r: string[]) => {
  const f = guiltyFrame(r);
  return f ? `${prefix} in ${f}` : prefix;
};

// Order matters: the first format whose header matches a line wins.
export const FORMATS: Format[] = [
  { type: 'KASAN', header: /^BUG: KASAN: ([\w-]+) in ([\w.]+)/, title: (m) => `KASAN: ${m[1]} in ${normaliseFunc(m[2]!)}` },
  { type: 'KFENCE', header: /^BUG: KFENCE: ([\w-]+(?: [\w-]+)*) in ([\w.]+)/, title: (m) => `KFENCE: ${m[1]} in ${normaliseFunc(m[2]!)}` },
  { type: 'UBSAN', header: /^UBSAN: ([\w-]+(?: [\w-]+)*) in (\S+?):\d+:\d+/, title: (m) => `UBSAN: ${m[1]} in ${m[2]!.replace(/^.*?((?:drivers|fs|io_uring|kernel|mm|lib|block|net|include|arch)\/)/, '$1')}` },
  { type: 'lockdep', header: /^WARNING: (possible circular locking dependency detected|possible recursive locking detected|inconsistent lock state|suspicious RCU usage|possible irq lock inversion dependency detected|held lock freed!|lock held when returning to user space!|bad unlock balance detected!)/, title: (m, r) => { const f = guiltyFrame(r); return `lockdep: ${m[1]!.replace(/!$/, '')}${f ? ` in ${f}` : ''}`; } },
  { type: 'lockdep', header: /^BUG: (lock held when returning to user space|held lock freed|bad unlock balance)/, title: (m) => `lockdep: ${m[1]}` },
  { type: 'soft lockup', header: /^(?:watchdog: )?BUG: soft lockup - CPU#\d+ stuck for \d+s!/, title: inFrame('soft lockup') },
  { type: 'hung task', header: /^INFO: task \S+:\d+ blocked for more than \d+ seconds\./, title: inFrame('INFO: task hung') },
  { type: 'RCU stall', header: /^rcu: INFO: rcu_\w+ (?:self-)?detected (?:expedited )?stalls?/, title: inFrame('INFO: rcu detected stall') },
  { type: 'WARNING', header: /^WARNING: CPU: \d+ PID: \d+ at (\S+?):\d+ ([\w.]+)/, title: (m) => `WARNING in ${normaliseFunc(m[2]!)}` },
  { type: 'WARNING', header: /^WARNING: (.+)/, title: (m) => `WARNING: ${m[1]}` },
  { type: 'BUG', header: /^kernel BUG at (\S+?):\d+!/, title: (m, r) => { const f = guiltyFrame(r); return f ? `kernel BUG in ${f}` : `kernel BUG at ${m[1]}`; } },
  { type: 'BUG', header: /^BUG: (unable to handle page fault|kernel NULL pointer dereference|unable to handle kernel paging request)/, title: (m, r) => { const f = guiltyFrame(r); return `BUG: ${m[1]}${f ? ` in ${f}` : ''}`; } },
  { type: 'BUG', header: /^BUG: (sleeping function called from invalid context|scheduling while atomic|using smp_processor_id\(\) in preemptible|workqueue lockup|Bad page state|Bad rss-counter state|stack guard page was hit|spinlock \w+ on CPU#\d+)/, title: (m, r) => { const f = guiltyFrame(r); return `BUG: ${m[1]!.replace(/ on CPU#\d+/, '')}${f ? ` in ${f}` : ''}`; } },
  { type: 'BUG', header: /^BUG: (.+)/, title: (m) => `BUG: ${m[1]}` },
  { type: 'Oops', header: /^Oops: (general protection fault|stack segment|invalid opcode|divide error|int3)?/, title: (m, r) => { const f = guiltyFrame(r); return `${m[1] ?? 'Oops'}${f ? ` in ${f}` : ''}`; } },
  { type: 'Oops', header: /^(general protection fault|stack segment|invalid opcode|divide error)(?:, probably for non-canonical address| in)?/, title: (m, r) => { const f = guiltyFrame(r); return `${m[1]}${f ? ` in ${f}` : ''}`; } },
  { type: 'kmemleak', header: /^unreferenced object 0x[0-9a-f]+ \(size \d+\):/, title: (_m, r) => { const f = leakFrame(r); return f ? `memory leak in ${f}` : 'memory leak'; } },
  { type: 'panic', header: /^Kernel panic - not syncing: (.*)/, title: (m) => `kernel panic: ${m[1]!.replace(/^Fatal exception.*$/, 'Fatal exception')}`, fatal: true },
];

// Lines that end a report (besides the next header or a test marker).
const END = /^---\[ end (trace|Kernel panic)|^==================================================================$/;

/** Console line → kernel message text: strip our host stamp, printk time and caller id. */
export function stripPrefixes(line: string): string {
  return line
    .replace(/^\[host\s+[\d.]+\]\s?/, '')
    .replace(/^\[\s*\d+\.\d+\]\s?/, '')
    .replace(/^\[\s*[TC]\d+\]\s?/, '');
}

export function detectCrashes(consoleText: string): CrashRecord[] {
  const lines = consoleText.split('\n').map(stripPrefixes);
  const crashes: CrashRecord[] = [];
  let test: string | null = null;
  let i = 0;
  // A report that follows an Oops (e.g. the panic it causes) is part of one failure;
  // each still gets its own record so the first (most specific) comes first.
  while (i < lines.length) {
    const line = lines[i]!;
    const marker = /^kl: test-(start|end) (\S+)/.exec(line);
    if (marker) {
      test = marker[1] === 'start' ? marker[2]! : null;
      i++;
      continue;
    }
    let fmt: Format | undefined;
    let m: RegExpExecArray | null = null;
    for (const f of FORMATS) {
      m = f.header.exec(line);
      if (m) {
        fmt = f;
        break;
      }
    }
    if (!fmt || !m) {
      i++;
      continue;
    }
    const start = i;
    const report = [line];
    let j = i + 1;
    for (; j < lines.length && j - start < 120; j++) {
      const l = lines[j]!;
      if (/^kl: test-/.test(l)) break;
      // An Oops line continues the report it belongs to (kernel BUG at … / Oops: invalid
      // opcode); any other header starts a new report.
      if (!/^Oops: /.test(l) && FORMATS.some((f) => f.header.test(l))) break;
      report.push(l);
      if (END.test(l) && j > start + 1) {
        j++;
        break;
      }
    }
    const title = normaliseTitle(fmt.title(m, report));
    // A detector that fires again for the same bug (hung task every check, a WARN in a
    // loop) adds to the first record instead of adding records.
    const same = crashes.find((c) => c.title === title && c.test === test);
    if (same) same.count++;
    else crashes.push({ type: fmt.type, title, test, fatal: fmt.fatal ?? false, report: report.join('\n'), line: start + 1, count: 1 });
    i = j > i ? j : i + 1;
  }
  return crashes;
}
