// The cache's kernels, images and suite builds are bounded by use: the most recently used
// stay; an older one goes unless a run used it within KL_CACHE_MIN_AGE_S or is writing it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';

const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-prune-'));
process.env.KERNEL_LAB_CACHE = cache;
process.env.KL_KEEP_IMAGES = '2';
const { cacheKinds, pruneKind, pruneCache, touchUsed, minAgeS } = await import('../../harness/prune.ts');
const { withLock } = await import('../../harness/lock.ts');

test.after.always(() => fs.rmSync(cache, { recursive: true, force: true }));

let n = 0;
function entry(kind: 'builds' | 'images' | 'suites', hoursAgo: number | null, name?: string): string {
  const id = (name ?? `${(n++).toString(16)}`).padStart(20, 'a');
  const dir = path.join(cache, kind, kind === 'suites' ? `uring-${id}` : id);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'payload'), 'x');
  const t = (Date.now() - (hoursAgo ?? 48) * 3600_000) / 1000;
  fs.utimesSync(dir, t, t); // an entry from before stamps: its own mtime
  if (hoursAgo !== null) {
    touchUsed(dir);
    fs.utimesSync(`${dir}.used`, t, t);
  }
  return dir;
}

test('defaults: 24 kernels, KL_KEEP_IMAGES from the environment, min age 6 h', (t) => {
  const kinds = Object.fromEntries(cacheKinds().map((k) => [k.what, k.keep]));
  t.deepEqual(kinds, { 'kernel build': 24, 'guest image': 2, 'suite build': 96 });
  t.is(minAgeS(), 6 * 3600);
});

test.serial('the most recently used images stay; older ones go unless used lately or held by a run', async (t) => {
  const newest = [entry('images', 0.1), entry('images', 0.2)];
  const old = entry('images', 30);
  const unstamped = entry('images', null); // 48 h old by its mtime
  const recent = entry('images', 1); // third by use, but used an hour ago: kept
  const held = entry('images', 40);
  const half = path.join(cache, 'images', `${'f'.repeat(20)}.tmp-123`); // being written
  fs.mkdirSync(half);
  const images = cacheKinds().find((k) => k.what === 'guest image')!;
  let removed: string[] = [];
  await withLock(`image-${path.basename(held)}`, async () => {
    removed = await pruneKind(images);
  });
  t.deepEqual(removed.sort(), [old, unstamped].sort());
  for (const d of [...newest, recent, held, half]) t.true(fs.existsSync(d), `${d} kept`);
  t.false(fs.existsSync(`${old}.used`), 'its stamp went with it');
  // Using an entry again makes it the newest: with the others aged, it is the one kept.
  for (const d of [...newest, recent]) fs.utimesSync(`${d}.used`, Date.now() / 1000 - 7 * 3600, Date.now() / 1000 - 7 * 3600);
  touchUsed(held);
  const again = await pruneKind({ ...images, keep: 1 });
  t.deepEqual(again.sort(), [...newest, recent].sort());
  t.true(fs.existsSync(held));
});

test.serial('pruneCache covers kernels and suite builds too', async (t) => {
  const kernels = Array.from({ length: 26 }, (_, i) => entry('builds', 10 + i));
  const suites = Array.from({ length: 97 }, (_, i) => entry('suites', 10 + i));
  const removed = await pruneCache();
  t.true(removed.includes(kernels[25]!) && removed.includes(kernels[24]!), 'the two oldest of 26 kernels');
  t.false(removed.includes(kernels[23]!));
  t.true(removed.includes(suites[96]!), 'the oldest of 97 suite builds');
  t.is(removed.filter((d) => d.includes(`${path.sep}suites${path.sep}`)).length, 1);
  t.is(removed.filter((d) => d.includes(`${path.sep}builds${path.sep}`)).length, 2);
});
