// Stage 1: the base kernel source, extracted once into a cache keyed by content,
// as a scratch git repo (branch "base") so patches can be applied in worktrees.
// The base is the pinned Debian linux-source version (base.ts), fetched by the lab itself
// with apt-get download and checked against the pin's sha256: never whatever happens to
// be installed in /usr/src, unless --base installed asks for exactly that.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BasePin, BaseRequest } from '../base.ts';
import { InfraError, UsageError } from '../errors.ts';
import type { DebianBase } from '../types.ts';
import { GIT_ID } from '../git.ts';
import { sha256File } from '../hash.ts';
import { mustRun, run, type Recorder } from '../exec.ts';
import { ifUnlocked, treeUseLock, withLock } from '../lock.ts';
import { log } from '../log.ts';
import { paths } from '../paths.ts';

export interface SourceResult {
  repo: string; // git repo whose HEAD is the base
  baseDesc: string;
  baseSha256: string; // tarball sha256, or a digest of the user's tree
  baseTree: string; // git tree id of the base commit: content identity of the source
  version: string;
  debian: DebianBase | null; // null: --kernel-src
}



export function kernelVersion(tree: string): string {
  const mk = fs.readFileSync(path.join(tree, 'Makefile'), 'utf8');
  const get = (k: string) => new RegExp(`^${k}[ \\t]*=[ \\t]*(\\S*)`, 'm').exec(mk)?.[1] ?? '';
  const extra = get('EXTRAVERSION');
  return `${get('VERSION')}.${get('PATCHLEVEL')}.${get('SUBLEVEL')}${extra}`;
}

async function commitAll(rec: Recorder, repo: string, message: string): Promise<void> {
  // Loose objects uncompressed: zlib was about two thirds of git add's CPU for a kernel tree
  // (~14 s of a cold run here) for 1.2 GB less on disk, once per base.
  await mustRun(rec, ['git', '-c', 'core.looseCompression=0', '-C', repo, 'add', '-A', '-f'], { what: 'git add (base snapshot)' });
  await mustRun(rec, ['git', ...GIT_ID, '-C', repo, 'commit', '-q', '--allow-empty', '-m', message], { what: 'git commit (base snapshot)' });
}

const srcRepo = (sha: string) => path.join(paths.srcCache, sha.slice(0, 16));
const isReady = (repo: string) => fs.existsSync(path.join(repo, '.git', 'kl-ready'));

async function fromTarball(rec: Recorder, tarball: string, knownSha?: string): Promise<SourceResult> {
  const sha = knownSha ?? sha256File(tarball);
  const repo = srcRepo(sha);
  await withLock(`src-${sha.slice(0, 16)}`, async () => {
    if (isReady(repo)) return;
    const tmp = `${repo}.tmp`;
    if (rec.dryRun) {
      // Print what the extraction would run; create nothing (a dry run builds nothing).
      await run(rec, ['tar', '-xf', tarball, '--strip-components=1', '-C', tmp]);
      await run(rec, ['git', '-C', tmp, 'init', '-q', '-b', 'base']);
      return;
    }
    log(`extracting ${tarball} (once; cached by sha256 ${sha.slice(0, 12)})`);
    fs.rmSync(tmp, { recursive: true, force: true });
    checkFreeSpace(paths.cacheRoot, EXTRACT_NEEDS_GIB, 'extract the kernel source');
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

// A kernel tree extracted and committed takes ~2.5 GB; a build ~3 GB more.
const EXTRACT_NEEDS_GIB = 4;

/** Fail early, naming the directory, instead of ENOSPC in the middle of tar or make. */
export function checkFreeSpace(dir: string, needGiB: number, what: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const st = fs.statfsSync(dir);
  const free = (st.bavail * st.bsize) / 2 ** 30;
  if (free < needGiB) {
    throw new InfraError(`only ${free.toFixed(1)} GiB free in ${dir}, ${needGiB} GiB needed to ${what}`, `free space, or point KERNEL_LAB_CACHE at a larger disk`);
  }
}

/**
 * What a build in place (`make`, `vng -b`: the usual virtme-ng loop) leaves in a source
 * tree. None of it is source, and with it the copy would not configure out of tree
 * (kbuild: "The source tree is not clean, please run 'make mrproper'").
 */
export const IN_PLACE_BUILD = [
  '/.git', '/kl-out-*', '/.config', '/.config.old', '/include/config', '/include/generated', '/arch/*/include/generated',
  '/scripts/basic/fixdep', '/Module.symvers', '/modules.*', '/System.map', '/vmlinux*', '/.vmlinux*', '/.tmp_*', '/.version',
  '*.o', '*.a', '*.ko', '*.mod', '*.mod.c', '*.cmd', '*.order', '.*.d', '*.symtypes', '*.lst', '.*.tmp', '/arch/*/boot/bzImage', '/arch/*/boot/compressed/vmlinux', '/arch/*/boot/compressed/vmlinux.bin*',
];

/**
 * Each user tree given to --kernel-src gets a copy (~1.5 GB, more with its builds): keep the
 * KL_KEEP_TREE_COPIES (3) most recently used, and never one used within the last hour
 * (KL_TREE_COPY_MIN_AGE_S) or one a run holds (copying into it, or configuring or building
 * in it). Use is stamped in src/tree-<key>.used, beside the copy.
 */
export async function pruneTreeCopies(keep = Number(process.env.KL_KEEP_TREE_COPIES ?? 3), minAgeS = Number(process.env.KL_TREE_COPY_MIN_AGE_S ?? 3600)): Promise<string[]> {
  if (!fs.existsSync(paths.srcCache)) return [];
  const copies = fs
    .readdirSync(paths.srcCache)
    .filter((n) => /^tree-[0-9a-f]{16}$/.test(n))
    .map((n) => {
      const stamp = path.join(paths.srcCache, `${n}.used`);
      return { key: n.slice(5), dir: path.join(paths.srcCache, n), stamp, used: fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0 };
    })
    .sort((a, b) => b.used - a.used);
  const removed: string[] = [];
  for (const c of copies.slice(keep)) {
    if (Date.now() - c.used < minAgeS * 1000) continue;
    await ifUnlocked(`src-tree-${c.key}`, () =>
      ifUnlocked(treeUseLock(c.dir), async () => {
        log(`pruning the unused copy of a --kernel-src tree: ${c.dir}`);
        fs.rmSync(c.dir, { recursive: true, force: true });
        fs.rmSync(c.stamp, { force: true });
        removed.push(c.dir);
      }),
    );
  }
  return removed;
}

/** A user's tree is copied (never touched): rsync keeps the copy cheap to refresh. */
async function fromTree(rec: Recorder, dir: string): Promise<SourceResult> {
  const real = fs.realpathSync(dir);
  const key = crypto.createHash('sha256').update(real).digest('hex').slice(0, 16);
  const repo = path.join(paths.srcCache, `tree-${key}`);
  if (!rec.dryRun) {
    fs.mkdirSync(paths.srcCache, { recursive: true });
    fs.writeFileSync(`${repo}.used`, `${real}\n`); // stamped first: this run's copy is the newest
    await pruneTreeCopies();
  }
  await withLock(`src-tree-${key}`, async () => {
    log(`copying ${real} (rsync; the user's tree is never modified)`);
    fs.mkdirSync(repo, { recursive: true });
    await mustRun(rec, ['rsync', '-a', '--delete', ...IN_PLACE_BUILD.map((x) => `--exclude=${x}`), `${real}/`, `${repo}/`], { what: 'rsync kernel tree', timeout: 30 * 60_000 });
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
    debian: null,
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

export async function sourceStage(rec: Recorder, kernelSrc: string | null, base: BaseRequest): Promise<SourceResult> {
  if (kernelSrc === null) return fromDebian(rec, base);
  checkKernelSrc(kernelSrc);
  return fs.statSync(kernelSrc).isDirectory() ? fromTree(rec, kernelSrc) : fromTarball(rec, path.resolve(kernelSrc));
}

const APT_TIMEOUT_MS = 10 * 60_000;
const aptEnv = { DEBIAN_FRONTEND: 'noninteractive' };

/** Versions of a package the configured archive offers (apt-cache madison), newest first. */
async function archiveVersions(rec: Recorder, pkg: string): Promise<string[]> {
  const q = { ...rec, dryRun: false }; // a read-only query: a dry run asks it too
  const out = await mustRun(q, ['apt-cache', 'madison', pkg], { what: `apt-cache madison ${pkg}`, timeout: 60_000 });
  const versions = [...new Set(out.split('\n').map((l) => l.split('|')[1]?.trim() ?? '').filter(Boolean))];
  const gt = async (a: string, b: string) => (await run(q, ['dpkg', '--compare-versions', a, 'gt', b], { timeout: 30_000 })).exitCode === 0;
  // insertion sort: a handful of versions, compared by dpkg's own rules
  const sorted: string[] = [];
  for (const v of versions) {
    let i = 0;
    while (i < sorted.length && !(await gt(v, sorted[i]!))) i++;
    sorted.splice(i, 0, v);
  }
  return sorted;
}

let aptUpdated = false;
/** The package lists may be older than the archive (or absent): refresh them once per process. */
async function aptUpdate(rec: Recorder): Promise<boolean> {
  if (aptUpdated || process.getuid?.() !== 0 || rec.dryRun) return false;
  aptUpdated = true;
  log('refreshing the Debian package lists (apt-get update)');
  const r = await run(rec, ['apt-get', 'update', '-qq'], { what: 'apt-get update', timeout: APT_TIMEOUT_MS, env: aptEnv });
  return r.exitCode === 0;
}

async function resolveVersion(rec: Recorder, base: BaseRequest): Promise<string> {
  const { want, pin } = base;
  if (want.kind === 'pin') return pin.version;
  if (want.kind === 'version') return want.version;
  // latest
  let versions = await archiveVersions(rec, pin.package);
  if (versions.length === 0 && (await aptUpdate(rec))) versions = await archiveVersions(rec, pin.package);
  if (versions.length === 0) throw new InfraError(`--base latest: the Debian archive lists no ${pin.package}`, 'check /etc/apt/sources.list (bookworm-security carries linux-source-6.12) and run apt-get update');
  return versions[0]!;
}

const shaRecord = (pkg: string, version: string) => path.join(paths.baseCache, `${pkg}_${version.replace(/[^\w.+~-]/g, '_')}.sha256`);

/**
 * A Debian linux-source version as a scratch repo. The tarball is fetched only when its
 * repo is not in the cache yet: apt-get download into the cache, dpkg-deb -x, sha256
 * checked against the pin; the .deb and tarball are removed once the repo is made.
 */
async function fromDebian(rec: Recorder, base: BaseRequest): Promise<SourceResult> {
  const { pin } = base;
  if (base.want.kind === 'installed') return fromInstalled(rec, pin);
  const version = await resolveVersion(rec, base);
  const expect = version === pin.version ? pin.sha256 : null;
  const recorded = shaRecord(pin.package, version);
  const known = expect ?? (fs.existsSync(recorded) ? fs.readFileSync(recorded, 'utf8').trim() : null);
  const describe = (sha: string): DebianBase => ({
    package: pin.package,
    version,
    sha256: sha,
    pinned: sha === pin.sha256,
    pin: { version: pin.version, sha256: pin.sha256, file: pin.file },
    asked: base.want.kind === 'version' ? base.want.version : base.want.kind,
  });
  if (known && isReady(srcRepo(known))) {
    if (!rec.dryRun && !fs.existsSync(recorded)) {
      fs.mkdirSync(paths.baseCache, { recursive: true });
      fs.writeFileSync(recorded, `${known}\n`);
    }
    const r = await finish(rec, srcRepo(known), `${pin.package} ${version} (sha256 ${known.slice(0, 12)})`, known);
    return { ...r, debian: describe(known) };
  }
  return withLock(`deb-${pin.package}-${version}`, async () => {
    const tmp = path.join(paths.baseCache, `fetch-${process.pid}`);
    if (!rec.dryRun) {
      fs.rmSync(tmp, { recursive: true, force: true });
      checkFreeSpace(paths.cacheRoot, EXTRACT_NEEDS_GIB, `fetch ${pin.package} ${version}`);
      fs.mkdirSync(tmp, { recursive: true, mode: 0o755 });
    }
    try {
      log(`fetching ${pin.package} ${version} from the Debian archive (apt-get download)`);
      const argv = ['apt-get', 'download', '-q', `${pin.package}=${version}`];
      let r = await run(rec, argv, { cwd: tmp, what: `apt-get download ${pin.package}=${version}`, timeout: APT_TIMEOUT_MS, env: aptEnv });
      if (r.exitCode !== 0 && (await aptUpdate(rec))) r = await run(rec, argv, { cwd: tmp, what: `apt-get download ${pin.package}=${version}`, timeout: APT_TIMEOUT_MS, env: aptEnv });
      if (r.exitCode !== 0) {
        const why = (r.stderr || r.stdout).split('\n').find((l) => l.startsWith('E:'))?.replace(/^E:\s*/, '') ?? `exit ${r.exitCode}`;
        const gone = /not found|Unable to locate|Can't select/i.test(why);
        const whose = base.want.kind === 'pin' ? `the pinned base (${pin.file})` : `--base ${version}`;
        throw new InfraError(
          gone ? `${pin.package} ${version}, ${whose}, is not in the Debian archive any more` : `apt-get download ${pin.package}=${version} failed: ${why}`,
          gone ? 'run with --base latest, or rebase the set onto a version apt-cache madison lists and move its pin' : 'check the network and /etc/apt/sources.list',
        );
      }
      const deb = rec.dryRun ? `${pin.package}_${version}_all.deb` : fs.readdirSync(tmp).find((f) => f.endsWith('.deb'));
      if (!deb) throw new InfraError(`apt-get download ${pin.package}=${version} left no .deb in ${tmp}`);
      await mustRun(rec, ['dpkg-deb', '-x', path.join(tmp, deb), path.join(tmp, 'x')], { what: `dpkg-deb -x ${deb}`, timeout: APT_TIMEOUT_MS });
      const srcDir = path.join(tmp, 'x', 'usr', 'src');
      const tarName = rec.dryRun ? `${pin.package}.tar.xz` : fs.existsSync(srcDir) ? fs.readdirSync(srcDir).find((f) => /^linux-source-.*\.tar\.(xz|gz|bz2|zst)$/.test(f)) : undefined;
      if (!tarName) throw new InfraError(`${deb} holds no kernel tarball under /usr/src`);
      const tarball = path.join(srcDir, tarName);
      if (rec.dryRun) {
        const r2 = await fromTarball(rec, tarball, expect ?? 'dry-run-sha256-unknown');
        return { ...r2, debian: describe(expect ?? 'unknown') };
      }
      const sha = sha256File(tarball);
      if (expect && sha !== expect) {
        throw new InfraError(`${pin.package} ${version} from the archive has sha256 ${sha.slice(0, 16)}…, but ${pin.file} pins ${expect.slice(0, 16)}…`, 'the archive rebuilt that version: check the download, then rebase and move the pin');
      }
      fs.mkdirSync(paths.baseCache, { recursive: true });
      fs.writeFileSync(recorded, `${sha}\n`);
      const r2 = await fromTarball(rec, tarball, sha);
      return { ...r2, baseDesc: `${pin.package} ${version} (sha256 ${sha.slice(0, 12)})`, debian: describe(sha) };
    } finally {
      if (!rec.dryRun) fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
}

/** --base installed: the tarball in /usr/src, whichever version dpkg installed. */
async function fromInstalled(rec: Recorder, pin: BasePin): Promise<SourceResult> {
  const tarball = `/usr/src/${pin.package}.tar.xz`;
  if (!fs.existsSync(tarball)) throw new UsageError(`--base installed: ${tarball} is not there`, `apt-get install ${pin.package}, or use the pin or --base latest`);
  const q = await run({ ...rec, dryRun: false }, ['dpkg-query', '-W', '-f=${Version}', pin.package], { timeout: 30_000 });
  const version = q.exitCode === 0 ? q.stdout.trim() : 'unknown';
  const r = await fromTarball(rec, tarball);
  return {
    ...r,
    baseDesc: `${pin.package} ${version}, installed (sha256 ${r.baseSha256.slice(0, 12)})`,
    debian: { package: pin.package, version, sha256: r.baseSha256, pinned: r.baseSha256 === pin.sha256, pin: { version: pin.version, sha256: pin.sha256, file: pin.file }, asked: 'installed' },
  };
}
