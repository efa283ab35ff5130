// bisect's search and its judgement of a run, on their own: the search over prefixes with
// a judge that knows the first bad patch (and untestable prefixes), and a run judged by a
// test id or a report title. The real thing, with builds and boots, is in
// test/integration/review.test.ts.
import test from 'ava';
import { judgeRun, majority, search, type StepVerdict } from '../../harness/bisect.ts';
import type { CrashRecord, TestRecord } from '../../harness/types.ts';

const judgeWith = (firstBad: number, untestable: number[] = []) => {
  const asked: number[] = [];
  return {
    asked,
    judge: async (k: number): Promise<StepVerdict> => {
      asked.push(k);
      return untestable.includes(k) ? 'untestable' : k >= firstBad ? 'bad' : 'good';
    },
  };
};

test('the search names the first bad prefix of every position, in about log2(n) + 2 steps', async (t) => {
  for (const n of [1, 2, 5, 8, 13]) {
    for (let bad = 1; bad <= n; bad++) {
      const j = judgeWith(bad);
      const r = await search(n, j.judge);
      t.is(r.firstBad, bad, `n=${n} bad=${bad}`);
      t.deepEqual(j.asked.slice(0, 2), [0, n]);
      t.true(j.asked.length <= Math.ceil(Math.log2(n)) + 2, `n=${n} bad=${bad}: ${j.asked.join(',')}`);
    }
  }
});

test('the search stops when the base is bad or the whole series good, and names a range when untestable prefixes hide the culprit', async (t) => {
  t.regex((await search(5, async () => 'bad')).reason, /the base already shows it/);
  t.regex((await search(5, async () => 'good')).reason, /the whole series does not show it/);
  // prefix 2 untestable: a culprit away from it is still found; next to it, 2 or 3 it is
  t.is((await search(5, judgeWith(4, [2]).judge)).firstBad, 4);
  const beside = await search(5, judgeWith(3, [2]).judge);
  t.is(beside.firstBad, null);
  t.deepEqual(beside.range, [2, 3]);
  const hidden = await search(5, judgeWith(2, [1, 2]).judge);
  t.is(hidden.firstBad, null);
  t.deepEqual(hidden.range, [1, 3]);
});

const tst = (name: string, status: TestRecord['status'], reason?: string): TestRecord => ({ suite: 'smoke', name, status, durationS: 1, ...(reason ? { reason } : {}) });
const crash = (title: string, testName?: string) => ({ type: 'WARNING', title, test: testName, report: '', fatal: false }) as unknown as CrashRecord;

test('a run is judged by its signature only: the test\'s own status, or a report of that title', (t) => {
  const run = { status: 'fail' as const, reason: 'x', tests: [tst('a', 'pass'), tst('b', 'fail', 'kernel report'), tst('c', 'skip', 'lacks it')], crashes: [crash('WARNING in io_probe', 'smoke/b')] };
  t.is(judgeRun(run, { test: 'smoke/a' }).verdict, 'good');
  t.is(judgeRun(run, { test: 'smoke/b' }).verdict, 'bad');
  t.is(judgeRun(run, { test: 'smoke/c' }).verdict, 'untestable');
  t.is(judgeRun(run, { test: 'smoke/zzz' }).verdict, 'untestable');
  t.is(judgeRun(run, { report: 'WARNING in io_probe' }).verdict, 'bad');
  t.is(judgeRun(run, { report: '  WARNING in io_probe ' }).verdict, 'bad', 'titles compare normalised');
  t.is(judgeRun(run, { report: 'kernel BUG in io_probe' }).verdict, 'good');
  t.is(judgeRun({ ...run, tests: [], status: 'error' as never }, { report: 'kernel BUG in io_probe' }).verdict, 'untestable');
});

test('a step is bad when most of its runs are (a flaky failure in one run of three is good)', (t) => {
  t.is(majority(2, 1), 'good');
  t.is(majority(1, 2), 'bad');
  t.is(majority(1, 1), 'bad', 'a tie is not good enough');
  t.is(majority(0, 0), 'untestable');
});
