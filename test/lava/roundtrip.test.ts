// The same kernel and suites, run here and as a LAVA job on this machine (Debian's
// lava-run, as root, no_kvm: TCG), end in the same verdict and the same tests with the
// same statuses. Needs make lava-deps and root. One guest at a time (serial tests).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { lab } from '../integration/helpers.ts';
import { lavaMissing } from './helpers.ts';
import type { RunRecord, RunStatus } from '../../harness/types.ts';

// The local run under TCG too, whatever this machine's /dev/kvm says: like for like.
process.env.KERNEL_LAB_ACCEL = 'tcg';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-lava-run-'));
test.after.always(() => fs.rmSync(scratch, { recursive: true, force: true }));

const tests = (r: RunRecord) => r.tests.map((x) => `${x.suite}/${x.name}: ${x.status}`);
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
/** How many tests the suites' manifests list: in these jobs every one of them runs and passes. */
const listed = (suites: string) =>
  suites.split(',').reduce((n, s) => n + (JSON.parse(fs.readFileSync(path.join(repoRoot, 'suites', s, 'manifest.json'), 'utf8')) as { tests: unknown[] }).tests.length, 0);

async function roundTrip(t: ExecutionContext, jobId: number, patch: string, suites: string, count: number, want: { status: RunStatus; exit: number; crash?: string } = { status: 'pass', exit: 0 }): Promise<void> {
  const why = lavaMissing('run');
  if (why) return void t.fail(why);
  const out = path.join(scratch, `job-${jobId}`);
  const exp = await lab(['export-lava', '--patch', patch, '--suite', suites, '--no-kvm', '--out', out]);
  t.is(exp.exitCode, 0, exp.stderr.slice(-2000));
  const lavaOut = path.join(out, 'lava-run');
  fs.mkdirSync(lavaOut);
  // lava-run logs to stderr: that is the job log import-lava reads (job.log in the output dir).
  const t0 = Date.now();
  const run = await execa('lava-run', ['--job-id', String(jobId), '--output-dir', lavaOut, '--device', path.join(out, 'device-qemu.yaml'), path.join(out, 'job.yaml')], { stderr: { file: path.join(lavaOut, 'job.log') }, reject: false, timeout: 30 * 60_000 });
  t.log(`lava-run: exit ${run.exitCode} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const jobLog = fs.readFileSync(path.join(lavaOut, 'job.log'), 'utf8');
  t.is(run.exitCode, 0, jobLog.split('\n').slice(-20).join('\n'));
  t.regex(jobLog, /"case": "job", "definition": "lava", "result": "pass"/, 'LAVA: the job finished');
  t.is((jobLog.match(/"definition": "kernel-lab", .*"result": "pass"/g) ?? []).length, count, 'LAVA sees each test as a test case (monitor pattern)');

  const imp = await lab(['import-lava', lavaOut]);
  t.is(imp.exitCode, want.exit, imp.stderr.slice(-2000));
  const local = await lab(['--patch', patch, '--suite', suites], 30 * 60_000);
  t.is(local.exitCode, want.exit, local.stderr.slice(-2000));
  const a = imp.run!;
  const b = local.run!;
  t.is(a.status, b.status);
  t.is(a.status, want.status);
  t.deepEqual(a.crashes.map((c) => `${c.title} in ${c.test}`), b.crashes.map((c) => `${c.title} in ${c.test}`));
  if (want.crash) t.deepEqual(a.crashes.map((c) => `${c.title} in ${c.test}`), [want.crash]);
  t.deepEqual(tests(a), tests(b));
  t.is(a.tests.length, count);
  t.is(a.kernel?.buildKey, b.kernel?.buildKey, 'the same kernel');
  t.deepEqual(a.lava?.problems, [], 'every console record came whole');
  for (const f of ['run.json', 'results.ktap', 'junit.xml', 'summary.md', 'kcidb.json', 'console.log']) t.true(fs.existsSync(path.join(imp.dir!, f)), f);
  t.deepEqual(fs.readdirSync(path.join(imp.dir!, 'kmsg')).sort(), fs.readdirSync(path.join(local.dir!, 'kmsg')).sort());
}

test.serial('export-lava --patch none --suite smoke, run by lava-run (no_kvm), imported: the verdict and every test\'s status equal a local TCG run\'s of the same kernel', (t) => roundTrip(t, 1, 'none', 'smoke', listed('smoke')));

test.serial('export-lava --patch fused --suite smoke,uring,fused, run by lava-run (no_kvm), imported: the verdict and every test\'s status equal a local TCG run\'s of the same kernel', (t) => roundTrip(t, 2, 'fused', 'smoke,uring,fused', listed('smoke,uring,fused')));

// LAVA looks for kernel messages only while booting: the WARN this series adds to every
// io_uring probe comes during a test, which LAVA reports as passed. Our triage of the whole
// console charges it to that test, as a local run does.
test.serial('a kernel report during a test (test/fixtures/bisect-series: a WARN on every io_uring probe): LAVA passes the test, import-lava charges the report to it, as the local run does', (t) =>
  roundTrip(t, 3, path.join('test', 'fixtures', 'bisect-series'), 'smoke', listed('smoke'), { status: 'crash', exit: 1, crash: 'WARNING in sys_io_uring_register in smoke/io_uring_probe_reports_opcodes' }));

test.serial('a job LAVA ends before the guest runs (a kernel whose sha256 does not match): import-lava says it is LAVA\'s error, its type and message, exit 3, never a kernel verdict', async (t) => {
  const why = lavaMissing('run');
  if (why) return void t.fail(why);
  const out = path.join(scratch, 'job-4');
  const exp = await lab(['export-lava', '--patch', 'none', '--suite', 'smoke', '--no-kvm', '--out', out]);
  t.is(exp.exitCode, 0, exp.stderr.slice(-2000));
  const job = path.join(out, 'job.yaml');
  fs.writeFileSync(job, fs.readFileSync(job, 'utf8').replace(/(kernel:\n\s+url: \S+\n\s+sha256sum: )[0-9a-f]{64}/, `$1${'0'.repeat(64)}`));
  const lavaOut = path.join(out, 'lava-run');
  fs.mkdirSync(lavaOut);
  const run = await execa('lava-run', ['--job-id', '4', '--output-dir', lavaOut, '--device', path.join(out, 'device-qemu.yaml'), job], { stderr: { file: path.join(lavaOut, 'job.log') }, reject: false, timeout: 10 * 60_000 });
  t.not(run.exitCode, 0);
  const imp = await lab(['import-lava', lavaOut]);
  t.is(imp.exitCode, 3, imp.stdout + imp.stderr);
  t.is(imp.run?.status, 'error');
  t.regex(imp.run?.reason ?? '', /^LAVA job did not run the guest to the end: \w+: .*sha256/);
  t.deepEqual(imp.run?.crashes, []);
});

test.serial('a guest that hangs (--exec "sleep 1000", --timeout 100): LAVA\'s monitor times out, import-lava says timeout (exit 3) with the hung test, in LAVA\'s words too', async (t) => {
  const why = lavaMissing('run');
  if (why) return void t.fail(why);
  const out = path.join(scratch, 'job-5');
  const exp = await lab(['export-lava', '--patch', 'none', '--exec', 'sleep 1000', '--timeout', '100', '--no-kvm', '--out', out]);
  t.is(exp.exitCode, 0, exp.stderr.slice(-2000));
  const lavaOut = path.join(out, 'lava-run');
  fs.mkdirSync(lavaOut);
  const run = await execa('lava-run', ['--job-id', '5', '--output-dir', lavaOut, '--device', path.join(out, 'device-qemu.yaml'), path.join(out, 'job.yaml')], { stderr: { file: path.join(lavaOut, 'job.log') }, reject: false, timeout: 10 * 60_000 });
  t.not(run.exitCode, 0);
  const imp = await lab(['import-lava', lavaOut]);
  t.is(imp.exitCode, 3, imp.stdout + imp.stderr);
  t.is(imp.run?.status, 'timeout');
  t.regex(imp.run?.reason ?? '', /LAVA: Test: lava-test-monitor timed out after 60 seconds/);
  t.deepEqual(imp.run?.tests.map((x) => `${x.suite}/${x.name}: ${x.status}`), ['exec/command: timeout']);
});
