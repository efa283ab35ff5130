// Copies of --kernel-src trees are bounded: the most recently used few stay, and never one
// that was used within the hour or that a run holds (copying into it, building in it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';

const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-copies-'));
process.env.KERNEL_LAB_CACHE = cache;
const { pruneTreeCopies } = await import('../../harness/stages/source.ts');
const { treeUseLock, withLock } = await import('../../harness/lock.ts');

test.after.always(() => fs.rmSync(cache, { recursive: true, force: true }));

function copy(key: string, hoursAgo: number | null): string {
  const dir = path.join(cache, 'src', `tree-${key.padEnd(16, '0')}`);
  fs.mkdirSync(path.join(dir, 'kl-out-default'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Makefile'), 'x\n');
  if (hoursAgo !== null) {
    fs.writeFileSync(`${dir}.used`, '/home/dev/linux\n');
    const t = (Date.now() - hoursAgo * 3600_000) / 1000;
    fs.utimesSync(`${dir}.used`, t, t);
  }
  return dir;
}

test('the 3 most recently used copies stay; older ones go unless used within the hour or held by a run', async (t) => {
  const newest = [copy('a1', 0.2), copy('a2', 0.3), copy('a3', 0.4)];
  const old = copy('b1', 10);
  const unstamped = copy('b2', null); // a copy from before stamps: oldest of all
  const recent = copy('c1', 0.5); // 4th by use but used 30 min ago: a run may be about to build in it
  const building = copy('d1', 20); // old, but a run configures or builds in it right now
  const debianBase = path.join(cache, 'src', 'c93391b6a4884e64'); // a Debian base: never a tree copy
  fs.mkdirSync(debianBase, { recursive: true });
  let removed: string[] = [];
  await withLock(treeUseLock(building), async () => {
    removed = await pruneTreeCopies(3, 3600);
  });
  t.deepEqual(removed.sort(), [old, unstamped].sort());
  for (const d of [...newest, recent, building, debianBase]) t.true(fs.existsSync(d), `${d} kept`);
  for (const d of [old, unstamped]) {
    t.false(fs.existsSync(d), `${d} removed`);
    t.false(fs.existsSync(`${d}.used`), `${d}.used removed`);
  }
  // Once nobody holds it, the old copy goes too; the copies within the hour still stay.
  t.deepEqual(await pruneTreeCopies(3, 3600), [building]);
  t.true(fs.existsSync(recent));
});
