// reply.eml: threaded under the series, addressed where it went, every line under 80
// columns, Tested-by only on a pass, the first report's title on a crash.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { fold, replyText, reproduceCommand, wrap, writeReply } from '../../harness/reply.ts';
import type { RunRecord } from '../../harness/types.ts';

const series = {
  source: 'thread' as const, file: '/home/r/thread.mbox', messageId: 'v2-cover@example.org', version: 2, versions: [1, 2], subject: '[PATCH v2 0/1] io_uring/nop: a comment line', baseCommit: null, patches: 1,
  from: 'Ann Author <ann@example.org>', to: 'io-uring@vger.kernel.org', cc: 'Jens Axboe <axboe@kernel.dk>, a-very-long-list-of-people@example.org, another.person.with.a.long.name@example.org', date: 'Wed, 2 Dec 2026 10:00:00 +0000', references: [], baseMatches: null,
};
const rec = (over: Partial<RunRecord>): RunRecord => ({
  id: 'r1', dir: '/nonexistent', status: 'pass', startedAt: '', finishedAt: 'x', timings: {}, suites: ['smoke'], commands: [], crashes: [],
  options: { patch: ['/home/r/thread.mbox'], suites: ['smoke'], exec: null, configFragments: [], configItems: [], debug: false, compareBaseline: true, kernelSrc: null, resultsDir: '', timeoutS: null, memoryMiB: 2048, cpus: 2, dryRun: false, seriesVersion: 2 },
  base: { desc: '', version: '6.12.9', sha256: '', debian: { package: 'linux-source-6.12', version: '6.12.9-1', sha256: '', pinned: true, pin: { version: '6.12.9-1', sha256: '', file: '' }, asked: 'pin' } },
  accel: 'tcg',
  tests: [{ suite: 'smoke', name: 'io_uring_probe_reports_opcodes', status: 'pass', durationS: 1 }],
  baseline: { runDir: '/nonexistent', status: 'pass', differences: [], newCrashes: [] },
  series,
  ...over,
});
const lines = (mail: string) => mail.split('\n');

test('a passing run: threaded headers, inline (quote first), no line of 80 columns or more, Tested-by last', (t) => {
  const mail = replyText(rec({}), 'Rita Reviewer <rita@example.org>');
  const [head, body] = [mail.slice(0, mail.indexOf('\n\n')), mail.slice(mail.indexOf('\n\n') + 2)];
  t.regex(head, /^Subject: Re: \[PATCH v2 0\/1\] io_uring\/nop: a comment line$/m);
  t.regex(head, /^In-Reply-To: <v2-cover@example.org>$/m);
  t.regex(head, /^References: <v2-cover@example.org>$/m);
  t.regex(head, /^To: Ann Author <ann@example.org>$/m);
  t.regex(head, /^Cc: io-uring@vger.kernel.org, Jens Axboe <axboe@kernel.dk>,/m);
  t.regex(head, /^ another.person/m, 'a long Cc is folded');
  t.true(body.startsWith('On Wed, 2 Dec 2026 10:00:00 +0000, Ann Author <ann@example.org> wrote:\n> [PATCH v2 0/1]'), 'quote first: no top-posting');
  t.regex(body, /I ran v2 of this series through kernel-lab on Linux 6\.12\.9 \(Debian\s+linux-source-6\.12 6\.12\.9-1\), x86_64, QEMU TCG: PASS\. 1 tests passed,/);
  t.regex(body, /no test changed\s+status/);
  t.regex(body, /^  npm run lab -- --patch thread\.mbox --series-version 2 --suite smoke \\\n    --compare-baseline --base 6\.12\.9-1$/m, "a command to paste: broken between arguments");
  t.true(body.trimEnd().endsWith('Tested-by: Rita Reviewer <rita@example.org>'));
  for (const l of lines(mail)) t.true(l.length < 80, `${l.length} columns: ${l}`);
});

test('a crashing run: the report\'s title and trace, the tests that changed, and no Tested-by', (t) => {
  const longFrame = `  ${'very_long_function_name_'.repeat(5)}+0x1c/0x40 io_uring/nop.c:38`;
  const mail = replyText(
    rec({
      status: 'crash',
      reason: 'kernel: kernel BUG in io_nop',
      tests: [{ suite: 'smoke', name: 'io_uring_probe_reports_opcodes', status: 'fail', durationS: 1, reason: 'kernel: kernel BUG in io_nop' }],
      crashes: [{ type: 'BUG', title: 'kernel BUG in io_nop', test: 'smoke/io_uring_probe_reports_opcodes', fatal: false, corrupted: false, report: `kernel BUG at io_uring/nop.c:38!\nCall Trace:\n${longFrame}`, line: 10, count: 1 }],
      baseline: { runDir: '/nonexistent', status: 'pass', differences: [{ test: 'smoke/io_uring_probe_reports_opcodes', base: 'pass', patched: 'fail' } as never], newCrashes: [] },
    }),
    'Rita Reviewer <rita@example.org>',
  );
  t.regex(mail, /: CRASH\.\s+0\s+tests\s+passed,\s+1\s+failed/);
  t.regex(mail, /The first kernel report, in smoke\/io_uring_probe_reports_opcodes: kernel\s+BUG\s+in\s+io_nop/);
  t.regex(mail, /^ {2}kernel BUG at io_uring\/nop\.c:38!$/m);
  t.regex(mail, /^ {2}smoke\/io_uring_probe_reports_opcodes\s+pass -> fail$/m);
  t.notRegex(mail, /^Tested-by:/m);
  t.regex(mail, /No Tested-by: the run did not pass\./);
  for (const l of lines(mail)) t.true(l.length < 80, `${l.length} columns: ${l}`);
});

test('writeReply: reply.eml beside run.json; an unfinished run or a non-run directory is refused', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-reply-'));
  t.throws(() => writeReply(dir, {}), { message: /is not a run directory/ });
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ ...rec({}), finishedAt: undefined }));
  t.throws(() => writeReply(dir, {}), { message: /has not finished/ });
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(rec({})));
  const f = writeReply(dir, { name: 'T Tester', email: 't@example.org' });
  t.is(f, path.join(dir, 'reply.eml'));
  t.regex(fs.readFileSync(f, 'utf8'), /^From: T Tester <t@example.org>$/m);
});

test('wrapping and folding keep every line under 80 columns', (t) => {
  t.deepEqual(wrap('a '.repeat(50).trim(), 10).every((l) => l.length <= 10), true);
  t.true(wrap('x'.repeat(200)).every((l) => l.length < 80));
  t.true(fold(`References: ${'<id@example.org> '.repeat(10).trim()}`).split('\n').every((l) => l.length < 80));
  t.is(reproduceCommand(rec({ series: undefined, options: { ...rec({}).options, patch: [], exec: 'uname -r', compareBaseline: false } })), "npm run lab -- --patch none --exec 'uname -r' --base 6.12.9-1");
});
