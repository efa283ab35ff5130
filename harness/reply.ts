// `npm run lab -- reply [RUN-DIR]`: the answer a reviewer posts on the list, from a run:
// reply.eml, plain text, threaded under the series (In-Reply-To, References, Re: subject),
// addressed where the series went, inline (the cover letter quoted above, never top-posted),
// every line under 80 columns. A short verdict, what changed against the unpatched base,
// the first kernel report, the benchmarks against the base, how to reproduce, and
// Tested-by only when the run passed. It never sends mail.
import fs from 'node:fs';
import path from 'node:path';
import { execaSync } from 'execa';
import { UsageError } from './errors.ts';
import type { BenchRow } from './perf.ts';
import type { RunRecord } from './types.ts';

export const MAX_COLS = 79;

/** Wrap prose at 72 columns (the kernel's habit); a word longer than that stands alone, cut at MAX_COLS. */
export function wrap(text: string, width = 72): string[] {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const w of para.split(/\s+/).filter(Boolean)) {
      const word = w.length > MAX_COLS ? `${w.slice(0, MAX_COLS - 1)}…` : w;
      if (line && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
  }
  return out;
}

/** A line that must stay one line (a table row, a stack frame): cut at MAX_COLS. */
const cut = (l: string) => (l.length > MAX_COLS ? `${l.slice(0, MAX_COLS - 1)}…` : l);

/** Who is testing: --name/--email, else git config, else a placeholder the sender must fill. */
export function tester(name?: string, email?: string): string {
  const git = (k: string) => {
    const r = execaSync('git', ['config', '--get', k], { reject: false });
    return r.exitCode === 0 ? String(r.stdout).trim() : '';
  };
  const n = name ?? git('user.name');
  const e = email ?? git('user.email');
  return `${n || 'Your Name'} <${e || 'you@example.org'}>`;
}

/** A long header folded (RFC 5322) at spaces, continuation lines indented. */
export function fold(header: string): string {
  if (header.length <= MAX_COLS) return header;
  const out: string[] = [];
  let line = '';
  for (const w of header.split(' ')) {
    if (line && line.length + 1 + w.length > MAX_COLS) {
      out.push(line);
      line = ` ${w}`;
    } else line = line ? `${line} ${w}` : w;
  }
  out.push(line);
  return out.join('\n');
}

/** A command as lines to paste: broken between arguments, each line but the last ending in " \\". */
export function shellLines(args: string[], width = 74): string[] {
  const out: string[] = [];
  let line = '';
  for (const a of args) {
    if (line && line.length + 1 + a.length + 2 > width) {
      out.push(`${line} \\`);
      line = `  ${a}`;
    } else line = line ? `${line} ${a}` : a;
  }
  out.push(line);
  return out;
}

/** The lab command that reproduces the run (what the reviewer ran, in CLI terms). */
export function reproduceCommand(rec: RunRecord): string {
  return reproduceArgs(rec).join(' ');
}

function reproduceArgs(rec: RunRecord): string[] {
  const o = rec.options;
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const patch = rec.series ? (rec.series.source === 'lore' ? `lore:${rec.series.messageId}` : path.basename(rec.series.file)) : o.patch.length ? o.patch.join(',') : 'none';
  const args = ['npm', 'run', 'lab', '--', '--patch', q(patch)];
  if (rec.series && rec.series.versions.length > 1) args.push('--series-version', String(rec.series.version));
  if (o.exec !== null) args.push('--exec', q(o.exec));
  else if (o.suites) args.push('--suite', o.suites.join(','));
  if (o.debug) args.push('--debug');
  if (o.kmemleak) args.push('--kmemleak');
  if (o.compareBaseline) args.push('--compare-baseline');
  for (const c of o.configItems) args.push('--config-item', q(c));
  if (rec.base?.debian) args.push('--base', rec.base.debian.version);
  if (o.repeat && o.repeat > 1) args.push('--repeat', String(o.repeat));
  return args;
}

function significant(a: BenchRow, b: BenchRow): boolean {
  const change = Math.abs(a.mean / b.mean - 1);
  const overlap = a.mean - a.stddev <= b.mean + b.stddev && b.mean - b.stddev <= a.mean + a.stddev;
  return change >= 0.05 && !overlap;
}

function readRows(dir: string): BenchRow[] {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'perf.json'), 'utf8')) as BenchRow[];
  } catch {
    return [];
  }
}

/** The mail, as text (headers, blank line, body). */
export function replyText(rec: RunRecord, from: string): string {
  const s = rec.series;
  const h: string[] = [`From: ${from}`];
  if (s) {
    if (s.from) h.push(`To: ${s.from}`);
    const cc = [s.to, s.cc].filter(Boolean).join(', ');
    if (cc) h.push(`Cc: ${cc}`);
    h.push(`Subject: Re: ${s.subject.replace(/^(re:\s*)+/i, '')}`, `In-Reply-To: <${s.messageId}>`, `References: ${[...s.references, s.messageId].map((r) => `<${r}>`).join(' ')}`);
  } else {
    const sets = rec.kernel?.patches.length ? [...new Set(rec.kernel.patches.map((p) => p.set))].join(',') : 'the unpatched base';
    h.push(`Subject: kernel-lab: ${sets} on ${rec.base?.version ?? '?'}: ${rec.status.toUpperCase()}`);
  }
  h.push('MIME-Version: 1.0', 'Content-Type: text/plain; charset=UTF-8', 'Content-Transfer-Encoding: 8bit');

  const b: string[] = [];
  if (s) {
    b.push(...wrap(`On ${s.date || 'an earlier date'}, ${s.from || 'the author'} wrote:`, MAX_COLS));
    b.push(`> ${cut(s.subject)}`.slice(0, MAX_COLS), '', '[...]', '');
  }
  const passed = rec.tests.filter((t) => t.status === 'pass').length;
  const failed = rec.tests.filter((t) => ['fail', 'timeout', 'error'].includes(t.status) && !t.known).length;
  const skipped = rec.tests.filter((t) => t.status === 'skip').length;
  const what = s ? `v${s.version} of this series` : 'this';
  const where = `${rec.base?.debian ? `Linux ${rec.base.version} (Debian linux-source-6.12 ${rec.base.debian.version})` : `Linux ${rec.base?.version ?? '?'}`}, x86_64, QEMU ${rec.accel === 'kvm' ? 'KVM' : 'TCG'}`;
  b.push(
    ...wrap(
      `I ran ${what} through kernel-lab on ${where}${rec.options.debug ? ' with a debug kernel (KASAN, lockdep, UBSAN)' : ''}: ${rec.status.toUpperCase()}. ${passed} tests passed, ${failed} failed, ${skipped} skipped${rec.crashes.length ? `; ${rec.crashes.length} kernel report(s)` : '; no kernel report'}.${rec.reason && rec.status !== 'pass' ? ` ${rec.reason}` : ''}`,
    ),
    '',
  );
  if (rec.baseline) {
    if (rec.baseline.differences.length === 0) b.push(...wrap(`Against the unpatched base (same suites, same base): no test changed status.`), '');
    else {
      b.push('Tests whose status differs from the unpatched base:', '');
      const w = Math.min(56, Math.max(...rec.baseline.differences.map((d) => d.test.length)));
      for (const d of rec.baseline.differences) {
        b.push(cut(`  ${d.test.padEnd(w)}  ${d.base} -> ${d.patched}`));
        if (d.context) b.push(cut(`    ${d.context}`));
      }
      b.push('');
    }
  } else if (rec.kernel?.patches.length) b.push(...wrap('(No run on the unpatched base: rerun with --compare-baseline for the difference.)'), '');
  const failing = rec.tests.filter((t) => ['fail', 'timeout', 'error'].includes(t.status) && !t.known);
  if (failing.length > 0) {
    b.push('Failing tests:', '');
    for (const t of failing.slice(0, 15)) b.push(cut(`  ${t.suite}/${t.name}: ${t.status}${t.reason ? ` (${t.reason})` : ''}`));
    if (failing.length > 15) b.push(`  ... and ${failing.length - 15} more`);
    b.push('');
  }
  const first = rec.crashes[0];
  if (first) {
    b.push(...wrap(`The first kernel report${first.test ? `, in ${first.test}` : ''}: ${first.title}`), '');
    // The trace, not the machine state: registers, code bytes and the hardware line go.
    const noise = /^\s*(?:Code:|(?:R[A-Z0-9]{2}|RSP): [0-9a-f]{4}|[A-Z0-9]{3}: [0-9a-f]{16}|FS: |CS: |CR2: |DR[0-9]: |Hardware name:|<\/?TASK>)/;
    const trace = (first.decoded ?? first.report).split('\n').filter((l) => l.trim() !== '' && !noise.test(l.trim()));
    for (const l of trace.slice(0, 25)) b.push(cut(`  ${l.trim()}`));
    if (trace.length > 25) b.push('  [...]');
    if (first.location) b.push('', ...wrap(`at ${first.location}${first.maintainers ? `; ${first.maintainers.join(', ')}` : ''}`));
    b.push('');
  }
  const rows = readRows(rec.dir);
  if (rows.length > 0) {
    const base = rec.baseline ? readRows(rec.baseline.runDir) : [];
    b.push(`Benchmarks (${rec.accel === 'kvm' ? 'KVM' : 'TCG: copies cost more than on hardware, compare ratios'}):`, '');
    for (const r of rows) {
      const m = base.find((x) => x.bench === r.bench && x.case === r.case && x.mode === r.mode && x.metric === r.metric);
      const vsBase = m ? `, ${(r.mean / m.mean).toFixed(2)}x base (${significant(r, m) ? 'significant' : 'within noise'})` : '';
      const vsMode = r.ratio !== null ? `, ${r.ratio.toFixed(2)}x ${r.baseline ?? 'baseline'}` : '';
      b.push(cut(`  ${r.case} ${r.mode}: ${r.mean.toPrecision(4)} ± ${r.stddev.toPrecision(2)} ${r.unit} (n=${r.n})${vsMode}${vsBase}`));
    }
    b.push('');
  }
  b.push('To reproduce with kernel-lab (the base and the suites are pinned):', '');
  for (const l of shellLines(reproduceArgs(rec))) b.push(`  ${l}`);
  b.push('');
  if (rec.status === 'pass') b.push(`Tested-by: ${from}`);
  else b.push(...wrap('No Tested-by: the run did not pass.'));
  return `${h.map(fold).join('\n')}\n\n${b.map((l) => l.trimEnd()).join('\n')}\n`;
}

export function writeReply(runDir: string, who: { name?: string; email?: string }): string {
  const runJson = path.join(runDir, 'run.json');
  if (!fs.existsSync(runJson)) throw new UsageError(`reply: ${runDir} is not a run directory (no run.json)`, 'give results/<run-id> or results/latest');
  const rec = JSON.parse(fs.readFileSync(runJson, 'utf8')) as RunRecord;
  if (!rec.finishedAt) throw new UsageError(`reply: the run in ${runDir} has not finished`, 'wait for it, or run it again');
  const file = path.join(runDir, 'reply.eml');
  fs.writeFileSync(file, replyText({ ...rec, dir: runDir }, tester(who.name, who.email)));
  return file;
}
