// The memory dump of a panicked guest: QEMU is told to pause on the guest's panic only when
// a dump is asked for, the dump is asked for only on kernels drgn can read, and what drgn
// prints (guest memory: untrusted) is kept field by field, bounded.
import test from 'ava';
import { qemuArgv } from '../../harness/stages/qemu.ts';
import { wantsDump } from '../../harness/pipeline.ts';
import { dumpMarkdown, notableTasks, parseDumpTasks, type DumpRecord } from '../../harness/vmcore.ts';

const spec = { kernel: 'bz', initrd: 'rd', accel: 'tcg' as const, memoryMiB: 1024, cpus: 2, runDir: '/r' };

test('QEMU pauses a panicking guest (pvpanic, vmcoreinfo) only when a dump is asked for and QMP is there', (t) => {
  const dumpArgs = (a: string[]) => a.filter((x) => ['pvpanic', 'vmcoreinfo', 'panic=pause'].includes(x));
  t.deepEqual(dumpArgs(qemuArgv({ ...spec, qmp: '/q', dump: '/r/vmcore' })), ['pvpanic', 'vmcoreinfo', 'panic=pause']);
  t.deepEqual(dumpArgs(qemuArgv({ ...spec, qmp: '/q' })), []);
  // no QMP (a remote boot): nobody could dump or resume the guest, so it must not pause
  t.deepEqual(dumpArgs(qemuArgv({ ...spec, dump: '/r/vmcore' })), []);
});

test('a dump only on kernels with pvpanic and full DWARF, and not with KL_DUMP=0', (t) => {
  const cfg = (o: Record<string, string>) => new Map(Object.entries(o));
  t.true(wantsDump(cfg({ CONFIG_PVPANIC_MMIO: 'y', CONFIG_DEBUG_INFO: 'y' })));
  t.false(wantsDump(cfg({ CONFIG_PVPANIC_MMIO: 'y', CONFIG_DEBUG_INFO: 'y', CONFIG_DEBUG_INFO_REDUCED: 'y' })), 'reduced DWARF has no task_struct for drgn');
  t.false(wantsDump(cfg({ CONFIG_DEBUG_INFO: 'y' })), 'no pvpanic: QEMU never hears of the panic');
  t.false(wantsDump(cfg({ CONFIG_PVPANIC_MMIO: 'y' })));
  process.env.KL_DUMP = '0';
  try {
    t.false(wantsDump(cfg({ CONFIG_PVPANIC_MMIO: 'y', CONFIG_DEBUG_INFO: 'y' })));
  } finally {
    delete process.env.KL_DUMP;
  }
});

const line = (o: object) => JSON.stringify(o);

test('drgn\'s lines: fields kept by type and bounded, paths made relative to the tree, where a task sleeps', (t) => {
  const out = [
    'drgn: some warning on stderr-like stdout',
    line({ pid: 1, comm: 'init', state: 'S', crashed: false, cpu: 0, frames: [{ fn: '__schedule', file: '/t/kernel/sched/core.c', line: 10 }, { fn: 'do_wait', file: '/t/kernel/exit.c', line: 20 }] }),
    line({ pid: 70, comm: 'sh', state: 'R', crashed: true, cpu: 1, frames: [{ fn: 'lkdtm_PANIC', file: '/t/drivers/misc/lkdtm/bugs.c', line: 99 }] }),
    line({ pid: 'x', comm: 'bad' }),
    '{not json',
    line({ pid: 71, comm: 'x'.repeat(500), state: 'DDDD', frames: Array.from({ length: 200 }, () => ({ fn: 'f', file: '/elsewhere/a.c', line: 'no' })) }),
    line({ pid: 72, comm: 'kworker/0:1', state: 'D', frames: [], error: 'e'.repeat(1000) }),
  ].join('\n');
  const tasks = parseDumpTasks(out, '/t');
  t.deepEqual(tasks.map((x) => x.pid), [1, 70, 71, 72]);
  t.deepEqual(tasks[0], { pid: 1, comm: 'init', state: 'S', cpu: 0, crashed: false, frames: [{ fn: '__schedule', file: 'kernel/sched/core.c', line: 10 }, { fn: 'do_wait', file: 'kernel/exit.c', line: 20 }], where: 'do_wait' });
  t.is(tasks[2]!.comm.length, 64);
  t.is(tasks[2]!.state, 'D');
  t.is(tasks[2]!.frames.length, 64);
  t.deepEqual(tasks[2]!.frames[0], { fn: 'f', file: '/elsewhere/a.c', line: null });
  t.is(tasks[3]!.error!.length, 200);
  t.deepEqual(notableTasks(tasks).map((x) => x.pid), [70, 71, 72]);
});

test('summary.md: where the dump is and how to open it, and the tasks that matter with file:line', (t) => {
  const tasks = parseDumpTasks(line({ pid: 70, comm: 'sh|x', state: 'R', crashed: true, frames: [{ fn: 'lkdtm_PANIC', file: '/t/drivers/misc/lkdtm/bugs.c', line: 99 }] }), '/t');
  const d: DumpRecord = { file: '/run/vmcore', bytes: 30 * 2 ** 20, seconds: 2.5, format: 'kdump-zlib', kept: 'kept because the run failed', vmlinux: '/c/vmlinux', analysis: { tasks, total: 1 } };
  const md = dumpMarkdown(d).join('\n');
  t.regex(md, /`vmcore`: 30\.0 MiB \(kdump-zlib, written in 2\.5 s\); kept because the run failed\. Open it with `crash \/c\/vmlinux vmcore` or `drgn -c vmcore -s \/c\/vmlinux`/);
  t.regex(md, /\| 70 \| sh_x \| R \(panicked\) \| lkdtm_PANIC \| lkdtm_PANIC \(drivers\/misc\/lkdtm\/bugs\.c:99\) \|/);
  const gone = dumpMarkdown({ ...d, file: null, kept: 'removed: the run passed', analysis: { tasks: [], total: 0, error: 'drgn exited 1: x' } }).join('\n');
  t.regex(gone, /Not kept: removed: the run passed\./);
  t.regex(gone, /drgn could not read it: drgn exited 1: x/);
});

test('paths inside QEMU option lists have their commas doubled (a results dir named res-fused,ublk-zc)', (t) => {
  const a = qemuArgv({ ...spec, runDir: '/tmp/res-fused,ublk-zc/run', qmp: '/tmp/q,1/qmp', ctl: '/tmp/c,1/ctl', net: { mac: '52:54:00:4b:4c:01', link: { local: '/tmp/l,a', remote: '/tmp/l,b' } } });
  t.true(a.includes('file,id=klktap,path=/tmp/res-fused,,ublk-zc/run/ktap.raw'), a.join(' '));
  t.true(a.includes('file,id=klstatus,path=/tmp/res-fused,,ublk-zc/run/status.raw'));
  t.true(a.includes('file=/tmp/res-fused,,ublk-zc/run/scratch.img,format=raw,if=virtio,cache=unsafe'));
  t.true(a.includes('unix:/tmp/q,,1/qmp,server=on,wait=off'));
  t.true(a.includes('socket,id=klctl,path=/tmp/c,,1/ctl,server=on,wait=off'));
  t.true(a.includes('dgram,id=n0,local.type=unix,local.path=/tmp/l,,a,remote.type=unix,remote.path=/tmp/l,,b'));
  t.is(a[a.indexOf('-kernel') + 1], 'bz', 'plain arguments are not option lists');
});
