// The post-mortem of a hung guest, read from console.log: after the host's POSTMORTEM_MARK
// line (stages/qemu.ts), the guest panicked on the injected NMI and printed the tasks stuck
// in D state (panic_print=0x80) and, on lockdep kernels, the locks held (0x08). A developer
// reads where each stuck task sleeps; what the guest printed is untrusted, so only the
// fields named here are kept, each bounded.
import { normaliseFunc, stripPrefixes } from './crash.ts';

// The line the host writes into console.log when it starts the post-mortem (stages/qemu.ts):
// what the guest prints after it is the post-mortem, not a kernel report of the run.
export const POSTMORTEM_MARK = 'kl-host: post-mortem:';

export interface StuckTask {
  comm: string;
  pid: number;
  state: string; // D (uninterruptible), or what sched_show_task printed
  frames: string[]; // the call trace, innermost first, stale ("? ") frames left out
  where: string | null; // the first frame that is not scheduler or sleeping-lock plumbing
}

export interface PostMortem {
  trigger: string; // why the host stepped in: silence, test-timeout, wall-timeout
  nmi: boolean; // the NMI was delivered (QMP answered)
  panicked: boolean; // the guest panicked on it (so the list of stuck tasks is complete)
  tasks: StuckTask[];
  heldLocks: string[]; // lockdep's "Showing all locks held in the system" lines
}

/** console.log before the host's post-mortem line, and from it on (null: no post-mortem). */
export function splitPostmortem(consoleText: string): { live: string; post: string | null } {
  const i = consoleText.indexOf(POSTMORTEM_MARK);
  if (i < 0) return { live: consoleText, post: null };
  const lineStart = consoleText.lastIndexOf('\n', i) + 1;
  return { live: consoleText.slice(0, lineStart), post: consoleText.slice(lineStart) };
}

// Where a sleeping task always is: the scheduler and the sleeping primitives it went through.
export const PLUMBING = /^(?:__schedule|schedule\w*|__switch_to\w*|context_switch|io_schedule\w*|preempt_schedule\w*|do_nanosleep|hrtimer_nanosleep|(?:__)?wait_for_\w+|__wait_\w+|wait_woken|(?:__)?down\w*|rwsem_down\w+|(?:__)?mutex_lock\w*|__rt_mutex\w*|rt_mutex\w*|percpu_rwsem_wait|(?:__)?folio_wait\w*|bit_wait\w*|out_of_line_wait_on_bit\w*|(?:__)?wait_on_\w+|__flush_work|flush_work|synchronize_\w+|__synchronize_\w+|io_wq_\w*wait\w*)$/;
const FRAME = /^\s*(\?\s*)?([A-Za-z_][\w.]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/;
const TASK = /^task:(\S{1,64})\s+state:(\S)\b.*?\bpid:\s*(\d+)/;

export function parsePostmortem(post: string): PostMortem {
  const lines = post.split('\n');
  const first = lines[0] ?? '';
  const trigger = /\((silence|test-timeout|wall-timeout)\)/.exec(first)?.[1] ?? 'unknown';
  const nmi = !lines.some((l) => l.includes(`${POSTMORTEM_MARK} no NMI`));
  const texts = lines.map(stripPrefixes);
  const panicked = texts.some((t) => /^Kernel panic - not syncing: NMI/.test(t));
  const tasks: StuckTask[] = [];
  const heldLocks: string[] = [];
  let cur: StuckTask | null = null;
  let inLocks = false;
  for (const t of texts) {
    if (/^Showing all locks held in the system:/.test(t)) {
      inLocks = true;
      continue;
    }
    if (inLocks) {
      if (/^={5,}/.test(t)) inLocks = false;
      else if (t.trim() && heldLocks.length < 200) heldLocks.push(t.trim().slice(0, 200));
      continue;
    }
    const tm = TASK.exec(t);
    if (tm) {
      if (tasks.length >= 100) break;
      cur = { comm: tm[1]!, pid: Number(tm[3]), state: tm[2]!, frames: [], where: null };
      tasks.push(cur);
      continue;
    }
    if (!cur) continue;
    if (/^\s*<\/TASK>/.test(t)) {
      cur = null;
      continue;
    }
    const fm = FRAME.exec(t);
    if (fm && !fm[1] && cur.frames.length < 64) cur.frames.push(normaliseFunc(fm[2]!));
  }
  for (const task of tasks) task.where = task.frames.find((f) => !PLUMBING.test(f)) ?? null;
  return { trigger, nmi, panicked, tasks, heldLocks };
}

/** The post-mortem section of summary.md. */
export function postmortemMarkdown(pm: PostMortem): string[] {
  const lines = [`## Post-mortem of the hang (${pm.trigger})`, ''];
  if (!pm.nmi) lines.push('The host could not reach QEMU over QMP: no NMI was injected, so no list of stuck tasks.');
  else if (!pm.panicked) lines.push('The host injected an NMI, but the guest did not panic on it: it may be wedged beyond NMIs (console.log, from the post-mortem line, has what it printed).');
  else if (pm.tasks.length === 0) lines.push('The host injected an NMI; no task was stuck in D state (the hang is a busy loop or a task waiting interruptibly; console.log has the panicking CPU\'s stack).');
  else {
    lines.push('The host injected an NMI; the guest printed its tasks stuck in D state:', '', '| pid | task | stuck in | call trace (innermost first) |', '|---|---|---|---|');
    for (const t of pm.tasks) lines.push(`| ${t.pid} | ${t.comm.replace(/\|/g, '\\|')} | ${t.where ?? '?'} | ${t.frames.slice(0, 8).join(' ← ')} |`);
  }
  if (pm.heldLocks.length > 0) lines.push('', 'Locks held:', '', '```', ...pm.heldLocks.slice(0, 40), '```');
  lines.push('', 'Full text: postmortem.log', '');
  return lines;
}
