// The kernel's own BPF verifier selftest (suites/kselftest-bpf: test_verifier, built from
// the tested tree without BTF) on the unpatched base in QEMU: every result it printed is a
// subtest, and the only failures are the base's known ones (expected/<base>.json).
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { loadSuite } from '../../harness/catalog.ts';
import { paths } from '../../harness/paths.ts';
import { lab } from './helpers.ts';

test.serial('kselftest-bpf on the base: test_verifier reports every result, fails only the listed ones, passes the rest it can run', async (t) => {
  const r = await lab(['--patch', 'none', '--suite', 'kselftest-bpf']);
  const run = r.run!;
  t.truthy(run, r.stderr.split('\n').slice(-20).join('\n'));
  t.deepEqual(run.crashes, [], 'no kernel report');
  t.deepEqual(run.tests.map((x) => x.name), loadSuite('kselftest-bpf').tests.map((x) => x.name));
  const rec = run.tests[0]!;
  const subs = rec.subtests ?? [];
  t.true((rec.subtestPlan ?? 0) > 700, `test_verifier's results: ${rec.subtestPlan}`);
  t.is(subs.length, rec.subtestPlan ?? -1, 'one KTAP line per result');
  t.deepEqual(subs.map((s) => s.n), subs.map((_, i) => i + 1));
  // The failures are exactly the base's list (the entry's match names them); known, the
  // test is recorded as a skip that names the list.
  const list = Object.values(fs.readdirSync(path.join(paths.suites, 'kselftest-bpf', 'expected')).map((f) => JSON.parse(fs.readFileSync(path.join(paths.suites, 'kselftest-bpf', 'expected', f), 'utf8'))))[0];
  const known = /failed: (.*)\$$/.exec(list.tests.test_verifier.match)![1]!.split(' ');
  t.deepEqual(subs.filter((s) => s.status === 'fail').map((s) => s.name.split(' ')[0]), known);
  t.is(rec.status, 'skip');
  t.regex(rec.reason ?? '', /^known fail on this base \(suites\/kselftest-bpf\/expected\//);
  // Most of it runs: the privileged runs of the plain (socket filter) tests all pass.
  t.true(subs.filter((s) => s.status === 'pass').length > 600, 'passes');
  const basic = subs.filter((s) => / (invalid and of negative number|valid and of negative number|BPF_ATOMIC_AND without fetch)/.test(s.name) && s.name.includes('/p '));
  t.true(basic.length >= 1);
  for (const s of basic) t.is(s.status, 'pass', s.name);
  t.is(run.status, 'pass', run.reason);
  t.is(r.exitCode, 0);
});
