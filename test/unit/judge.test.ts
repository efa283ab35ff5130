import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { aggregateRuns, applyKnownIssues, chargeCrashes, chargeTaint, knownFor, loadKnownIssues, markKnownCrashes, taintLetters } from '../../harness/judge.ts';
import { parseKtap } from '../../harness/ktap.ts';
import { UsageError } from '../../harness/errors.ts';
import { verdict } from '../../harness/stages/results.ts';
import type { CrashRecord, TestRecord } from '../../harness/types.ts';

// What the agent prints for one test run three times (--repeat 3): the second run fails.
const REPEATED = `KTAP version 1
1..1
# kl-taint-boot 0
    KTAP version 1
    # Subtest: uring
    1..2
    # kl-start uring/nop timeout=120
    # kl-duration uring/nop 1s exit=0 taint=0
    ok 1 nop
    # kl-start uring/nop timeout=120
    # FAIL: got -11
    # kl-duration uring/nop 3s exit=1 taint=0
    not ok 1 nop # got -11
    # kl-start uring/nop timeout=120
    # kl-duration uring/nop 2s exit=0 taint=512
    ok 1 nop
    # kl-start uring/link timeout=120
    # kl-duration uring/link 1s exit=1 taint=512
    not ok 2 link # always
    # kl-start uring/link timeout=120
    # kl-duration uring/link 1s exit=1 taint=512
    not ok 2 link # always
not ok 1 uring
`;

test('repeated runs of a test: one record each, with its own duration and the taint after it', (t) => {
  const p = parseKtap(REPEATED);
  t.is(p.bootTaint, 0);
  t.deepEqual(p.tests.map((x) => [x.name, x.status, x.durationS, x.taint]), [['nop', 'pass', 1, 0], ['nop', 'fail', 3, 0], ['nop', 'pass', 2, 512], ['link', 'fail', 1, 512], ['link', 'fail', 1, 512]]);
});

test('runs that pass and fail make a flaky test with its counts; runs that all fail make a failed one', (t) => {
  const p = parseKtap(REPEATED);
  const agg = aggregateRuns(p.tests);
  t.is(agg.length, 2);
  t.like(agg[0], { name: 'nop', status: 'flaky', runs: { pass: 2, fail: 1 }, durationS: 2 });
  t.regex(agg[0]!.reason!, /^2 of 3 runs passed; a failed run: got -11$/);
  t.deepEqual(agg[0]!.log, ['FAIL: got -11'], 'the log of a failed run');
  t.like(agg[1], { name: 'link', status: 'fail', runs: { fail: 2 } });
  t.regex(agg[1]!.reason!, /^0 of 2 runs passed; always$/);
  const single = aggregateRuns([{ suite: 's', name: 'a', status: 'pass', durationS: 1 }]);
  t.deepEqual(single, [{ suite: 's', name: 'a', status: 'pass', durationS: 1 }], 'a single run is left as it is');
});

test('a run that adds a bug taint (W) fails even with exit 0; taint already there is not charged again', (t) => {
  const p = parseKtap(REPEATED);
  const charged = chargeTaint(p.tests, p.bootTaint);
  t.deepEqual(charged.map((x) => x.status), ['pass', 'fail', 'fail', 'fail', 'fail']);
  t.is(charged[2]!.reason, 'the kernel was tainted during the test (new flags W)');
  t.is(charged[3]!.reason, 'always', 'link ran after the taint: not its doing');
  t.is(taintLetters((1 << 9) | (1 << 7)), 'DW');
  // A taint that is not a bug (O: out-of-tree module) does not fail a test.
  t.is(chargeTaint([{ suite: 's', name: 'a', status: 'pass', durationS: 0, taint: 1 << 12 }], 0)[0]!.status, 'pass');
});

const crash = (test: string | null, title = 'WARNING in f'): CrashRecord => ({ type: 'WARNING', title, test, fatal: false, corrupted: false, report: '', line: 1, count: 1 });

test('a kernel report fails the test it is charged to, unless the report is a known issue', (t) => {
  const tests: TestRecord[] = [{ suite: 'uring', name: 'nop', status: 'pass', durationS: 1 }, { suite: 'uring', name: 'link', status: 'pass', durationS: 1 }];
  const out = chargeCrashes(tests, [crash('uring/nop')]);
  t.like(out[0], { status: 'fail', reason: 'kernel: WARNING in f' });
  t.is(out[1]!.status, 'pass');
  const known = [crash('uring/nop')];
  markKnownCrashes(known, [{ title: 'WARNING in f', reason: 'upstream bug' }]);
  t.is(chargeCrashes(tests, known)[0]!.status, 'pass');
  t.is(verdict(tests, known, null, true).status, 'pass', 'a known report does not fail the run');
});

test('known issues: an expected failure does not fail the run; one that stopped happening is reported; the base must match', (t) => {
  const issues = [
    { test: 'liburing/poll-race', reason: 'fails on 6.12 base', base: '6.12' },
    { test: 'liburing/fixed-link', reason: 'fixed upstream', base: '6.12' },
    { test: 'liburing/other', reason: 'only on 6.13', base: '6.13' },
  ];
  const applies = knownFor(issues, '6.12.9');
  t.is(applies.length, 2);
  const tests: TestRecord[] = [
    { suite: 'liburing', name: 'poll-race', status: 'fail', durationS: 1 },
    { suite: 'liburing', name: 'fixed-link', status: 'pass', durationS: 1 },
    { suite: 'liburing', name: 'other', status: 'fail', durationS: 1 },
  ];
  const { tests: out, seen } = applyKnownIssues(tests, [], applies);
  t.is(out[0]!.known?.reason, 'fails on 6.12 base');
  t.is(out[2]!.known, undefined);
  t.deepEqual(seen.map((s) => [s.issue.test, s.seen]), [['liburing/poll-race', true], ['liburing/fixed-link', false]]);
  t.is(verdict(out.slice(0, 2), [], null, true).status, 'pass');
  t.is(verdict(out, [], null, true).status, 'fail', 'a failure not on the list still fails');
});

test('flaky tests pass the run unless --fail-on-flaky', (t) => {
  const tests: TestRecord[] = [{ suite: 's', name: 'a', status: 'flaky', durationS: 1, runs: { pass: 4, fail: 2 } }];
  const v = verdict(tests, [], null, true);
  t.is(v.status, 'pass');
  t.regex(v.reason, /1 flaky \(s\/a\)/);
  t.is(verdict(tests, [], null, true, true).status, 'fail');
});

test('the known-issues file: a bad entry is a usage error naming it', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-known-'));
  const f = path.join(dir, 'known.json');
  fs.writeFileSync(f, JSON.stringify([{ test: 'a/b', title: 'x', reason: 'both' }]));
  t.throws(() => loadKnownIssues(f), { instanceOf: UsageError, message: /entry 0: each entry names a test or a report title, not both/ });
  fs.writeFileSync(f, JSON.stringify([{ test: 'a/b' }]));
  t.throws(() => loadKnownIssues(f), { instanceOf: UsageError, message: /entry 0\.reason/ });
  fs.writeFileSync(f, '[');
  t.throws(() => loadKnownIssues(f), { instanceOf: UsageError, message: /not valid JSON/ });
  t.deepEqual(loadKnownIssues(path.join(dir, 'absent.json')), []);
  t.notThrows(() => loadKnownIssues(), 'the shipped list is valid');
  fs.rmSync(dir, { recursive: true });
});
