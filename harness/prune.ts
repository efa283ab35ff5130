// The cache's built things (kernels, guest images, suite builds) are kept by use: each
// entry's `.used` stamp is touched whenever a run takes it, and only the most recently
// used ones stay. Without this, every new revision of a series and every --config-item
// value adds a kernel (~100 MB, a --debug one ~400 MB) that nothing ever removes, and a
// nightly machine fills its disk.
import fs from 'node:fs';
import path from 'node:path';
import { ifUnlocked } from './lock.ts';
import { log } from './log.ts';
import { paths } from './paths.ts';

export interface CacheKind {
  what: string;
  dir: string;
  /** entries of dir that are finished entries of this kind (not tmp dirs, not stamps) */
  entry: RegExp;
  keep: number;
  /** lock a run holds while it writes the entry (never prune one being made) */
  lock?: (name: string) => string;
}

const env = (name: string, dflt: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v >= 0 && process.env[name] !== '' && process.env[name] !== undefined ? v : dflt;
};

/** An entry used more recently than this is never pruned: a run may still boot it. */
export const minAgeS = () => env('KL_CACHE_MIN_AGE_S', 6 * 3600);

export const cacheKinds = (): CacheKind[] => [
  { what: 'kernel build', dir: paths.builds, entry: /^[0-9a-f]{20}$/, keep: env('KL_KEEP_BUILDS', 24) },
  { what: 'guest image', dir: paths.imageCache, entry: /^[0-9a-f]{20}$/, keep: env('KL_KEEP_IMAGES', 24), lock: (n) => `image-${n}` },
  { what: 'suite build', dir: paths.suiteCache, entry: /^[A-Za-z0-9_-]+-[0-9a-f]{20}$/, keep: env('KL_KEEP_SUITE_BUILDS', 96), lock: (n) => `suite-${n}` },
];

const stamp = (entryDir: string) => `${entryDir}.used`;

/** Record that a run uses this entry now (and keeps it from being pruned for minAgeS). */
export function touchUsed(entryDir: string): void {
  try {
    const s = stamp(entryDir);
    const now = new Date();
    if (fs.existsSync(s)) fs.utimesSync(s, now, now);
    else fs.writeFileSync(s, '');
  } catch {
    // a stamp that cannot be written only makes the entry look older
  }
}

function lastUsed(entryDir: string): number {
  for (const f of [stamp(entryDir), entryDir]) {
    try {
      return fs.statSync(f).mtimeMs;
    } catch {
      // try the next
    }
  }
  return 0;
}

/** Remove all but the `keep` most recently used entries of one kind; returns what was removed. */
export async function pruneKind(k: CacheKind, now = Date.now()): Promise<string[]> {
  if (!fs.existsSync(k.dir)) return [];
  const entries = fs
    .readdirSync(k.dir)
    .filter((n) => k.entry.test(n) && fs.statSync(path.join(k.dir, n)).isDirectory())
    .map((n) => ({ n, dir: path.join(k.dir, n), used: lastUsed(path.join(k.dir, n)) }))
    .sort((a, b) => b.used - a.used || a.n.localeCompare(b.n));
  const removed: string[] = [];
  for (const e of entries.slice(k.keep)) {
    if (now - e.used < minAgeS() * 1000) continue;
    const drop = async () => {
      fs.rmSync(stamp(e.dir), { force: true });
      fs.rmSync(e.dir, { recursive: true, force: true });
      removed.push(e.dir);
    };
    if (k.lock) await ifUnlocked(k.lock(e.n), drop);
    else await drop();
  }
  if (removed.length > 0) log(`cache: removed ${removed.length} least recently used ${k.what}${removed.length > 1 ? 's' : ''} (keeping ${k.keep}; KL_KEEP_* to change)`);
  return removed;
}

export async function pruneCache(): Promise<string[]> {
  const removed: string[] = [];
  for (const k of cacheKinds()) removed.push(...(await pruneKind(k)));
  return removed;
}
