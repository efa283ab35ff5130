import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The bundle `npm run lab` runs (scripts/lab.mjs) lives outside harness/ and is told where
// the checkout is; run from source, this file's place says.
declare const __KL_REPO_ROOT__: string | undefined;
export const repoRoot = typeof __KL_REPO_ROOT__ === 'string' ? __KL_REPO_ROOT__ : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const cacheRoot = process.env.KERNEL_LAB_CACHE ?? path.join(os.homedir(), '.cache', 'kernel-lab');

export const paths = {
  repoRoot,
  cacheRoot,
  patchSets: path.join(repoRoot, 'kernel-patches'),
  suites: path.join(repoRoot, 'suites'),
  images: path.join(repoRoot, 'images'),
  kconfig: path.join(repoRoot, 'harness', 'kconfig'),
  srcCache: path.join(cacheRoot, 'src'),
  baseCache: path.join(cacheRoot, 'base'), // fetched .deb scratch and version→sha256 records
  trees: path.join(cacheRoot, 'trees'),
  builds: path.join(cacheRoot, 'builds'),
  configCache: path.join(cacheRoot, 'configs'), // .config by the hash of its inputs
  imageCache: path.join(cacheRoot, 'images'),
  suiteCache: path.join(cacheRoot, 'suites'), // each suite built, by its sources + uAPI headers + toolchain
  ccache: path.join(cacheRoot, 'ccache'),
  locks: path.join(cacheRoot, 'locks'),
};
