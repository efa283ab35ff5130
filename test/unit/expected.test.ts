import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { listSuites, loadSuite } from '../../harness/catalog.ts';
import { applyExpected, loadExpected, type Expectation, type ExpectedResults } from '../../harness/expected.ts';
import { UsageError } from '../../harness/errors.ts';
import { judgeSkips } from '../../harness/stages/results.ts';
import type { TestRecord } from '../../harness/types.ts';

const BASE = '6.12.1-1~deb12u1'; // synthetic version
const suiteDir = (files: Record<string, unknown>): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-expected-'));
  fs.mkdirSync(path.join(dir, 'expected'));
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'expected', name), typeof body === 'string' ? body : JSON.stringify(body));
  return dir;
};
const suite = (dir: string) => ({ name: 'lu', dir, tests: ['a', 'b', 'c', 'd'].map((n) => ({ name: n, cmd: n })) });
const exp = (e: Partial<Expectation>): Expectation => ({ status: 'skip', reason: 'why', match: null, flaky: false, file: 'suites/lu/expected/x.json', ...e });
const rec = (name: string, status: TestRecord['status'], reason?: string): TestRecord => ({ suite: 'lu', name, status, durationS: 1, ...(reason ? { reason } : {}) });

test('loadExpected reads the list named after the base and keys it suite/test', (t) => {
  const dir = suiteDir({ [`${BASE}.json`]: { base: BASE, tests: { a: { status: 'skip', reason: 'no NVMe device', match: '^nvme' }, b: { status: 'fail', reason: 'known bug', flaky: true } } } });
  const e = loadExpected([suite(dir)], BASE);
  t.deepEqual([...e.keys()], ['lu/a', 'lu/b']);
  t.is(e.get('lu/a')!.status, 'skip');
  t.true(e.get('lu/a')!.match!.test('nvme: no device'));
  t.true(e.get('lu/b')!.flaky);
  t.is(loadExpected([suite(dir)], '6.12.2-1').size, 0, 'another base has no list: nothing expected');
  t.is(loadExpected([suite(dir)], null).size, 0, 'a --kernel-src tree has no Debian version');
});

test('loadExpected: a bad list is a usage error naming the file and the entry', (t) => {
  const cases: [unknown, RegExp][] = [
    ['{ not json', /not valid JSON/],
    [{ base: BASE, tests: { zz: { status: 'skip', reason: 'x' } } }, /test 'zz' is not in suite lu/],
    [{ base: BASE, tests: { a: { status: 'xfail', reason: 'x' } } }, /tests\.a\.status/],
    [{ base: BASE, tests: { a: { status: 'skip', reason: '' } } }, /say why/],
    [{ base: BASE, tests: { a: { status: 'skip', reason: 'x', match: '(' } } }, /a\.match/],
    [{ base: '6.12.9-1', tests: {} }, /says base 6\.12\.9-1/],
  ];
  for (const [body, want] of cases) {
    const dir = suiteDir({ [`${BASE}.json`]: body });
    const err = t.throws(() => loadExpected([suite(dir)], BASE), { instanceOf: UsageError });
    t.regex(err!.message, want);
    t.regex(err!.message, new RegExp(`${BASE.replace(/[.~]/g, '.')}\\.json`));
  }
});

test('a known skip stays a skip, with the list and its reason, even after judgeSkips failed it', (t) => {
  const raw = [rec('a', 'skip', 'Skipping, no nvme device')];
  const judged = judgeSkips(raw, [{ ...loadSuite('smoke'), name: 'lu', tests: [{ name: 'a', cmd: 'a' }], requires: { config: [], features: [] } }], [], new Map());
  t.is(judged[0]!.status, 'fail', 'judgeSkips: nothing the run left out explains it');
  const out = applyExpected(judged, raw, new Map([['lu/a', exp({ reason: 'no NVMe device in the guest' })]]));
  t.is(out[0]!.status, 'skip');
  t.regex(out[0]!.reason!, /^known skip on this base \(suites\/lu\/expected\/x\.json\): no NVMe device in the guest; the test said: Skipping, no nvme device$/);
});

test('a known failure is recorded as a skip naming it; a different failure mode still fails', (t) => {
  const e: ExpectedResults = new Map([['lu/b', exp({ status: 'fail', reason: 'EINVAL on 6.12', match: /exit 1: .*EINVAL/ })]]);
  const known = applyExpected([rec('b', 'fail', 'exit 1: got -EINVAL')], [rec('b', 'fail', 'exit 1: got -EINVAL')], e);
  t.is(known[0]!.status, 'skip');
  t.regex(known[0]!.reason!, /^known fail on this base/);
  const other = applyExpected([rec('b', 'fail', 'exit 139')], [rec('b', 'fail', 'exit 139')], e);
  t.is(other[0]!.status, 'fail');
  t.regex(other[0]!.reason!, /exit 139 \(not the known outcome: suites\/lu\/expected\/x\.json expects fail matching \/exit 1: \.\*EINVAL\/\)/);
  const timedOut = applyExpected([rec('b', 'timeout', 'timed out after 240s')], [rec('b', 'timeout', 'timed out after 240s')], e);
  t.is(timedOut[0]!.status, 'timeout', 'a known fail does not excuse a timeout');
});

test('two guests: one guest\'s known outcome makes the test known, the other\'s failure named as its consequence; an unknown one on either still fails', (t) => {
  const e: ExpectedResults = new Map([['lu/b', exp({ status: 'timeout', reason: 'siw stall', match: /client did not finish/ })]]);
  // merged as mergeGuests does: fail is worse than timeout, so the record carries b's reason
  const pair = (a: [TestRecord['status'], string], b: [TestRecord['status'], string]): TestRecord => ({
    ...rec('b', 'fail', `guest b: ${b[1]}`),
    guests: { a: a[0], b: b[0], aReason: a[1], bReason: b[1] },
  });
  const shownByA = pair(['timeout', 'client did not finish within 40 s'], ['fail', 'barrier done: the other guest ended']);
  const out = applyExpected([shownByA], [shownByA], e)[0]!;
  t.is(out.status, 'skip');
  t.regex(out.reason!, /^known timeout on this base \(suites\/lu\/expected\/x\.json\), shown by guest a: siw stall; guest a said: client did not finish within 40 s; guest b, as a consequence: barrier done: the other guest ended$/);
  const shownByB = { ...pair(['fail', 'the other guest ended'], ['timeout', 'client did not finish within 40 s']), status: 'fail' as const, reason: 'the other guest ended' };
  t.regex(applyExpected([shownByB], [shownByB], e)[0]!.reason!, /shown by guest b: .*guest a, as a consequence: the other guest ended$/);
  const neither = pair(['fail', 'REG: -ENOMEM'], ['fail', 'the other guest ended']);
  t.is(applyExpected([neither], [neither], e)[0]!.status, 'fail', 'neither guest shows the known outcome');
  const onePassed = pair(['pass', ''], ['fail', 'checksum mismatch at byte 4093']);
  t.is(applyExpected([onePassed], [onePassed], e)[0]!.status, 'fail', 'a peer that passed explains nothing');
});

test('a listed test that passes stays a pass; a stale entry is pointed out unless flaky', (t) => {
  const raw = [rec('c', 'pass'), rec('d', 'pass')];
  const out = applyExpected(raw, raw, new Map([['lu/c', exp({ status: 'fail' })], ['lu/d', exp({ status: 'timeout', flaky: true })]]));
  t.deepEqual(out.map((x) => x.status), ['pass', 'pass']);
  t.regex(out[0]!.reason!, /passes, though .* lists it as a known fail: drop the entry/);
  t.is(out[1]!.reason, undefined);
});

test('tests without an entry, and runs without a list, are left as judged', (t) => {
  const judged = [rec('a', 'fail', 'x'), rec('b', 'pass')];
  t.is(applyExpected(judged, judged, new Map()), judged);
  t.deepEqual(applyExpected(judged, judged, new Map([['other/a', exp({ status: 'fail' })]])), judged);
});

test("the repo's expected lists are valid and name only their suites' tests", (t) => {
  let lists = 0;
  for (const name of listSuites()) {
    const s = loadSuite(name);
    const dir = path.join(s.dir, 'expected');
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      const e = loadExpected([s], f.slice(0, -'.json'.length));
      t.true(e.size > 0, `${name}/expected/${f} lists tests`);
      lists++;
    }
  }
  t.true(lists > 0);
});
