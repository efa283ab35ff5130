import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { loadPatchSet } from '../../harness/catalog.ts';
import { UsageError } from '../../harness/errors.ts';
import { describeAmFailure, failingHunk, patchSubject, patchsetHash } from '../../harness/stages/patches.ts';

const PATCH = `From 0000 Mon Sep 17 00:00:00 2001
From: kernel-lab developers <kernel-lab@example.com>
Subject: [PATCH 1/2] io_uring: do a thing
 across two lines

---
 io_uring/nop.c | 2 +-
diff --git a/io_uring/nop.c b/io_uring/nop.c
--- a/io_uring/nop.c
+++ b/io_uring/nop.c
@@ -10,3 +10,3 @@ int io_nop(void)
-a
+b
@@ -40,3 +40,3 @@ int io_nop_prep(void)
-c
+d
`;

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'kl-patch-'));
}

test('subject is unfolded from the mail header', (t) => {
  const d = tmpDir();
  fs.writeFileSync(path.join(d, 'a.patch'), PATCH);
  t.is(patchSubject(path.join(d, 'a.patch')), '[PATCH 1/2] io_uring: do a thing across two lines');
});

test('the failing hunk is found by file and line', (t) => {
  const d = tmpDir();
  fs.writeFileSync(path.join(d, 'a.patch'), PATCH);
  t.is(failingHunk(path.join(d, 'a.patch'), 'io_uring/nop.c', 40), '@@ -40,3 +40,3 @@ int io_nop_prep(void)');
  t.is(describeAmFailure('error: patch failed: io_uring/nop.c:40\nerror: io_uring/nop.c: patch does not apply', path.join(d, 'a.patch')), 'io_uring/nop.c:40 (@@ -40,3 +40,3 @@ int io_nop_prep(void))');
  t.is(describeAmFailure('error: io_uring/new.c: already exists in index', path.join(d, 'a.patch')), 'io_uring/new.c: already exists in index');
});

test('patchset hash follows KCIDB: sha256 over newline-terminated patch hashes, order matters', (t) => {
  t.is(patchsetHash([]), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  t.not(patchsetHash(['a', 'b']), patchsetHash(['b', 'a']));
});

test('a patch directory with a series file applies in series order; without one, in name order', (t) => {
  const d = tmpDir();
  fs.writeFileSync(path.join(d, '0001-a.patch'), PATCH);
  fs.writeFileSync(path.join(d, '0002-b.patch'), PATCH);
  t.deepEqual(loadPatchSet(d).patches.map((p) => path.basename(p)), ['0001-a.patch', '0002-b.patch']);
  fs.writeFileSync(path.join(d, 'series'), '# order\n0002-b.patch\n\n0001-a.patch\n');
  t.deepEqual(loadPatchSet(d).patches.map((p) => path.basename(p)), ['0002-b.patch', '0001-a.patch']);
});

test('a series naming a missing file, an empty directory and an unknown set are usage errors', (t) => {
  const d = tmpDir();
  fs.writeFileSync(path.join(d, 'series'), 'missing.patch\n');
  t.throws(() => loadPatchSet(d), { instanceOf: UsageError, message: /names missing.patch, which does not exist/ });
  const e = tmpDir();
  t.throws(() => loadPatchSet(e), { instanceOf: UsageError, message: /holds no patches/ });
  t.throws(() => loadPatchSet('no-such-set'), { instanceOf: UsageError, message: /unknown patch set 'no-such-set'/ });
});
