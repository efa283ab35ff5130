// The reviewer's workflow end to end: a whole thread mbox in (b4 takes the newest revision and
// the trailers given on the list), a real kernel built and booted, reply.eml and kcidb.json out.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { repoRoot } from '../../harness/paths.ts';
import { validate } from '../kcidb-model.ts';
import { errorLines, lab } from './helpers.ts';

const thread = path.join(repoRoot, 'test', 'fixtures', 'thread', 'thread.mbox');
const tail = (s: string) => s.split('\n').slice(-15).join('\n');
const under80 = (text: string) => text.split('\n').filter((l) => l.length >= 80);

test.serial('a thread mbox: v2 with its trailers is built and booted; the reply threads under it with a Tested-by', async (t) => {
  const r = await lab(['--patch', thread, '--suite', 'smoke']);
  t.is(r.exitCode, 0, tail(r.stderr));
  const s = r.run!.series!;
  t.like(s, { source: 'thread', version: 2, versions: [1, 2], messageId: 'v2-cover@example.org', baseCommit: '1111111111111111111111111111111111111111', baseMatches: false });
  t.regex(r.stderr, /its base-commit 1111111111111111111111111111111111111111 is not the lab's base/);
  // The tree the kernel was built from holds v2, committed with the list's trailers.
  const tree = JSON.parse(fs.readFileSync(path.join(r.dir!, 'metadata.json'), 'utf8')).tree as string;
  t.regex(fs.readFileSync(path.join(tree, 'io_uring', 'nop.c'), 'utf8'), /fixture revision thread-v2/);
  const summary = fs.readFileSync(path.join(r.dir!, 'summary.md'), 'utf8');
  t.regex(summary, /- series: \[PATCH v2 0\/1\] io_uring\/nop: a comment line <v2-cover@example.org>: v2 \(the thread has v1, v2\), 1 patch\(es\).*\*\*not the lab's base\*\*/);

  const reply = await lab(['reply', r.dir!, '--name', 'Rita Reviewer', '--email', 'rita@example.org']);
  t.is(reply.exitCode, 0, reply.stderr);
  t.is(reply.stdout.trim(), path.join(r.dir!, 'reply.eml'));
  const mail = fs.readFileSync(path.join(r.dir!, 'reply.eml'), 'utf8');
  t.regex(mail, /^In-Reply-To: <v2-cover@example.org>$/m);
  t.regex(mail, /^Subject: Re: \[PATCH v2 0\/1\] io_uring\/nop: a comment line$/m);
  t.regex(mail, /^To: Ann Author <ann@example.org>$/m);
  t.regex(mail, /: PASS\./);
  t.regex(mail, /^Tested-by: Rita Reviewer <rita@example.org>$/m);
  t.deepEqual(under80(mail), []);
  t.true(validate(JSON.parse(fs.readFileSync(path.join(r.dir!, 'kcidb.json'), 'utf8'))), 'kcidb.json');
});

test.serial('a crash under the series: the reply names the report and carries no Tested-by; kcidb.json has the incident', async (t) => {
  const r = await lab(['--patch', thread, '--exec', 'echo BUG > /sys/kernel/debug/provoke-crash/DIRECT']);
  t.is(r.exitCode, 1, tail(r.stderr));
  t.true(r.run!.kernel!.cached, 'the same kernel as the passing run');
  const reply = await lab(['reply', r.dir!, '--name', 'Rita Reviewer', '--email', 'rita@example.org']);
  t.is(reply.exitCode, 0, reply.stderr);
  const mail = fs.readFileSync(path.join(r.dir!, 'reply.eml'), 'utf8');
  t.regex(mail, /: CRASH\./);
  t.regex(mail, /The first kernel report, in exec\/command: kernel\s+BUG\s+in\s+lkdtm_BUG/);
  t.notRegex(mail, /^Tested-by:/m);
  t.deepEqual(under80(mail), []);
  const k = JSON.parse(fs.readFileSync(path.join(r.dir!, 'kcidb.json'), 'utf8'));
  t.true(validate(k), 'kcidb.json');
  const issue = k.issues.find((i: { id: string }) => i.id === k.incidents[0].issue_id);
  t.is(issue.report_subject, 'kernel BUG in lkdtm_BUG');
  t.is(k.incidents[0].test_id, k.tests.find((x: { path: string }) => x.path === 'kernel_lab.exec.command').id);
  t.is(k.tests[0].status, 'FAIL');
});

test.serial('a thread whose newest revision does not apply: exit 2, one line naming the patch and the revision', async (t) => {
  const r = await lab(['--patch', path.join(repoRoot, 'test', 'fixtures', 'thread', 'thread-v2-does-not-apply.mbox'), '--suite', 'smoke']);
  t.is(r.exitCode, 2, tail(r.stderr));
  const lines = errorLines(r.stderr);
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0]!, /v2 of the thread: patch .*\("\[PATCH v2 1\/1\] io_uring\/nop: a comment line"\) does not apply/);
  t.regex(r.stderr, /--series-version N; the thread has v1, v2/);
});

test.serial('bisect names the third of five patches, the one that adds a WARN, and writes its steps', async (t) => {
  const series = path.join(repoRoot, 'test', 'fixtures', 'bisect-series');
  const r = await lab(['bisect', '--patch', series, '--test', 'smoke/io_uring_probe_reports_opcodes', '--suite', 'smoke']);
  t.is(r.exitCode, 0, tail(r.stderr));
  t.regex(r.stdout, /^FOUND: First bad patch: 3\/5 "io_uring\/register: warn on every probe" \(0003-io_uring-register-warn-on-every-probe\.patch\)/);
  const b = JSON.parse(fs.readFileSync(path.join(r.dir!, 'bisect.json'), 'utf8'));
  t.like(b.firstBad, { index: 3, subject: 'io_uring/register: warn on every probe' });
  // the base and the whole series first, then halving: 2 good, 3 bad
  t.deepEqual(b.steps.map((s: { prefix: number; verdict: string }) => `${s.prefix}:${s.verdict}`), ['0:good', '5:bad', '2:good', '3:bad']);
  const bad = b.steps.find((s: { prefix: number }) => s.prefix === 3);
  t.regex(bad.why, /smoke\/io_uring_probe_reports_opcodes: fail/);
  // each step is a real run of its own, kept beside bisect.json, its kernel report named
  const run3 = JSON.parse(fs.readFileSync(path.join(r.dir!, bad.runDir, 'run.json'), 'utf8'));
  t.is(run3.kernel.patches.length, 3);
  t.true(run3.crashes.some((c: { title: string }) => /^WARNING in (io_probe|__io_uring_register|sys_io_uring_register)$/.test(c.title)), JSON.stringify(run3.crashes.map((c: { title: string }) => c.title)));
  t.regex(fs.readFileSync(path.join(r.dir!, 'summary.md'), 'utf8'), /\| 3 \| 0003-io_uring-register-warn-on-every-probe\.patch \| bad \| 0 \| 1 \|/);
});
