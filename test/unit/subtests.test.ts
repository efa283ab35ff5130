// A test's own KTAP (kselftest programs, suite "output": "ktap"): kept as subtests, judged
// and compared against the base as they are.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parseKtap, parseSubtests, subtestCounts } from '../../harness/ktap.ts';
import { compareRuns, withSubtests } from '../../harness/stages/results.ts';
import { kernelSourcesHash, snapshotKernelSources } from '../../harness/stages/image.ts';
import type { TestRecord } from '../../harness/types.ts';

// What the agent sends for a kselftest program: its output as comments under the test.
const agentStream = (body: string[], rc: number) =>
  [
    'KTAP version 1',
    '1..1',
    '# Subtest: kselftest-mm',
    '    1..1',
    '    # kl-start kselftest-mm/cow timeout=600',
    ...body.map((l) => `    # ${l}`),
    `    # kl-duration kselftest-mm/cow 12s exit=${rc} taint=0`,
    rc === 0 ? '    ok 1 cow' : '    not ok 1 cow',
    rc === 0 ? 'ok 1 kselftest-mm' : 'not ok 1 kselftest-mm',
  ].join('\n');

const cow = [
  'TAP version 13',
  '# [INFO] detected THP size: 2048 KiB',
  '1..4',
  '# [RUN] Basic COW after fork() ... with base page',
  'ok 1 No leak from parent into child',
  '# [RUN] R/O-mapping a page registered as iouring fixed buffer ... with base page',
  '# diagnostic inside the case',
  'ok 2 Longterm R/O pin is reliable',
  '# [RUN] Basic COW after fork() ... with hugetlb (1048576 kB)',
  'ok 3 # SKIP need more free huge pages',
  '# [RUN] fork() with an iouring fixed buffer ... with base page',
  'not ok 4 Leak from parent into child',
  '# Totals: pass:2 fail:1 xfail:0 xpass:0 skip:1 error:0',
];

test('a kselftest program\'s own result lines become its subtests, each with the [RUN] line that opened it', (t) => {
  const [rec] = parseKtap(agentStream(cow, 1)).tests;
  const subs = parseSubtests(rec!.log!);
  t.deepEqual(subs, [
    { n: 1, name: 'No leak from parent into child', status: 'pass', context: '[RUN] Basic COW after fork() ... with base page' },
    { n: 2, name: 'Longterm R/O pin is reliable', status: 'pass', context: '[RUN] R/O-mapping a page registered as iouring fixed buffer ... with base page' },
    { n: 3, name: '', status: 'skip', reason: 'need more free huge pages', context: '[RUN] Basic COW after fork() ... with hugetlb (1048576 kB)' },
    { n: 4, name: 'Leak from parent into child', status: 'fail', context: '[RUN] fork() with an iouring fixed buffer ... with base page' },
  ]);
  t.is(subtestCounts(subs), '2 pass, 1 fail, 1 skip');
  t.deepEqual(parseSubtests(['ok 1 - dash form # XFAIL known', '  ok 2 nested ignored', 'okay 3 not ktap']), [{ n: 1, name: 'dash form', status: 'xfail', reason: 'known' }]);
});

test('a failed subtest fails its test even when the program exited 0, and so does one short of its plan; a failed test names its first failed subtest', (t) => {
  const suites = [{ name: 'kselftest-mm', output: 'ktap' as const }, { name: 'uring', output: 'plain' as const }];
  const [exited0] = parseKtap(agentStream(cow, 0)).tests;
  const [exited1] = parseKtap(agentStream(cow, 1)).tests;
  const plain: TestRecord = { suite: 'uring', name: 'x', status: 'pass', durationS: 1, log: ['not ok 1 looks like ktap'] };
  const [a, b, c] = withSubtests([exited0!, exited1!, plain], suites);
  t.is(a!.status, 'fail');
  t.is(a!.reason, 'subtest 4 failed: [RUN] fork() with an iouring fixed buffer ... with base page: Leak from parent into child (the program exited 0)');
  t.is(b!.status, 'fail');
  t.is(b!.reason, 'subtest 4 failed: [RUN] fork() with an iouring fixed buffer ... with base page: Leak from parent into child');
  t.is(a!.subtests!.length, 4);
  t.is(c!.subtests, undefined, 'a suite whose output is plain has no subtests');
  t.is(c!.status, 'pass');
  const cut = withSubtests(parseKtap(agentStream(cow.slice(0, 5), 0)).tests, suites)[0]!;
  t.is(cut.status, 'fail', 'a program that stopped before its plan was done did not pass');
  t.is(cut.reason, 'reported 1 of the 4 subtests it planned');
  t.is(cut.subtestPlan, 4);
  const allPass = withSubtests(parseKtap(agentStream(['TAP version 13', '1..1', ...cow.slice(3, 5)], 0)).tests, suites)[0]!;
  t.is(allPass.status, 'pass');
  t.is(allPass.reason, undefined);
  t.is(allPass.subtestPlan, 1);
});

test('against the base, each subtest whose status differs is a difference of its own, with what it tests', (t) => {
  const rec = (subs: string[]): TestRecord => withSubtests(parseKtap(agentStream(subs, 0)).tests, [{ name: 'kselftest-mm', output: 'ktap' }])[0]!;
  const base = rec(cow.slice(0, 9).concat(['ok 3 # SKIP need more free huge pages', '# [RUN] fork() with an iouring fixed buffer ... with base page', 'ok 4 No leak from parent into child']));
  const patched = rec(cow);
  const { differences } = compareRuns({ tests: [patched], crashes: [] }, { tests: [base], crashes: [] });
  t.deepEqual(differences, [
    { test: 'kselftest-mm/cow', patched: 'fail', base: 'pass' },
    { test: 'kselftest-mm/cow #4', patched: 'fail', base: 'pass', context: '[RUN] fork() with an iouring fixed buffer ... with base page: Leak from parent into child / No leak from parent into child' },
  ]);
  const same = compareRuns({ tests: [base], crashes: [] }, { tests: [rec(cow.slice(0, 9).concat(['ok 3 # SKIP need more free huge pages', '# [RUN] fork() with an iouring fixed buffer ... with base page', 'ok 4 No leak from parent into child']))], crashes: [] });
  t.deepEqual(same.differences, []);
});

test('a suite built from the kernel tree gets a copy of the paths it names, and its key follows their content', (t) => {
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-ksrc-test-'));
  t.teardown(() => fs.rmSync(tree, { recursive: true, force: true }));
  fs.mkdirSync(path.join(tree, 'tools/testing/selftests/mm'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'tools/testing/selftests/mm/cow.c'), 'int main(void) { return 0; }\n');
  fs.writeFileSync(path.join(tree, 'tools/testing/selftests/kselftest.h'), '/* ksft */\n');
  fs.writeFileSync(path.join(tree, 'Makefile'), 'not asked for\n');
  const rels = ['tools/testing/selftests/mm', 'tools/testing/selftests/kselftest.h', 'mm/gup_test.h'];
  t.is(snapshotKernelSources(tree, [{ kernelSources: [] }]), null, 'no suite asks: no copy');
  const snap = snapshotKernelSources(tree, [{ kernelSources: rels }])!;
  t.teardown(() => fs.rmSync(snap, { recursive: true, force: true }));
  t.is(fs.readFileSync(path.join(snap, 'tools/testing/selftests/mm/cow.c'), 'utf8'), 'int main(void) { return 0; }\n');
  t.true(fs.existsSync(path.join(snap, 'tools/testing/selftests/kselftest.h')));
  t.false(fs.existsSync(path.join(snap, 'Makefile')), 'only what the suite names');
  const k1 = kernelSourcesHash(snap, rels);
  t.is(kernelSourcesHash(tree, rels), k1, 'the copy hashes as the tree');
  fs.writeFileSync(path.join(tree, 'tools/testing/selftests/mm/cow.c'), 'int main(void) { return 1; }\n');
  t.not(kernelSourcesHash(tree, rels), k1, 'a patch to a selftest changes the key');
});
