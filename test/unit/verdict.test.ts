import test from 'ava';
import { exitCodeFor, verdict } from '../../harness/stages/results.ts';
import type { CrashRecord, TestRecord } from '../../harness/types.ts';

const pass: TestRecord = { suite: 's', name: 'a', status: 'pass', durationS: 1 };
const fail: TestRecord = { suite: 's', name: 'b', status: 'fail', durationS: 1, reason: 'want 0, got 1' };
const crash: CrashRecord = { type: 'BUG', title: 'kernel BUG in x', test: 's/a', fatal: false, corrupted: false, report: '', line: 1, count: 1 };
const boot = (ended: 'poweroff' | 'wall-timeout' | 'silence' | 'killed') => ({ ended, qemuExit: 0, durationS: 61 });

test('a kernel report outranks a failed test; both exit 1', (t) => {
  const v = verdict([pass, fail], [crash], boot('poweroff'), true);
  t.is(v.status, 'crash');
  t.is(exitCodeFor(v.status), 1);
  t.is(verdict([pass, fail], [], boot('poweroff'), true).status, 'fail');
});

test('a guest that hangs is a timeout (exit 3), not a failure', (t) => {
  const v = verdict([{ ...pass, status: 'timeout' }], [], boot('wall-timeout'), false);
  t.is(v.status, 'timeout');
  t.is(exitCodeFor(v.status), 3);
  t.is(verdict([], [], boot('silence'), false).status, 'timeout');
});

test('no "done" from the agent without another cause is incomplete; an interrupt too', (t) => {
  t.is(verdict([pass], [], boot('poweroff'), false).status, 'incomplete');
  t.is(verdict([pass], [], boot('killed'), false).status, 'incomplete');
  t.is(exitCodeFor('incomplete'), 3);
});

test('all passed or skipped with the agent done is a pass (exit 0)', (t) => {
  const v = verdict([pass, { ...pass, name: 'c', status: 'skip' }], [], boot('poweroff'), true);
  t.is(v.status, 'pass');
  t.is(v.reason, '1 passed, 1 skipped');
  t.is(exitCodeFor('pass'), 0);
});

test('baseline comparison lists status changes and reports only the patched kernel shows', async (t) => {
  const { compareRuns } = await import('../../harness/stages/results.ts');
  const warn: CrashRecord = { ...crash, type: 'WARNING', title: 'WARNING in io_fused_cmd_done', test: 's/a' };
  const r = compareRuns(
    { tests: [pass, fail, { ...pass, name: 'zc', status: 'pass' }], crashes: [crash, warn] },
    { tests: [pass, { ...fail, status: 'pass' }, { ...pass, name: 'zc', status: 'skip' }, { ...pass, name: 'gone' }], crashes: [crash] },
  );
  t.deepEqual(r.differences, [
    { test: 's/b', patched: 'fail', base: 'pass' },
    { test: 's/gone', patched: 'absent', base: 'pass' },
    { test: 's/zc', patched: 'pass', base: 'skip' },
  ]);
  t.deepEqual(r.newCrashes.map((c) => c.title), ['WARNING in io_fused_cmd_done']);
});
