import test from 'ava';
import { parseKtap } from '../../harness/ktap.ts';

const AGENT_OUTPUT = `KTAP version 1
1..2
    KTAP version 1
    # Subtest: uring
    1..3
    # kl-start uring/nop timeout=120
    # hello from nop
    # kl-duration uring/nop 1s exit=0
    ok 1 nop
    # kl-start uring/link timeout=120
    # FAIL: linked WRITE: want -125, got 4096
    # kl-duration uring/link 0s exit=1
    not ok 2 link # linked WRITE: want -125, got 4096
    ok 3 needs_fused # SKIP needs patch feature 'fused'
not ok 1 uring
    KTAP version 1
    # Subtest: smoke
    1..1
    # kl-start smoke/slow timeout=4
    # kl-duration smoke/slow 4s exit=137
    not ok 1 slow # TIMEOUT 4s
not ok 2 smoke
`;

test('agent KTAP becomes one record per test with status, reason, duration and log', (t) => {
  const r = parseKtap(AGENT_OUTPUT);
  t.true(r.complete);
  t.is(r.running, null);
  t.deepEqual(
    r.tests.map((x) => [x.suite, x.name, x.status, x.durationS, x.reason]),
    [
      ['uring', 'nop', 'pass', 1, undefined],
      ['uring', 'link', 'fail', 0, 'linked WRITE: want -125, got 4096'],
      ['uring', 'needs_fused', 'skip', 0, "needs patch feature 'fused'"],
      ['smoke', 'slow', 'timeout', 4, 'timed out after 4s'],
    ],
  );
  t.deepEqual(r.tests[0]!.log, ['hello from nop']);
});

test('a stream cut mid-test reports the running test and is not complete', (t) => {
  const cut = AGENT_OUTPUT.split('\n').slice(0, 11).join('\n');
  const r = parseKtap(cut);
  t.false(r.complete);
  t.is(r.running, 'uring/link');
  t.is(r.tests.length, 1);
});

test('exec mode: the single top-level result is the test', (t) => {
  const r = parseKtap('KTAP version 1\n1..1\n# Subtest: exec\n# kl-start exec/command timeout=60\n# out\n# kl-duration exec/command 2s exit=0\nok 1 command\n');
  t.deepEqual(r.tests.map((x) => [x.suite, x.name, x.status]), [['exec', 'command', 'pass']]);
  t.true(r.complete);
});

test('console noise between KTAP lines is ignored', (t) => {
  const r = parseKtap('garbage\nKTAP version 1\n1..1\n  random [ 1.0] text\n    # Subtest: s\n    1..1\n    ok 1 a\nok 1 s\n');
  t.deepEqual(r.tests.map((x) => x.name), ['a']);
});
