// The post-mortem of a hung guest: the console after the host's line is split off (no
// kernel report of the run), and each task stuck in D state is named by where it sleeps.
// hung-task.log is written after the kernel's format (a workqueue task, lockdep's held
// locks); lkdtm-hung-task.log is a real run's.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { parsePostmortem, postmortemMarkdown, splitPostmortem } from '../../harness/postmortem.ts';
import { detectCrashes } from '../../harness/crash.ts';
import { repoRoot } from '../../harness/paths.ts';

const log = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'postmortem', 'hung-task.log'), 'utf8');

test('the console splits at the host\'s post-mortem line: before it no report, after it the NMI panic', (t) => {
  const { live, post } = splitPostmortem(log);
  t.is(live, `${log.split('\n')[0]}\n`);
  t.true(post!.startsWith('[host    62.001] kl-host: post-mortem:'));
  t.deepEqual(detectCrashes(live), []);
  t.true(detectCrashes(post!).length > 0, 'the same text would be a panic report');
  t.deepEqual(splitPostmortem('no mark\n'), { live: 'no mark\n', post: null });
});

test('stuck tasks: pid, name, state, the trace without stale frames, and where each sleeps', (t) => {
  const pm = parsePostmortem(splitPostmortem(log).post!);
  t.like(pm, { trigger: 'wall-timeout', nmi: true, panicked: true });
  t.is(pm.tasks.length, 2);
  t.deepEqual(pm.tasks[0], {
    comm: 'sh',
    pid: 71,
    state: 'D',
    frames: ['__schedule', 'schedule', 'lkdtm_HUNG_TASK', 'lkdtm_do_action', 'direct_entry', 'full_proxy_write', 'vfs_write', 'ksys_write', 'do_syscall_64', 'entry_SYSCALL_64_after_hwframe'],
    where: 'lkdtm_HUNG_TASK',
  });
  t.like(pm.tasks[1], { comm: 'kworker/u8:1', pid: 33, where: 'lab_work_fn' }, 'past the mutex plumbing, clone suffix dropped');
  t.is(pm.heldLocks.length, 2);
  t.regex(pm.heldLocks[1]!, /^#0: .*events_unbound/);
  const md = postmortemMarkdown(pm).join('\n');
  t.regex(md, /\| 71 \| sh \| lkdtm_HUNG_TASK \| __schedule ← schedule ← lkdtm_HUNG_TASK/);
  t.regex(md, /Locks held:/);
});

test('no NMI, or no panic: the summary says so instead of an empty list', (t) => {
  const noNmi = parsePostmortem('[host 1.0] kl-host: post-mortem: the guest hung (silence); injecting an NMI\n[host 1.1] kl-host: post-mortem: no NMI: QMP closed\n');
  t.like(noNmi, { trigger: 'silence', nmi: false, panicked: false, tasks: [] });
  t.regex(postmortemMarkdown(noNmi).join('\n'), /no NMI was injected/);
  const wedged = parsePostmortem('[host 1.0] kl-host: post-mortem: the guest hung (test-timeout); injecting an NMI\n');
  t.regex(postmortemMarkdown(wedged).join('\n'), /did not panic on it/);
});

test('what a guest prints is bounded: at most 100 tasks of 64 frames, no name longer than the kernel prints', (t) => {
  const task = (i: number) => [`task:${'x'.repeat(80)} state:D stack:0 pid:${i} tgid:1 ppid:1 flags:0x0`, 'Call Trace:', ' <TASK>', ...Array.from({ length: 100 }, (_, j) => ` f${j}+0x1/0x2`), ' </TASK>'];
  const pm = parsePostmortem(['kl-host: post-mortem: the guest hung (silence)', ...Array.from({ length: 150 }, (_, i) => task(i)).flat()].join('\n'));
  t.is(pm.tasks.length, 0, 'a name longer than the kernel ever prints is not a task line');
  const ok = parsePostmortem(['kl-host: post-mortem: (silence)', ...Array.from({ length: 150 }, (_, i) => task(i).map((l) => l.replace('x'.repeat(80), 'sh'))).flat()].join('\n'));
  t.is(ok.tasks.length, 100);
  t.is(ok.tasks[0]!.frames.length, 64);
});

test('a real post-mortem (lkdtm HUNG_TASK under --timeout 60 on the base kernel): the one stuck task, where it sleeps', (t) => {
  const real = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'postmortem', 'lkdtm-hung-task.log'), 'utf8');
  const pm = parsePostmortem(real);
  t.like(pm, { trigger: 'wall-timeout', nmi: true, panicked: true, heldLocks: [] });
  t.is(pm.tasks.length, 1);
  t.like(pm.tasks[0], { comm: 'sh', state: 'D', where: 'lkdtm_HUNG_TASK' });
  t.false(pm.tasks[0]!.frames.includes('handle_mm_fault'), 'a stale "? " frame is not a call');
});
