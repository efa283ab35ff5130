// A series from the list: a thread mbox goes through b4 (newest revision, trailers from the
// replies), a plain format-patch file does not; lore:<id> without network says what to do.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';

const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-intake-'));
process.env.KERNEL_LAB_CACHE = cache;
const { intakeLore, intakeThread, isThread, mboxMessages, subjectVersion } = await import('../../harness/intake.ts');
const { loadPatchSet } = await import('../../harness/catalog.ts');
const { repoRoot } = await import('../../harness/paths.ts');
const { UsageError } = await import('../../harness/errors.ts');

test.after.always(() => fs.rmSync(cache, { recursive: true, force: true }));
const thread = path.join(repoRoot, 'test', 'fixtures', 'thread', 'thread.mbox');
const plain = path.join(repoRoot, 'test', 'fixtures', 'nop-comment', '0001-io_uring-nop-a-comment-line-a-fixture-for-the-inner-.patch');

test('messages, revisions and what makes a thread', (t) => {
  const msgs = mboxMessages(fs.readFileSync(thread, 'utf8'));
  t.is(msgs.length, 7);
  t.like(msgs[4], { subject: '[PATCH v2 1/1] io_uring/nop: a comment line', messageId: 'v2-1@example.org', inReplyTo: 'v2-cover@example.org' });
  t.is(subjectVersion('[PATCH v3 2/5] x'), 3);
  t.is(subjectVersion('[PATCH RFC v12 0/5] x'), 12);
  t.is(subjectVersion('[PATCH 1/4] x'), 1);
  t.true(isThread(fs.readFileSync(thread, 'utf8')));
  t.false(isThread(fs.readFileSync(plain, 'utf8')), 'a format-patch file is not a thread');
});

test('b4 takes the newest revision with the trailers given on the list; --series-version takes another', (t) => {
  const v2 = intakeThread(thread, null);
  t.like(v2.info, { source: 'thread', messageId: 'v2-cover@example.org', version: 2, versions: [1, 2], subject: '[PATCH v2 0/1] io_uring/nop: a comment line', baseCommit: '1111111111111111111111111111111111111111', patches: 1 });
  const mbx = fs.readFileSync(v2.mbx, 'utf8');
  t.regex(mbx, /fixture revision thread-v2/);
  t.regex(mbx, /^Reviewed-by: Rita Reviewer <rita@example.org>$/m, 'a reply to the patch');
  t.regex(mbx, /^Tested-by: Tom Tester <tom@example.org>$/m, 'a reply to the cover letter, applied to every patch');
  t.notRegex(mbx, /Please say why/, 'replies are not patches');
  const v1 = intakeThread(thread, 1);
  t.like(v1.info, { version: 1, messageId: 'v1-cover@example.org' });
  t.regex(fs.readFileSync(v1.mbx, 'utf8'), /fixture revision thread-v1/);
  t.notRegex(fs.readFileSync(v1.mbx, 'utf8'), /Tested-by/, 'v2\'s trailers stay on v2');
  const e = t.throws(() => intakeThread(thread, 3), { instanceOf: UsageError });
  t.regex(e!.message, /--series-version 3: the thread .* holds revisions v1, v2/);
});

test('--patch takes a thread as b4 gives it, a plain patch as it is', (t) => {
  const set = loadPatchSet(thread);
  t.is(set.series?.version, 2);
  t.true(set.patches[0]!.endsWith('.mbx'));
  const p = loadPatchSet(plain);
  t.is(p.series, undefined);
  t.deepEqual(p.patches, [plain]);
  t.throws(() => loadPatchSet(plain, 2), { instanceOf: UsageError, message: /--series-version: .* is not a thread/ });
});

test('lore:<message-id> without a way to lore.kernel.org: one line saying how to fetch it', (t) => {
  t.throws(() => intakeLore('lore:not-an-id', null), { instanceOf: UsageError, message: /is not a message-id/ });
  const e = t.throws(() => intakeLore('lore:20261202100000.1-1-ann@example.org', null), { instanceOf: UsageError });
  t.regex(e!.message, /could not fetch the thread/);
  t.regex((e as InstanceType<typeof UsageError>).hint ?? '', /b4 mbox 20261202100000\.1-1-ann@example\.org/);
});
