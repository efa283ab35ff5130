// kcidb.json: a run in KCIDB v5.3 terms. The zod model below is ours, written from the
// constraints KCIDB documents (origin and id patterns, the test path, the status enum,
// patchset_hash, the bounded log excerpt, no unknown keys) for the subset the lab emits.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { validate } from '../kcidb-model.ts';
import { kcidbReport, writeKcidb } from '../../harness/kcidb.ts';
import { repoRoot } from '../../harness/paths.ts';
import type { CrashRecord, RunRecord, TestRecord } from '../../harness/types.ts';

const fusedDir = path.join(repoRoot, 'kernel-patches', 'fused');
const fusedPatches = fs.readFileSync(path.join(fusedDir, 'series'), 'utf8').split('\n').filter(Boolean);
const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const crash = (title: string, t: string | null, extra: Partial<CrashRecord> = {}): CrashRecord => ({ type: 'KASAN', title, test: t, fatal: false, corrupted: false, report: title, line: 1, count: 1, ...extra });

function record(dir: string, over: Partial<RunRecord> = {}): RunRecord {
  const tests: TestRecord[] = [
    { suite: 'fused', name: 'probe_reports_fused_cmd', status: 'pass', durationS: 1 },
    { suite: 'fused', name: 'offset len lands', status: 'fail', durationS: 2, reason: 'want 0, got -22', log: ['line \u0000 with NUL'] },
    { suite: 'uring', name: 'sqpoll', status: 'skip', durationS: 0, reason: 'no SQPOLL' },
    { suite: 'uring', name: 'racy', status: 'flaky', durationS: 3, runs: { pass: 4, fail: 2 } },
    { suite: 'ublk', name: 'stuck', status: 'timeout', durationS: 60, reason: 'still running when the guest was stopped' },
    { suite: 'ublk', name: 'after', status: 'error', durationS: 0, reason: 'not run: the guest stopped earlier' },
    { suite: 'ublk', name: 'old_bug', status: 'fail', durationS: 1, known: { test: 'ublk/old_bug', reason: 'fixed in 6.13', link: 'https://lore.kernel.org/x' } },
  ];
  return {
    id: '20261203-170000-fused-abc',
    dir,
    options: { patch: ['fused'], suites: null, exec: null, configFragments: [], configItems: [], debug: true, compareBaseline: false, kernelSrc: null, resultsDir: dir, timeoutS: null, memoryMiB: 2048, cpus: 2, dryRun: false },
    status: 'crash',
    startedAt: '2026-12-03T17:00:00.000Z',
    timings: { patches: 1, build: 420.5 },
    base: { desc: 'linux-source-6.12 6.12.9-1', version: '6.12.9', sha256: 'ab'.repeat(32), debian: null },
    kernel: {
      base: 'x', baseSha256: 'ab'.repeat(32), version: '6.12.9', features: ['fused'], configSha256: 'cd'.repeat(32), buildKey: '0123456789abcdef0123', cached: false, buildDir: '/x',
      patches: fusedPatches.map((f) => ({ set: 'fused', file: path.join(fusedDir, f), subject: f, sha256: sha(path.join(fusedDir, f)) })),
    },
    accel: 'tcg',
    suites: ['fused', 'uring', 'ublk'],
    tests,
    crashes: [crash('KASAN: use-after-free Read in io_fused_cmd_complete', 'fused/offset len lands'), crash('KASAN: use-after-free Read in io_fused_cmd_complete', 'fused/offset len lands', { count: 3 }), crash('WARNING in ublk_ch_release', null, { type: 'WARNING' })],
    commands: [],
    ...over,
  };
}

test('a run as KCIDB v5.3: valid against the documented constraints, every test mapped', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-kcidb-'));
  fs.writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ compiler: 'gcc (Debian 12.2.0-14+deb12u1) 12.2.0' }));
  writeKcidb(record(dir));
  const r = JSON.parse(fs.readFileSync(path.join(dir, 'kcidb.json'), 'utf8'));
  t.true(validate(r), JSON.stringify(validate.errors, null, 1));
  // The model rejects what KCIDB rejects (so its yes means something).
  for (const bad of [{ ...r, checkouts: [{ ...r.checkouts[0], origin: 'kernel-lab' }] }, { ...r, tests: [{ ...r.tests[0], status: 'BROKEN' }] }, { ...r, tests: [{ ...r.tests[0], path: 'uring/fused basic' }] }, { ...r, extra: 1 }, { ...r, tests: [{ ...r.tests[0], build_id: undefined }] }]) {
    t.false(validate(bad), JSON.stringify(bad).slice(0, 200));
  }
  // patchset_hash is KCIDB's own recipe: sha256sum *.patch | cut -c-64 | sha256sum
  const shell = await execa('sh', ['-c', `cd ${fusedDir} && sha256sum ${fusedPatches.join(' ')} | cut -c-64 | sha256sum | cut -c-64`]);
  t.is(r.checkouts[0].patchset_hash, shell.stdout.trim());
  t.like(r.checkouts[0], { valid: true, git_commit_name: 'v6.12.9', origin: 'kernel_lab' });
  t.like(r.builds[0], { status: 'PASS', compiler: 'gcc (Debian 12.2.0-14+deb12u1) 12.2.0', config_name: 'kernel-lab+fused+debug', duration: 420.5, checkout_id: r.checkouts[0].id });
  const st = Object.fromEntries(r.tests.map((x: { path: string; status: string }) => [x.path, x.status]));
  t.deepEqual(st, {
    'kernel_lab.fused.probe_reports_fused_cmd': 'PASS',
    'kernel_lab.fused.offset_len_lands': 'FAIL',
    'kernel_lab.uring.sqpoll': 'SKIP',
    'kernel_lab.uring.racy': 'PASS',
    'kernel_lab.ublk.stuck': 'ERROR',
    'kernel_lab.ublk.after': 'MISS',
    'kernel_lab.ublk.old_bug': 'FAIL',
  });
  const racy = r.tests.find((x: { path: string }) => x.path.endsWith('.racy'));
  t.deepEqual(racy.misc, { flaky: true, runs: { pass: 4, fail: 2 } }, 'a flaky test carries its counts');
  t.deepEqual(r.tests.find((x: { path: string }) => x.path.endsWith('.old_bug')).misc, { known_issue: { reason: 'fixed in 6.13', link: 'https://lore.kernel.org/x' } });
  t.false(JSON.stringify(r).includes('\\u0000'), 'no NUL reaches KCIDB');
  // One issue per title; an incident per report, on its test or (no test) on the build.
  t.is(r.issues.length, 2);
  t.deepEqual(r.issues.map((i: { report_subject: string }) => i.report_subject).sort(), ['KASAN: use-after-free Read in io_fused_cmd_complete', 'WARNING in ublk_ch_release']);
  t.is(r.incidents.length, 3);
  t.is(r.incidents[0].test_id, r.tests[1].id);
  t.is(r.incidents[1].comment, '3 times');
  t.is(r.incidents[2].build_id, r.builds[0].id);
});

test('the same kernel inputs are the same checkout and build ids on any run; --fail-on-flaky makes flaky FAIL', (t) => {
  const a = kcidbReport(record('/nonexistent')) as { checkouts: { id: string }[]; builds: { id: string }[]; tests: { id: string; status: string }[] };
  const b = kcidbReport(record('/nonexistent', { id: 'another-run', options: { ...record('/x').options, failOnFlaky: true } })) as typeof a;
  t.is(a.checkouts[0]!.id, b.checkouts[0]!.id);
  t.is(a.builds[0]!.id, b.builds[0]!.id);
  t.not(a.tests[0]!.id, b.tests[0]!.id, 'tests are per run');
  t.is(b.tests[3]!.status, 'FAIL');
  t.true(validate(a), JSON.stringify(validate.errors));
});

test('a series that does not apply is an invalid checkout with no build; one that does not build, a failed build', (t) => {
  const noApply = kcidbReport(record('/x', { status: 'fail', reason: 'fused/0002 does not apply', kernel: undefined, timings: { patches: 1 }, tests: [], crashes: [] })) as Record<string, unknown[]>;
  t.true(validate(noApply), JSON.stringify(validate.errors));
  t.like(noApply.checkouts![0], { valid: false, log_excerpt: 'fused/0002 does not apply' });
  t.deepEqual(noApply.builds, []);
  const noBuild = kcidbReport(record('/x', { status: 'fail', reason: 'io_uring/fused.c:12: error: x', kernel: undefined, timings: { patches: 1, build: 30 }, tests: [], crashes: [] })) as Record<string, unknown[]>;
  t.true(validate(noBuild), JSON.stringify(validate.errors));
  t.like(noBuild.checkouts![0], { valid: true });
  t.like(noBuild.builds![0], { status: 'FAIL', log_excerpt: 'io_uring/fused.c:12: error: x' });
  const unpatched = kcidbReport(record('/x', { kernel: { ...record('/x').kernel!, patches: [] } })) as { checkouts: { patchset_hash: string }[] };
  t.is(unpatched.checkouts[0]!.patchset_hash, '', 'no patches: the empty string, as KCIDB asks');
});
