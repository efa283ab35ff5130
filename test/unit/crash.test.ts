// Crash parser against a golden corpus of console logs from real lab kernels (made by
// scripts/crash-fixtures.mjs with lkdtm). expected.json was written by reading each log.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { detectCrashes, leakFrame, normaliseFunc, normaliseTitle, stripPrefixes } from '../../harness/crash.ts';
import { repoRoot } from '../../harness/paths.ts';

interface Expected {
  type: string;
  title: string;
  test: string | null;
  fatal?: boolean;
}
const dir = path.join(repoRoot, 'test', 'fixtures', 'console');
const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Record<string, Expected[]>;

for (const [name, want] of Object.entries(expected)) {
  test(`fixture ${name}: reports, types, titles and tests`, (t) => {
    const got = detectCrashes(fs.readFileSync(path.join(dir, `${name}.log`), 'utf8'));
    t.deepEqual(
      got.map((c) => ({ type: c.type, title: c.title, test: c.test, ...(c.fatal ? { fatal: true } : {}) })),
      want.map((w) => ({ type: w.type, title: w.title, test: w.test, ...(w.fatal ? { fatal: true } : {}) })),
    );
  });
}

test('the same bug gets the same title whatever the addresses, pids and clones', (t) => {
  t.is(normaliseFunc('io_fused_cmd_complete.isra.0+0x1c/0x40'), 'io_fused_cmd_complete');
  t.is(normaliseTitle('INFO: task hung in kworker/0:1 at 0xffffffff81234567'), 'INFO: task hung in kworker/N at ADDR');
  t.is(stripPrefixes('[host    12.345] [    1.234567][  T123] BUG: oops'), 'BUG: oops');
});

test('a clean boot log has no reports; a kl marker line naming BUG is not a report', (t) => {
  const log = '[host 1.0] [    0.000000][    T0] Linux version 6.12.117\n[host 1.1] [    1.0][    T1] kl: test-start uring/BUG_is_in_a_name\n[host 1.2] [    1.1][    T1] kl: test-end uring/BUG_is_in_a_name rc=0\n';
  t.deepEqual(detectCrashes(log), []);
});

test('kmemleak: the allocating frame names the leak, with or without [<address>]; one record per site, counted', (t) => {
  t.is(leakFrame(['unreferenced object 0xffff888002ec88a0 (size 96):', '  backtrace (crc 42edcaf6):', '    [<ffffffff812b4f4e>] __kmalloc_cache_noprof+0x10b/0x1e0', '    [<ffffffff81501234>] ublk_io_buf_get.isra.0+0x1e/0x40']), 'ublk_io_buf_get');
  t.is(leakFrame(['unreferenced object 0x1 (size 8):', '  backtrace (crc 1):', '    kmemleak_alloc+0x4a/0x80', '    kmem_cache_alloc_noprof+0x10/0x20', '    io_alloc_req+0x1e/0x40']), 'io_alloc_req');
  t.is(leakFrame(['unreferenced object 0x1 (size 8):', '  comm "x", pid 1, jiffies 1']), null);
  const got = detectCrashes(fs.readFileSync(path.join(dir, 'kmemleak_nop.log'), 'utf8'));
  t.is(got.length, 1);
  t.is(got[0]!.count, 8, 'eight NOPs, eight leaked objects, one report');
  t.false(got[0]!.fatal);
});
