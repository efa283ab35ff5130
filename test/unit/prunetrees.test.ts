// Series trees are kept by use (a dozen, none used within the hour), but a short disk wins:
// then the least recently used go first, whatever their age, sparing a tree in use (locked),
// the run's own tree and one used in the last minutes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';

const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-prunetrees-'));
process.env.KERNEL_LAB_CACHE = cache;
const { pruneTrees } = await import('../../harness/stages/patches.ts');
const { withLock, treeUseLock } = await import('../../harness/lock.ts');
const { paths } = await import('../../harness/paths.ts');

test.after.always(() => fs.rmSync(cache, { recursive: true, force: true }));

const rec = () => ({ commands: [] as string[], dryRun: false });
function tree(name: string, minutesAgo: number): string {
  const t = path.join(paths.trees, name);
  fs.mkdirSync(t, { recursive: true });
  const stamp = path.join(t, '.kl-applied');
  fs.writeFileSync(stamp, 'stack x\n');
  const when = (Date.now() - minutesAgo * 60_000) / 1000;
  fs.utimesSync(stamp, when, when);
  return t;
}

test.serial('with room on the disk, trees used within the hour stay, however many', async (t) => {
  process.env.KL_MIN_FREE_GIB = '0';
  const ts = Array.from({ length: 15 }, (_, i) => tree(`recent${i}`, 10 + i));
  const old = [tree('old-a', 120), tree('old-b', 180)];
  await pruneTrees(rec() as never, cache, 12);
  t.true(ts.every((x) => fs.existsSync(x)), 'all 15 recent trees kept');
  t.false(old.some((x) => fs.existsSync(x)), 'trees past the dozen and unused for an hour go');
  for (const x of ts) fs.rmSync(x, { recursive: true, force: true });
});

test.serial('on a short disk the least recently used go, not the run\'s own, a locked one or one just used', async (t) => {
  process.env.KL_MIN_FREE_GIB = '1000000000'; // never enough: everything prunable goes
  const own = tree('own', 50);
  const busy = tree('busy', 40);
  const fresh = tree('fresh', 2);
  const others = [tree('a', 30), tree('b', 20)];
  await withLock(treeUseLock(busy), () => pruneTrees(rec() as never, cache, 12, own));
  t.true(fs.existsSync(own), 'the run\'s own tree stays');
  t.true(fs.existsSync(busy), 'a tree a run is building in stays');
  t.true(fs.existsSync(fresh), 'a tree used two minutes ago stays');
  t.false(others.some((x) => fs.existsSync(x)), 'the others go, though used within the hour');
  delete process.env.KL_MIN_FREE_GIB;
});
