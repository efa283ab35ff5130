// The kernel's own mm selftests that pin memory through io_uring (suites/kselftest-mm),
// built from the tested tree and run on the unpatched base in QEMU; each program's KTAP
// is kept as its subtests.
import test from 'ava';
import { loadSuite } from '../../harness/catalog.ts';
import { lab } from './helpers.ts';

test.serial('kselftest-mm on the base: cow and gup_longterm report every planned subtest, their io_uring cases pass, none fails', async (t) => {
  const r = await lab(['--patch', 'none', '--suite', 'kselftest-mm']);
  const run = r.run!;
  t.truthy(run, r.stderr.split('\n').slice(-20).join('\n'));
  t.deepEqual(run.crashes, [], 'no kernel report');
  t.deepEqual(run.tests.map((x) => x.name), loadSuite('kselftest-mm').tests.map((x) => x.name));
  for (const name of ['cow', 'gup_longterm']) {
    const rec = run.tests.find((x) => x.name === name)!;
    const subs = rec.subtests ?? [];
    const failed = subs.filter((s) => s.status === 'fail');
    t.deepEqual(failed, [], `${name}: failed subtests`);
    t.is(rec.status, 'pass', `${name}: ${rec.reason ?? ''}`);
    // Every subtest the program planned reported, numbered 1..N.
    t.true((rec.subtestPlan ?? 0) > 0, `${name} printed its plan`);
    t.is(subs.length, rec.subtestPlan ?? -1, `${name}: one result per planned subtest`);
    t.deepEqual(subs.map((s) => s.n), subs.map((_, i) => i + 1));
    // The io_uring cases (fixed buffers pinning the memory under test) ran and passed on
    // ordinary memory; the hugetlb ones may skip for want of pages of that size.
    const uring = subs.filter((s) => /io_?uring/i.test(s.context ?? ''));
    t.true(uring.length >= 2, `${name}: io_uring cases found: ${uring.length}`);
    const plainUring = uring.filter((s) => /with (base page|memfd|tmpfile)$/.test(s.context ?? ''));
    t.true(plainUring.length >= 2, `${name}: io_uring cases on base pages or files: ${plainUring.length}`);
    for (const s of plainUring) t.is(s.status, 'pass', `${name} #${s.n} ${s.context}: ${s.name} ${s.reason ?? ''}`);
  }
  t.is(run.status, 'pass', run.reason);
  t.is(r.exitCode, 0);
  // The summary says what each program's KTAP held.
  t.regex(JSON.stringify(run.tests.map((x) => x.subtests?.length)), /^\[\d+,\d+\]$/);
});
