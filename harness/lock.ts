import fs from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { paths } from './paths.ts';
import { log } from './log.ts';

/**
 * Hold a cross-process lock while fn runs: two runs (or two ava workers) that need
 * the same tree or build wait for each other instead of corrupting it.
 */
export async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(paths.locks, { recursive: true });
  const target = path.join(paths.locks, name.replace(/[^\w.-]/g, '_'));
  fs.closeSync(fs.openSync(target, 'a'));
  const release = await lockfile.lock(target, {
    stale: 30_000,
    update: 10_000,
    retries: { retries: 100_000, minTimeout: 500, maxTimeout: 3_000, factor: 1.2 },
    onCompromised: (err) => log(`lock ${name} compromised: ${err.message}`),
  });
  try {
    return await fn();
  } finally {
    await release();
  }
}
