// Two guests on one link (a suite with "network": "pair"), with fixture suites from
// outside the tree (--suite DIR): what guest b does is charged to b, and a guest b that
// never finishes ends the run as a timeout, not a hang of the lab.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { repoRoot } from '../../harness/paths.ts';
import { lab } from './helpers.ts';

const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', 'pair-suites', name);
const tail = (s: string) => s.split('\n').slice(-15).join('\n');

test.serial('a kernel report on guest b fails the two-guest test it came in, charged to guest b; guest a\'s own test still passes', async (t) => {
  const r = await lab(['--patch', 'none', '--suite', fixture('kl-pair-b-warns')]);
  t.is(r.exitCode, 1, tail(r.stderr));
  const run = r.run!;
  t.is(run.status, 'crash', run.reason);
  const warns = run.tests.find((x) => x.name === 'b_warns')!;
  t.is(warns.status, 'fail');
  t.like(warns.guests, { a: 'pass', b: 'fail' });
  t.is(warns.guests!.aReason, undefined, 'guest a passed and said nothing');
  t.truthy(warns.guests!.bReason, 'guest b\'s own reason is kept beside the merged one');
  t.like(run.tests.find((x) => x.name === 'a_alone'), { status: 'pass' });
  t.is(run.crashes.length, 1, JSON.stringify(run.crashes.map((c) => c.title)));
  t.like(run.crashes[0], { title: 'WARNING in lkdtm_WARNING', guest: 'b', test: 'kl-pair-b-warns/b_warns' });
  // b's console is b's: the report is in guest-b/console.log, not in a's.
  t.regex(fs.readFileSync(path.join(r.dir!, 'guest-b', 'console.log'), 'utf8'), /lkdtm_WARNING/);
  t.notRegex(fs.readFileSync(path.join(r.dir!, 'console.log'), 'utf8'), /lkdtm_WARNING/);
  t.regex(fs.readFileSync(path.join(r.dir!, 'summary.md'), 'utf8'), /WARNING in lkdtm_WARNING — in kl-pair-b-warns\/b_warns on guest b/);
});

test.serial('guest b never finishing its test ends the run at --timeout as a timeout (exit 3), the test charged to b', async (t) => {
  const r = await lab(['--patch', 'none', '--suite', fixture('kl-pair-b-hangs'), '--timeout', '60']);
  t.is(r.exitCode, 3, tail(r.stderr));
  const run = r.run!;
  t.is(run.status, 'timeout', run.reason);
  t.true(r.seconds < 180, `took ${r.seconds} s`);
  const hung = run.tests.find((x) => x.name === 'b_hangs')!;
  t.is(hung.status, 'timeout', hung.reason);
  t.like(hung.guests, { a: 'pass', b: 'timeout' });
  t.is(hung.guests!.aReason, undefined, 'guest a passed and said nothing');
  t.truthy(hung.guests!.bReason, 'guest b\'s own reason is kept beside the merged one');
  t.regex(run.guestB!.ended, /wall-timeout/);
  t.deepEqual(run.crashes, []);
});

test.serial('--retry-failed with two guests: a failing two-guest test runs once on each guest, a one-guest test that fails once is retried and reported flaky', async (t) => {
  const r = await lab(['--patch', 'none', '--suite', fixture('kl-pair-retry'), '--retry-failed', '1']);
  t.is(r.exitCode, 1, r.stderr.split('\n').slice(-5).join('\n'));
  const run = r.run!;
  const two = run.tests.find((x) => x.name === 'two_fails')!;
  t.is(two.status, 'fail');
  t.deepEqual(two.guests, { a: 'fail', b: 'fail' });
  t.is(two.runs, undefined, 'run once, not retried');
  const once = run.tests.find((x) => x.name === 'fails_once')!;
  t.is(once.status, 'flaky', once.reason);
  t.deepEqual(once.runs, { pass: 1, fail: 1 });
  const count = (f: string, re: RegExp) => (fs.readFileSync(path.join(r.dir!, f), 'utf8').match(re) ?? []).length;
  t.is(count('ktap.raw', /kl-start kl-pair-retry\/two_fails /g), 1, 'guest a ran it once');
  t.is(count(path.join('guest-b', 'ktap.raw'), /kl-start kl-pair-retry\/two_fails /g), 1, 'guest b ran it once');
  t.is(count('ktap.raw', /kl-start kl-pair-retry\/fails_once /g), 2, 'guest a ran its own test again');
});

test('--suite DIR: a directory without a manifest, or one named like an in-tree suite, is refused with one line (exit 2)', async (t) => {
  const none = await lab(['--patch', 'none', '--suite', path.join(repoRoot, 'test', 'fixtures', 'pair-suites'), '--dry-run']);
  t.is(none.exitCode, 2);
  t.regex(none.stderr, /--suite .*pair-suites: no manifest\.json in /);
  const own = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-suite-dir-'));
  t.teardown(() => fs.rmSync(own, { recursive: true, force: true }));
  fs.cpSync(path.join(repoRoot, 'suites', 'smoke'), path.join(own, 'smoke'), { recursive: true });
  const shadow = await lab(['--patch', 'none', '--suite', path.join(own, 'smoke'), '--dry-run']);
  t.is(shadow.exitCode, 2);
  t.regex(shadow.stderr, /the lab has a suite named 'smoke' already/);
  const same = await lab(['--patch', 'none', '--suite', path.join(repoRoot, 'suites', 'smoke'), '--dry-run']);
  t.is(same.exitCode, 0, 'the in-tree suite by its own path is that suite');
});

test.serial('a two-guest test starts on both guests together: guest b waits at its start while guest a runs the one-guest suites before it, so the test\'s own 5 s barrier holds', async (t) => {
  const r = await lab(['--patch', 'none', '--suite', `${fixture('kl-pair-late-first')},${fixture('kl-pair-late')}`]);
  t.is(r.exitCode, 0, tail(r.stderr));
  const run = r.run!;
  t.like(run.tests.find((x) => x.name === 'a_slow'), { status: 'pass' });
  const meet = run.tests.find((x) => x.name === 'meet')!;
  t.is(meet.status, 'pass', meet.reason);
  t.deepEqual(meet.guests, { a: 'pass', b: 'pass' });
  // b waited for a before the test, not in it: its run of the test took seconds, not a's 20
  const ktapB = fs.readFileSync(path.join(r.dir!, 'guest-b', 'ktap.raw'), 'utf8');
  const dur = Number(/kl-duration kl-pair-late\/meet (\d+)s/.exec(ktapB)?.[1] ?? NaN);
  t.true(dur < 10, `guest b's meet took ${dur} s`);
  const barriers = fs.readFileSync(path.join(r.dir!, 'barriers.log'), 'utf8');
  t.regex(barriers, /^b: at kl-pair-late\/meet kl-start\n/m);
  t.regex(barriers, /^-> b: go kl-pair-late\/meet kl-start$/m);
});
