// The memory dump of a panicked guest (stages/qemu.ts takes it over QMP when a kernel with
// pvpanic panics, a hang's post-mortem NMI included): every task's stack read from it by
// drgn (Debian's python3-drgn) with the build's vmlinux, so a developer sees where each
// task was, with file:line, even for tasks the console never printed. What drgn prints
// comes from guest memory and is untrusted: only the fields named here are kept, each bounded.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { which } from './exec.ts';
import { paths } from './paths.ts';
import { PLUMBING } from './postmortem.ts';

export interface DumpFrame {
  fn: string | null;
  file: string | null; // as the DWARF names it, made relative to the tree when it is inside it
  line: number | null;
}

export interface DumpTask {
  pid: number;
  comm: string;
  state: string; // R, S, D, ... (task_state_to_char)
  cpu: number | null;
  crashed: boolean; // the task that panicked
  frames: DumpFrame[]; // innermost first
  where: string | null; // the first frame that is not scheduler or sleeping-lock plumbing
  error?: string; // drgn could not unwind its stack
}

export interface DumpRecord {
  file: string | null; // vmcore in the run directory; null when not kept
  bytes: number;
  seconds: number; // QEMU's time to write it
  format: 'kdump-zlib';
  kept: string; // why it is kept, or why not
  vmlinux: string; // the build's, which reading it needs
  analysis: { tasks: DumpTask[]; total: number; error?: string } | null;
}

/** Parse drgn's JSON lines (harness/drgn/tasks.py); lines that do not fit are dropped. */
export function parseDumpTasks(out: string, tree: string | null): DumpTask[] {
  const tasks: DumpTask[] = [];
  const str = (v: unknown, n: number): string | null => (typeof v === 'string' ? v.slice(0, n) : null);
  for (const line of out.split('\n')) {
    if (!line.startsWith('{') || tasks.length >= 2000) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (typeof o.pid !== 'number' || typeof o.comm !== 'string') continue;
    const frames: DumpFrame[] = (Array.isArray(o.frames) ? o.frames : []).slice(0, 64).map((f: Record<string, unknown>) => {
      let file = str(f?.file, 300);
      if (file && tree && path.isAbsolute(file)) {
        const rel = path.relative(tree, file);
        if (!rel.startsWith('..')) file = rel;
      }
      return { fn: str(f?.fn, 128), file, line: typeof f?.line === 'number' ? f.line : null };
    });
    tasks.push({
      pid: o.pid,
      comm: o.comm.slice(0, 64),
      state: str(o.state, 1) ?? '?',
      cpu: typeof o.cpu === 'number' ? o.cpu : null,
      crashed: o.crashed === true,
      frames,
      where: frames.find((f) => f.fn && !PLUMBING.test(f.fn))?.fn ?? null,
      ...(typeof o.error === 'string' ? { error: o.error.slice(0, 200) } : {}),
    });
  }
  return tasks;
}

/** Every task's stack in the dump, by drgn; null analysis with an error when drgn cannot read it. */
export async function analyseDump(vmcore: string, vmlinux: string, tree: string | null): Promise<{ tasks: DumpTask[]; total: number; text: string; error?: string }> {
  const script = path.join(paths.repoRoot, 'harness', 'drgn', 'tasks.py');
  const drgn = await which('drgn');
  if (!drgn) return { tasks: [], total: 0, text: '', error: 'drgn is not installed (Debian: python3-drgn; make deps installs it)' };
  const r = await execa(drgn, ['-q', '--no-default-symbols', '-c', vmcore, '-s', vmlinux, script], { reject: false, timeout: 300_000, stdin: 'ignore', maxBuffer: 64 << 20 });
  const tasks = parseDumpTasks(String(r.stdout), tree);
  const err = (String(r.stderr).trim().split('\n').filter(Boolean).pop() ?? '').slice(0, 300);
  if (r.exitCode !== 0 && tasks.length === 0) return { tasks: [], total: 0, text: '', error: `drgn exited ${r.exitCode ?? r.signal}: ${err}` };
  return { tasks, total: tasks.length, text: dumpText(tasks), ...(r.exitCode !== 0 ? { error: `drgn exited ${r.exitCode ?? r.signal} after ${tasks.length} tasks: ${err}` } : {}) };
}

const loc = (f: DumpFrame) => `${f.fn ?? '??'}${f.file ? ` (${f.file}:${f.line ?? '?'})` : ''}`;

/** vmcore-tasks.txt: every task and its whole stack. */
export function dumpText(tasks: DumpTask[]): string {
  return tasks
    .map((t) => [`pid ${t.pid} ${t.comm} state ${t.state}${t.cpu !== null ? ` cpu ${t.cpu}` : ''}${t.crashed ? ' (panicked)' : ''}`, ...(t.error ? [`  (no stack: ${t.error})`] : t.frames.map((f) => `  ${loc(f)}`)), ''].join('\n'))
    .join('\n');
}

/** Which tasks matter in a summary: the one that panicked, those running, those in D state. */
export function notableTasks(tasks: DumpTask[]): DumpTask[] {
  return tasks.filter((t) => t.crashed || t.state === 'D' || (t.state === 'R' && t.frames.length > 0 && !/^swapper/.test(t.comm)));
}

/** The dump's section of summary.md. */
export function dumpMarkdown(d: DumpRecord): string[] {
  const lines = ['## Memory dump of the panicked guest', ''];
  lines.push(d.file ? `\`${path.basename(d.file)}\`: ${(d.bytes / 2 ** 20).toFixed(1)} MiB (kdump-zlib, written in ${d.seconds.toFixed(1)} s); ${d.kept}. Open it with \`crash ${d.vmlinux} ${path.basename(d.file)}\` or \`drgn -c ${path.basename(d.file)} -s ${d.vmlinux}\` (releases newer than Debian bookworm's crash 8.0.2 and drgn 0.0.22, which cannot read a 6.12 dump).` : `Not kept: ${d.kept}.`);
  lines.push('');
  if (!d.analysis) return lines;
  if (d.analysis.error && d.analysis.tasks.length === 0) {
    lines.push(`drgn could not read it: ${d.analysis.error}`, '');
    return lines;
  }
  const shown = notableTasks(d.analysis.tasks);
  lines.push(`drgn read ${d.analysis.total} tasks (all of them, whole stacks with file:line: vmcore-tasks.txt). The one that panicked, those running and those in D state:`, '');
  lines.push('| pid | task | state | where | stack (innermost first) |', '|---|---|---|---|---|');
  for (const t of shown.slice(0, 30)) {
    const stack = t.error ? `(no stack: ${t.error})` : t.frames.slice(0, 6).map(loc).join(' ← ');
    lines.push(`| ${t.pid} | ${t.comm.replace(/[|`]/g, '_')} | ${t.state}${t.crashed ? ' (panicked)' : ''} | ${t.where ?? '?'} | ${stack.replace(/\|/g, '\\|')} |`);
  }
  lines.push('');
  return lines;
}

/**
 * QEMU 7.2 writes kdump formats "flattened" (makedumpfile's stream format: records of
 * offset, size, data), which crash and drgn do not open; makedumpfile -R (Debian's
 * makedumpfile) writes the plain kdump file they read. Returns why not, or null when done.
 */
async function unflatten(file: string): Promise<string | null> {
  const head = Buffer.alloc(12);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 12, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.toString('latin1') !== 'makedumpfile') return null;
  const tool = await which('makedumpfile');
  if (!tool) return 'makedumpfile is not installed to turn it into a plain kdump file (make deps installs it)';
  const out = `${file}.tmp`;
  const r = await execa(tool, ['-R', out], { inputFile: file, reject: false, timeout: 120_000, all: true });
  if (r.exitCode !== 0) {
    fs.rmSync(out, { force: true });
    return `makedumpfile -R failed: ${String(r.all).trim().split('\n').pop() ?? ''}`;
  }
  fs.renameSync(out, file);
  return null;
}

/** The bound on a kept dump (MiB): a larger one is analysed, then removed. */
export const DUMP_MAX_MIB = Number(process.env.KL_DUMP_MAX_MIB ?? 512);

/**
 * Analyse the dump, write vmcore-tasks.txt, and keep the dump only when the run failed and it
 * is within the bound (a dump of a passing run, e.g. an --exec that expected the panic, goes).
 */
export async function dumpStage(inp: { file: string; bytes: number; seconds: number; vmlinux: string; tree: string | null; runDir: string; failed: boolean }): Promise<DumpRecord> {
  const note = await unflatten(inp.file);
  if (note) {
    if (!inp.failed) fs.rmSync(inp.file, { force: true });
    return { file: inp.failed ? inp.file : null, bytes: inp.bytes, seconds: inp.seconds, format: 'kdump-zlib', kept: inp.failed ? `kept because the run failed, as QEMU wrote it (${note})` : 'removed: the run passed', vmlinux: inp.vmlinux, analysis: null };
  }
  inp = { ...inp, bytes: fs.statSync(inp.file).size };
  const a = await analyseDump(inp.file, inp.vmlinux, inp.tree);
  if (a.text) fs.writeFileSync(path.join(inp.runDir, 'vmcore-tasks.txt'), a.text);
  let kept: string;
  let file: string | null = inp.file;
  if (!inp.failed) kept = 'removed: the run passed';
  else if (inp.bytes > DUMP_MAX_MIB * 2 ** 20) kept = `removed: ${(inp.bytes / 2 ** 20).toFixed(0)} MiB is over the bound of ${DUMP_MAX_MIB} MiB (KL_DUMP_MAX_MIB)`;
  else kept = 'kept because the run failed';
  if (kept.startsWith('removed')) {
    fs.rmSync(inp.file, { force: true });
    file = null;
  }
  return { file, bytes: inp.bytes, seconds: inp.seconds, format: 'kdump-zlib', kept, vmlinux: inp.vmlinux, analysis: { tasks: a.tasks, total: a.total, ...(a.error ? { error: a.error } : {}) } };
}
