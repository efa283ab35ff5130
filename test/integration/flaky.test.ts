// Verdicts that stay stable under flaky tests: --repeat, --retry-failed, taint and the
// known-issues list, on the real base kernel in QEMU.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { lab } from './helpers.ts';

const tail = (s: string) => s.split('\n').slice(-12).join('\n');
// Fails the 3rd, 6th, ... run in the same boot (its count lives in the guest's /tmp).
const ONE_IN_THREE = 'n=$(cat /tmp/kl-count 2>/dev/null || echo 0); n=$((n + 1)); echo $n > /tmp/kl-count; if [ $((n % 3)) -eq 0 ]; then echo "FAIL: run $n"; exit 1; fi';

test.serial('--repeat 6: a test that fails one run in three is flaky with its counts and the run passes; --fail-on-flaky fails it', async (t) => {
  const r = await lab(['--patch', 'none', '--exec', ONE_IN_THREE, '--repeat', '6']);
  t.is(r.exitCode, 0, tail(r.stderr));
  const run = r.run!;
  t.is(run.status, 'pass');
  t.is(run.tests.length, 1);
  t.like(run.tests[0], { suite: 'exec', name: 'command', status: 'flaky', runs: { pass: 4, fail: 1 + 1 } });
  t.regex(run.tests[0]!.reason!, /^4 of 6 runs passed; a failed run: run 3$/);
  t.regex(run.reason!, /1 flaky \(exec\/command\)/);
  t.regex(fs.readFileSync(path.join(r.dir!, 'summary.md'), 'utf8'), /\| exec \| command \| flaky \(4\/6 passed\) \|/);
  const junit = fs.readFileSync(path.join(r.dir!, 'junit.xml'), 'utf8');
  t.regex(junit, /<flakyFailure message="4 of 6 runs passed/);
  t.regex(junit, /<property name="runs.fail" value="2"\/>/);
  const strict = await lab(['--patch', 'none', '--exec', ONE_IN_THREE, '--repeat', '6', '--fail-on-flaky']);
  t.is(strict.exitCode, 1, tail(strict.stderr));
  t.is(strict.run!.status, 'fail');
});

test.serial('a test that always fails is fail under --repeat 6, and --retry-failed 2 runs it three times', async (t) => {
  const r = await lab(['--patch', 'none', '--exec', 'echo "FAIL: never works"; exit 1', '--repeat', '6']);
  t.is(r.exitCode, 1, tail(r.stderr));
  t.like(r.run!.tests[0], { status: 'fail', runs: { fail: 6 }, reason: '0 of 6 runs passed; never works' });
  const retried = await lab(['--patch', 'none', '--exec', 'echo "FAIL: never works"; exit 1', '--retry-failed', '2']);
  t.is(retried.exitCode, 1, tail(retried.stderr));
  t.like(retried.run!.tests[0], { status: 'fail', runs: { fail: 3 } });
  // A retried test that then passes is flaky: the second run finds the file the first left.
  const second = await lab(['--patch', 'none', '--exec', 'if [ -e /tmp/kl-ran ]; then exit 0; fi; touch /tmp/kl-ran; echo "FAIL: first run"; exit 1', '--retry-failed', '2']);
  t.is(second.exitCode, 0, tail(second.stderr));
  t.like(second.run!.tests[0], { status: 'flaky', runs: { fail: 1, pass: 1 } });
});

test.serial('a test that taints the kernel without any report fails, naming the new taint', async (t) => {
  // Writing to kernel.tainted adds flags (here W) the way a WARN would, with nothing printed.
  const r = await lab(['--patch', 'none', '--exec', 'echo 512 > /proc/sys/kernel/tainted; echo done']);
  t.is(r.exitCode, 1, tail(r.stderr));
  t.deepEqual(r.run!.crashes, []);
  t.like(r.run!.tests[0], { status: 'fail', reason: 'the kernel was tainted during the test (new flags W)', taint: 512 });
});

test.serial('known issues: an expected kernel report does not fail the run and shows in the summary; an entry that did not happen is reported as stopped', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-known-'));
  const file = path.join(dir, 'known.json');
  fs.writeFileSync(file, JSON.stringify([
    { title: 'WARNING in lkdtm_WARNING', reason: 'lkdtm warns on purpose', link: 'https://example.org/bug/1' },
    { title: 'BUG: soft lockup in lkdtm_SOFTLOCKUP', reason: 'not provoked in this run' },
  ]));
  const r = await lab(['--patch', 'none', '--exec', 'echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT', '--known-issues', file]);
  t.is(r.exitCode, 0, tail(r.stderr));
  const run = r.run!;
  t.is(run.status, 'pass');
  t.is(run.crashes.length, 1);
  t.is(run.crashes[0]!.title, 'WARNING in lkdtm_WARNING');
  t.is(run.crashes[0]!.known?.reason, 'lkdtm warns on purpose');
  t.is(run.tests[0]!.status, 'pass', 'neither the report nor its W taint fails the test');
  t.deepEqual(run.knownIssues!.map((k) => [k.issue.title, k.seen]), [['WARNING in lkdtm_WARNING', true], ['BUG: soft lockup in lkdtm_SOFTLOCKUP', false]]);
  const summary = fs.readFileSync(path.join(r.dir!, 'summary.md'), 'utf8');
  t.regex(summary, /report "WARNING in lkdtm_WARNING": seen, as expected — lkdtm warns on purpose \(https:\/\/example.org\/bug\/1\)/);
  t.regex(summary, /report "BUG: soft lockup in lkdtm_SOFTLOCKUP": \*\*not seen: it stopped happening\*\*/);
  // Without the list the same run is a crash.
  const plain = await lab(['--patch', 'none', '--exec', 'echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT']);
  t.is(plain.exitCode, 1);
  t.is(plain.run!.status, 'crash');
  t.like(plain.run!.tests[0], { status: 'fail', reason: 'kernel: WARNING in lkdtm_WARNING' });
  fs.rmSync(dir, { recursive: true });
});
