// Stage 1: the base kernel source, extracted once into a cache keyed by content,
// as a scratch git repo (branch "base") so patches can be applied in worktrees.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { InfraError, UsageError } from '../errors.ts';
import { mustRun, run, type Recorder } from '../exec.ts';
import { withLock } from '../lock.ts';
import { log } from '../log.ts';
import { paths } from '../paths.ts';

export interface SourceResult {
  repo: string; // git repo whose HEAD is the base
  baseDesc: string;
  baseSha256: string; // tarball sha256, or a digest of the user's tree
  baseTree: string; // git tree id of the base commit: content identity of the source
  version: string;
}

const GIT_ID = ['-c', 'user.name=kernel-lab', '-c', 'user.email=kernel-lab@example.com', '-c', 'commit.gpgsign=false'];

export function sha256File(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return h.digest('hex');
}

export function kernelVersion(tree: string): string {
  const mk = fs.readFileSync(path.join(tree, 'Makefile'), 'utf8');
  const get = (k: string) => new RegExp(`^${k}[ \\t]*=[ \\t]*(\\S*)`, 'm').exec(mk)?.[1] ?? '';
  const extra = get('EXTRAVERSION');
  return `${get('VERSION')}.${get('PATCHLEVEL')}.${get('SUBLEVEL')}${extra}`;
}

async function commitAll(rec: Recorder, repo: string, message: string): Promise<void> {
  await mustRun(rec, ['git', '-C', repo, 'add', '-A', '-f'], { what: 'git add (base snapshot)' });
  await mustRun(rec, ['git', ...GIT_ID, '-C', repo, 'commit', '-q', '--allow-empty', '-m', message], { what: 'git commit (base snapshot)' });
}

async function ensureTarballPackage(rec: Recorder): Promise<void> {
  if (fs.existsSync(paths.defaultTarball)) return;
  if (process.getuid?.() !== 0) {
    throw new InfraError(`${paths.defaultTarball} is missing`, 'run `make deps` (installs linux-source-6.12) as root');
  }
  log('installing linux-source-6.12 from Debian');
  await mustRun(rec, ['apt-get', 'install', '-y', '-q', 'linux-source-6.12'], { what: 'apt-get install linux-source-6.12', env: { DEBIAN_FRONTEND: 'noninteractive' } });
}

async function fromTarball(rec: Recorder, tarball: string): Promise<SourceResult> {
  const sha = sha256File(tarball);
  const repo = path.join(paths.srcCache, sha.slice(0, 16));
  await withLock(`src-${sha.slice(0, 16)}`, async () => {
    if (fs.existsSync(path.join(repo, '.git', 'kl-ready'))) return;
    const tmp = `${repo}.tmp`;
    if (rec.dryRun) {
      // Print what the extraction would run; create nothing (a dry run builds nothing).
      await run(rec, ['tar', '-xf', tarball, '--strip-components=1', '-C', tmp]);
      await run(rec, ['git', '-C', tmp, 'init', '-q', '-b', 'base']);
      return;
    }
    log(`extracting ${tarball} (once; cached by sha256 ${sha.slice(0, 12)})`);
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    await mustRun(rec, ['tar', '-xf', tarball, '--strip-components=1', '-C', tmp], { what: `extract ${tarball}` });
    if (!fs.existsSync(path.join(tmp, 'Makefile'))) throw new UsageError(`${tarball} does not hold a kernel tree (no top-level Makefile)`);
    await mustRun(rec, ['git', '-C', tmp, 'init', '-q', '-b', 'base'], { what: 'git init' });
    await commitAll(rec, tmp, `base: ${path.basename(tarball)} (sha256 ${sha})`);
    fs.rmSync(repo, { recursive: true, force: true });
    fs.renameSync(tmp, repo);
    fs.writeFileSync(path.join(repo, '.git', 'kl-ready'), `${sha}\n`);
  });
  return finish(rec, repo, `${path.basename(tarball)} (sha256 ${sha.slice(0, 12)})`, sha);
}

/** A user's tree is copied (never touched): rsync keeps the copy cheap to refresh. */
async function fromTree(rec: Recorder, dir: string): Promise<SourceResult> {
  const real = fs.realpathSync(dir);
  const key = crypto.createHash('sha256').update(real).digest('hex').slice(0, 16);
  const repo = path.join(paths.srcCache, `tree-${key}`);
  await withLock(`src-tree-${key}`, async () => {
    log(`copying ${real} (rsync; the user's tree is never modified)`);
    fs.mkdirSync(repo, { recursive: true });
    await mustRun(rec, ['rsync', '-a', '--delete', '--exclude=/.git', '--exclude=/kl-out-*', '--exclude=*.o', '--exclude=*.cmd', '--exclude=/vmlinux*', `${real}/`, `${repo}/`], { what: 'rsync kernel tree' });
    if (!fs.existsSync(path.join(repo, '.git'))) await mustRun(rec, ['git', '-C', repo, 'init', '-q', '-b', 'base'], { what: 'git init' });
    const st = await run(rec, ['git', '-C', repo, 'status', '--porcelain', '--ignored=no', '-uall'], {});
    const head = await run(rec, ['git', '-C', repo, 'rev-parse', '-q', '--verify', 'HEAD'], {});
    if (head.exitCode !== 0 || st.stdout.trim() !== '') await commitAll(rec, repo, `base: copy of ${real}`);
  });
  return finish(rec, repo, `tree ${real}`, null);
}

async function finish(rec: Recorder, repo: string, desc: string, sha: string | null): Promise<SourceResult> {
  const tree = rec.dryRun && !fs.existsSync(repo)
    ? 'dry-run'
    : (await mustRun({ ...rec, dryRun: false }, ['git', '-C', repo, 'rev-parse', 'HEAD^{tree}'], { what: 'git rev-parse' })).trim();
  return {
    repo,
    baseDesc: desc,
    baseSha256: sha ?? tree,
    baseTree: tree,
    version: fs.existsSync(repo) ? kernelVersion(repo) : 'unknown',
  };
}

/** Input check for --kernel-src, done before anything is created. */
export function checkKernelSrc(kernelSrc: string): void {
  if (!fs.existsSync(kernelSrc)) throw new UsageError(`--kernel-src ${kernelSrc}: no such file or directory`);
  if (fs.statSync(kernelSrc).isDirectory()) {
    if (!fs.existsSync(path.join(kernelSrc, 'Makefile')) || !fs.existsSync(path.join(kernelSrc, 'Kconfig'))) {
      throw new UsageError(`--kernel-src ${kernelSrc} is not a kernel tree (no Makefile and Kconfig at its top)`);
    }
  } else if (!/\.tar(\.(xz|gz|bz2|zst))?$|\.tgz$/.test(kernelSrc)) {
    throw new UsageError(`--kernel-src ${kernelSrc} is neither a kernel tree nor a tarball (.tar, .tar.xz, .tar.gz, ...)`);
  }
}

export async function sourceStage(rec: Recorder, kernelSrc: string | null): Promise<SourceResult> {
  if (kernelSrc === null) {
    await ensureTarballPackage(rec);
    return fromTarball(rec, paths.defaultTarball);
  }
  checkKernelSrc(kernelSrc);
  return fs.statSync(kernelSrc).isDirectory() ? fromTree(rec, kernelSrc) : fromTarball(rec, path.resolve(kernelSrc));
}
