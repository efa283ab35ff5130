import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { InfraError } from './errors.ts';
import { paths } from './paths.ts';
import { log } from './log.ts';

/** How long a run waits for a lock another run holds before it gives up (exit 3). */
const WAIT_S = Number(process.env.KL_LOCK_WAIT_S ?? 3 * 3600);

const target = (name: string) => path.join(paths.locks, name.replace(/[^\w.-]/g, '_'));
const owner = (t: string) => `${t}.owner`;
const holder = (t: string) => {
  try {
    return fs.readFileSync(owner(t), 'utf8').trim() || '?';
  } catch {
    return '?';
  }
};

const lockOpts = { stale: 30_000, update: 10_000, onCompromised: (err: Error) => log(`lock compromised: ${err.message}`) };

/**
 * Hold a cross-process lock while fn runs: two runs (or two ava workers) that need the
 * same tree, out dir or build wait for each other instead of corrupting it. A waiting run
 * says whom it waits for, and gives up after KL_LOCK_WAIT_S (default 3 h) with exit 3.
 */
export async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(paths.locks, { recursive: true });
  const t = target(name);
  fs.closeSync(fs.openSync(t, 'a'));
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(t, { ...lockOpts, retries: 0 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
    log(`waiting for ${name} (held by pid ${holder(t)})`);
    const t0 = Date.now();
    try {
      release = await lockfile.lock(t, { ...lockOpts, retries: { retries: Math.ceil(WAIT_S / 3), minTimeout: 500, maxTimeout: 3_000, factor: 1.2 } });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
      throw new InfraError(`gave up waiting for ${name} after ${Math.round((Date.now() - t0) / 1000)} s (held by pid ${holder(t)})`, 'another run is using that tree or build; wait for it, or stop it');
    }
  }
  fs.writeFileSync(owner(t), `${process.pid}\n`);
  try {
    return await fn();
  } finally {
    fs.rmSync(owner(t), { force: true });
    await release();
  }
}

/** Run fn under the lock if it is free right now; null (and fn not run) if someone holds it. */
export async function ifUnlocked<T>(name: string, fn: () => Promise<T>): Promise<T | null> {
  fs.mkdirSync(paths.locks, { recursive: true });
  const t = target(name);
  fs.closeSync(fs.openSync(t, 'a'));
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(t, { ...lockOpts, retries: 0 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') return null;
    throw err;
  }
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** The lock a run holds while it configures and builds in a tree (its out dirs, its .config). */
export function treeUseLock(tree: string): string {
  return `use-${crypto.createHash('sha256').update(path.resolve(tree)).digest('hex').slice(0, 16)}`;
}
