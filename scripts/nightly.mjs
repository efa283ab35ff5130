#!/usr/bin/env zx
// Nightly matrix: the sets against Debian's newest 6.12 (rebase-check), every patch builds (build-each), each patch set alone (against its
// baseline), the stack, the stack with --kmemleak, the stack under --debug, the benchmarks, a located --debug
// report, and liburing's own test suite on the base and on the stack (against its baseline). Every run gets a verdict; the matrix never stops early.
// Output: results/nightly-<date>/matrix.md and matrix.json; exit 1 if any cell is not pass.
import fs from 'node:fs';
import path from 'node:path';

$.verbose = true;
$.nothrow = true;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
cd(root);
const stamp = new Date().toISOString().slice(0, 16).replace(/[:T]/g, '');
const out = path.join(root, 'results', `nightly-${stamp}`);
fs.mkdirSync(out, { recursive: true });

const sets = fs.readdirSync('kernel-patches').filter((n) => fs.existsSync(path.join('kernel-patches', n, 'series'))).sort();
const suites = fs.readdirSync('suites').filter((n) => fs.existsSync(path.join('suites', n, 'manifest.json')));
const benches = suites.filter((n) => JSON.parse(fs.readFileSync(path.join('suites', n, 'manifest.json'), 'utf8')).bench === true);
const stack = sets.join(',');

const cells = [
  // do our sets still apply to Debian's newest 6.12? (we hear of a point release before users do)
  ...(sets.length ? [{ name: 'rebase-check:latest', args: ['rebase-check', '--base', 'latest'] }] : []),
  { name: 'base', args: ['--patch', 'none'] },
  // every patch of every set builds on its prefix (the series bisect)
  ...(sets.length ? [{ name: `build-each:${stack}`, args: ['build-each', '--patch', stack] }] : []),
  ...sets.map((s) => ({ name: s, args: ['--patch', s, '--compare-baseline'] })),
  ...(sets.length > 1 ? [{ name: `stack:${stack}`, args: ['--patch', stack] }] : []),
  { name: `debug:${stack || 'none'}`, args: ['--patch', stack || 'none', '--debug'] },
  { name: `kmemleak:${stack || 'none'}`, args: ['--patch', stack || 'none', '--kmemleak'] },
  ...(benches.length ? [{ name: 'bench', args: ['--patch', stack || 'none', '--suite', benches.join(',')] }] : []),
  // A --debug kernel names where a report happened and whom to tell: the lab's own lkdtm
  // crash types, one UBSAN shift; the cell passes when the report carries file:line and maintainers.
  {
    name: 'debug-symbolize',
    args: ['--patch', 'test/fixtures/lab-crashers', '--debug', '--exec', 'echo UBSAN_SHIFT > /sys/kernel/debug/provoke-crash/DIRECT'],
    check: (run) => {
      const c = run?.crashes?.[0];
      const ok = run?.status === 'crash' && /^drivers\/misc\/lkdtm\/lab\.c:\d+$/.test(c?.location ?? '') && (c?.maintainers ?? []).length > 0;
      return { status: ok ? 'pass' : 'fail', reason: ok ? `${c.title} at ${c.location}; ${c.maintainers.join(', ')}` : `expected a located UBSAN report, got ${JSON.stringify(c ? { title: c.title, location: c.location, maintainers: c.maintainers } : run?.reason)}` };
    },
  },
  // A --debug kernel that panics, or hangs (the post-mortem NMI panics it), leaves a memory
  // dump: kept (the run failed), a plain kdump file, and for the hang the stuck task named.
  {
    name: 'debug-dump-panic',
    args: ['--patch', 'none', '--debug', '--exec', 'echo PANIC > /sys/kernel/debug/provoke-crash/DIRECT'],
    check: (run) => dumpCheck(run, null),
  },
  {
    name: 'debug-dump-hang',
    args: ['--patch', 'none', '--debug', '--exec', 'echo HUNG_TASK > /sys/kernel/debug/provoke-crash/DIRECT', '--timeout', '90'],
    check: (run) => dumpCheck(run, 'lkdtm_HUNG_TASK'),
  },
  // liburing's own tests (Debian's 2.3-3), all of them: long under TCG, so nightly only
  // (make test runs liburing-quick). Known base non-passes: suites/liburing/expected/.
  ...(suites.includes('liburing')
    ? [
        { name: 'liburing:base', args: ['--patch', 'none', '--suite', 'liburing'] },
        ...(sets.length ? [{ name: `liburing:${stack}`, args: ['--patch', stack, '--suite', 'liburing', '--compare-baseline'] }] : []),
      ]
    : []),
  // The kernel's own mm selftests that pin memory through io_uring (cow, gup_longterm),
  // each set alone and the stack against the base: a table of subtests that changed.
  ...(suites.includes('kselftest-mm')
    ? [...sets, ...(sets.length > 1 ? [stack] : [])].map((p) => ({ name: `kselftest-mm:${p}`, args: ['--patch', p, '--suite', 'kselftest-mm', '--compare-baseline'] }))
    : []),
];

/** A dump kept as a plain kdump file; with stuckIn, the post-mortem names a D-state task there. */
function dumpCheck(run, stuckIn) {
  const d = run?.dump;
  let sig = '';
  try {
    const fd = fs.openSync(d.file, 'r');
    const b = Buffer.alloc(8);
    fs.readSync(fd, b, 0, 8, 0);
    fs.closeSync(fd);
    sig = b.toString('latin1');
  } catch {}
  const stuck = stuckIn ? run?.postmortem?.tasks?.find((t) => t.where === stuckIn) : null;
  const ok = sig === 'KDUMP   ' && d.bytes > 0 && (!stuckIn || stuck);
  return { status: ok ? 'pass' : 'fail', reason: ok ? `${(d.bytes / 2 ** 20).toFixed(0)} MiB kdump in ${d.seconds.toFixed(1)} s${stuck ? `; pid ${stuck.pid} stuck in ${stuckIn}` : ''}` : `expected a kept kdump file${stuckIn ? ` and a task stuck in ${stuckIn}` : ''}, got ${JSON.stringify(d ? { file: d.file, kept: d.kept, signature: sig } : run?.reason)}${stuckIn ? `, stuck: ${JSON.stringify(run?.postmortem?.tasks?.map((t) => t.where))}` : ''}` };
}

const rows = [];
for (const cell of cells) {
  const dir = path.join(out, cell.name.replace(/[^\w.-]/g, '_'));
  const t0 = Date.now();
  const results = cell.args[0] === 'rebase-check' ? [] : ['--results', dir];
  const p = await $`npm run -s lab -- ${cell.args} ${results}`;
  let run = null;
  if (cell.args[0] === 'rebase-check') {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'rebase-check.txt'), p.stdout);
    run = { status: p.exitCode === 0 ? 'pass' : p.exitCode === 1 ? 'fail' : 'error', reason: p.stdout.trim().split('\n').join('; ') };
  }
  try {
    run = JSON.parse(fs.readFileSync(path.join(dir, 'latest', 'run.json'), 'utf8'));
  } catch {}
  if (!run && fs.existsSync(path.join(dir, 'latest', 'build-each.json'))) {
    const each = JSON.parse(fs.readFileSync(path.join(dir, 'latest', 'build-each.json'), 'utf8')).results;
    const bad = each.find((x) => x.status === 'fail');
    run = { status: bad ? 'fail' : 'pass', reason: bad ? `${bad.set}/${bad.patch} does not build: ${bad.error}` : `all ${each.length} patches build` };
  }
  if (cell.check) {
    const c = cell.check(run);
    rows.push({ cell: cell.name, exitCode: c.status === 'pass' ? 0 : 1, status: c.status, reason: c.reason, minutes: ((Date.now() - t0) / 60000).toFixed(1) });
    continue;
  }
  rows.push({ cell: cell.name, exitCode: p.exitCode, status: run?.status ?? 'error', reason: run?.reason ?? p.stderr.trim().split('\n').pop(), minutes: ((Date.now() - t0) / 60000).toFixed(1) });
}
fs.writeFileSync(path.join(out, 'matrix.json'), JSON.stringify(rows, null, 2));
const md = ['| cell | status | exit | minutes | reason |', '|---|---|---|---|---|', ...rows.map((r) => `| ${r.cell} | ${r.status} | ${r.exitCode} | ${r.minutes} | ${String(r.reason ?? '').replace(/\|/g, '\\|')} |`)].join('\n');
fs.writeFileSync(path.join(out, 'matrix.md'), `${md}\n`);
echo(md);
process.exit(rows.every((r) => r.exitCode === 0) ? 0 : 1);
