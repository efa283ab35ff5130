// Stage 2: apply the patch sets in order with `git am --3way` on a worktree of the base.
// A patch that does not apply stops the run naming the patch, file and first failing
// hunk, and the half-applied worktree is removed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { dropRepeatedPatches, type PatchSet } from '../catalog.ts';
import { UsageError } from '../errors.ts';
import { GIT_ID } from '../git.ts';
import { mustRun, run, type Recorder } from '../exec.ts';
import { ifUnlocked, withLock, treeUseLock } from '../lock.ts';
import { log } from '../log.ts';
import { paths } from '../paths.ts';
import type { PatchRecord } from '../types.ts';
import { sha256File } from '../hash.ts';
import type { SourceResult } from './source.ts';


export interface PatchesResult {
  tree: string;
  patches: PatchRecord[];
  stackHash: string; // KCIDB-style patchset hash over the applied patch files
  /**
   * What of the stack can change a .config: the Kconfig files and scripts/ files it
   * touches, by content ('' when it touches none: the base's .config holds for it).
   */
  kconfigId: string;
}

const KCONFIG_INPUT = /(^|\/)Kconfig[^/]*$|^scripts\//; // Kconfig files, and the scripts they and kconfig run

async function kconfigIdOf(rec: Recorder, tree: string, base: string): Promise<string> {
  const files = (await changedFiles(rec, tree, base, 'HEAD')).filter((f) => KCONFIG_INPUT.test(f)).sort();
  if (files.length === 0) return '';
  const h = crypto.createHash('sha256');
  for (const f of files) {
    const p = path.join(tree, f);
    h.update(`${f}\0`).update(fs.existsSync(p) ? fs.readFileSync(p) : '(removed)').update('\0');
  }
  return h.digest('hex');
}

export function patchSubject(file: string): string {
  const text = fs.readFileSync(file, 'utf8');
  const m = /^Subject:\s*(.*(?:\n[ \t].*)*)/m.exec(text);
  return m ? m[1]!.replace(/\n[ \t]+/g, ' ').trim() : path.basename(file);
}

/** sha256 over the newline-terminated sha256 of each patch (KCIDB's patchset_hash). */
export function patchsetHash(shas: string[]): string {
  return crypto.createHash('sha256').update(shas.map((s) => `${s}\n`).join('')).digest('hex');
}

/** Find the first failing hunk of `file` at `line` in a patch, for the error message. */
export function failingHunk(patchFile: string, file: string, line: number): string | null {
  const text = fs.readFileSync(patchFile, 'utf8');
  const sections = text.split(/^diff --git /m).slice(1);
  for (const sec of sections) {
    if (!sec.startsWith(`a/${file} `)) continue;
    const hunks = sec.split(/^(?=@@ )/m).slice(1);
    const hit = hunks.find((h) => Number(/^@@ -(\d+)/.exec(h)?.[1]) === line) ?? hunks[0];
    if (hit) return hit.split('\n')[0]!.trim();
  }
  return null;
}

export function describeAmFailure(stderr: string, patchFile: string): string {
  const conflicts = [...stderr.matchAll(/CONFLICT \([^)]*\): Merge conflict in (\S+)/g)].map((m) => m[1]!);
  if (conflicts.length > 0) return `3-way merge conflict in ${conflicts.join(', ')}`;
  const m = /error: patch failed: (.+?):(\d+)/.exec(stderr);
  if (m) {
    const hunk = failingHunk(patchFile, m[1]!, Number(m[2]));
    return `${m[1]}:${m[2]}${hunk ? ` (${hunk})` : ''}`;
  }
  const other = /error: (.+)/.exec(stderr);
  return other ? other[1]!.trim() : stderr.trim().split('\n').slice(-1)[0] ?? 'unknown error';
}

/**
 * git am one patch, 3-way, with the lab's own identity and no user hooks: null when it
 * applied, else where it failed ("<file> <hunk>"). The am state is left for the caller.
 */
export async function applyPatch(rec: Recorder, tree: string, file: string): Promise<string | null> {
  const r = await run(rec, ['git', ...GIT_ID, '-C', tree, 'am', '-q', '--3way', '--keep-cr', '--empty=drop', file], {});
  return r.exitCode === 0 ? null : describeAmFailure(`${r.stdout}\n${r.stderr}`, file);
}

/**
 * The worktree a series is built in: one per base and series identity (which sets, or which
 * file), not per revision, so the next revision of a series reuses the out dir of the last
 * one and make rebuilds only what changed. (Its content is checked by the stamp; the build
 * cache stays content-addressed.)
 */
export function patchTree(src: Pick<SourceResult, 'repo' | 'baseTree'>, sets: PatchSet[]): string {
  if (sets.every((s) => s.patches.length === 0)) return src.repo;
  const identity = sets.map((s) => `${s.name}@${path.resolve(s.dir)}`).join('\n');
  return path.join(paths.trees, crypto.createHash('sha256').update(`${src.baseTree}\n${identity}`).digest('hex').slice(0, 16));
}

/** Files a commit range touches (added, changed, removed), by path in the tree. */
async function changedFiles(rec: Recorder, tree: string, from: string, to: string): Promise<string[]> {
  const out = await mustRun(rec, ['git', '-C', tree, 'diff', '--no-renames', '--name-only', '-z', from, to], { what: 'git diff --name-only' });
  return out.split('\0').filter(Boolean);
}

export async function patchesStage(rec: Recorder, src: SourceResult, given: PatchSet[]): Promise<PatchesResult> {
  const sets = dropRepeatedPatches(given); // as plan() did; idempotent, for direct callers
  const patches: PatchRecord[] = [];
  for (const set of sets) {
    for (const file of set.patches) {
      patches.push({ set: set.name, file, subject: patchSubject(file), sha256: sha256File(file) });
    }
  }
  const stackHash = patchsetHash(patches.map((p) => p.sha256));
  if (patches.length === 0) return { tree: src.repo, patches, stackHash, kconfigId: '' };

  const tree = patchTree(src, sets);
  const stampText = `stack ${stackHash}\n${patches.map((p) => `${p.sha256} ${p.file}\n`).join('')}`;
  const base = (await mustRun(rec, ['git', '-C', src.repo, 'rev-parse', 'HEAD'], { what: 'git rev-parse (base)' })).trim();
  await withLock(`tree-${path.basename(tree)}`, async () => {
    const stamp = path.join(tree, '.kl-applied');
    const previous = fs.existsSync(stamp) ? fs.readFileSync(stamp, 'utf8') : null;
    if (previous === stampText) {
      fs.utimesSync(stamp, new Date(), new Date()); // last use, for pruning
      return;
    }
    // Another revision of this series is checked out: go back to the base and apply this
    // one there, then give every file this revision does not change its old mtime back,
    // so make rebuilds only what the new revision touched.
    let kept: Map<string, fs.Stats> | null = null;
    let old: string | null = null;
    let fresh = false;
    if (previous !== null && previous.startsWith('stack ') && fs.existsSync(path.join(tree, '.git'))) {
      old = (await mustRun(rec, ['git', '-C', tree, 'rev-parse', 'HEAD'], { what: 'git rev-parse (previous revision)' })).trim();
      kept = new Map();
      for (const f of await changedFiles(rec, tree, base, old)) {
        const st = fs.statSync(path.join(tree, f), { throwIfNoEntry: false });
        if (st?.isFile()) kept.set(f, st);
      }
      fs.rmSync(stamp);
      await run(rec, ['git', '-C', tree, 'am', '--quit'], {});
      await mustRun(rec, ['git', '-C', tree, 'reset', '-q', '--hard', base], { what: 'git reset (back to the base)' });
      log(`applying ${patches.length} patch(es) from ${sets.map((s) => s.name).join(', ')} over the previous revision's tree (git am --3way)`);
    } else {
      log(`applying ${patches.length} patch(es) from ${sets.map((s) => s.name).join(', ')} with git am --3way`);
      await removeWorktree(rec, src.repo, tree);
      fs.mkdirSync(paths.trees, { recursive: true });
      if (!rec.dryRun) await pruneTrees(rec, src.repo, KEEP_TREES, tree); // room for this one first
      await mustRun(rec, ['git', '-C', src.repo, 'worktree', 'add', '-q', '--detach', tree, base], { what: 'git worktree add' });
      fresh = true;
    }
    if (sets.length > 1) await primeBlobs(rec, src.repo, sets);
    for (const set of sets) {
      for (const r of set.repeated ?? []) log(`${set.name}/${path.basename(r.file)} is the same change as ${r.sameAs}: applied once, there`);
    }
    for (const p of patches) {
      const where = await applyPatch(rec, tree, p.file);
      if (where !== null) {
        await run(rec, ['git', '-C', tree, 'am', '--abort'], {});
        await removeWorktree(rec, src.repo, tree);
        throw new UsageError(
          `patch ${p.set}/${path.basename(p.file)} ("${p.subject}") does not apply to ${src.version}: ${where}`,
          'rebase the series on the base, or pass --kernel-src for another base',
        );
      }
    }
    if (kept && old) {
      const now = (await mustRun(rec, ['git', '-C', tree, 'rev-parse', 'HEAD'], { what: 'git rev-parse (this revision)' })).trim();
      const changed = new Set(await changedFiles(rec, tree, old, now));
      let restored = 0;
      for (const [f, st] of kept) {
        if (changed.has(f) || !fs.existsSync(path.join(tree, f))) continue;
        fs.utimesSync(path.join(tree, f), st.atime, st.mtime);
        restored++;
      }
      log(`${changed.size} file(s) differ from the previous revision; ${restored} untouched file(s) keep their mtimes`);
    }
    if (fresh && !rec.dryRun) await seedFromBase(rec, src.repo, tree, base);
    if (!rec.dryRun) fs.writeFileSync(stamp, stampText);
  });
  if (!rec.dryRun) await pruneTrees(rec, src.repo, KEEP_TREES, tree);
  return { tree, patches, stackHash, kconfigId: rec.dryRun ? stackHash : await kconfigIdOf(rec, tree, base) };
}

/**
 * A new series tree starts from the base tree's builds instead of from nothing: every file
 * the series leaves alone gets the base tree's mtime back here, and the config stage copies
 * in the base's out dir of the same configuration (seedOutDir). make then compiles what the
 * patches touch and relinks, as an incremental build in the base tree would: the first run
 * of a new series costs about what its next revisions cost.
 */
async function seedFromBase(rec: Recorder, baseTree: string, tree: string, base: string): Promise<void> {
  if (!outDirsOf(baseTree).some((d) => built(path.join(baseTree, d)) !== null)) return; // nothing built there to start from
  const t0 = Date.now();
  const head = (await mustRun(rec, ['git', '-C', tree, 'rev-parse', 'HEAD'], { what: 'git rev-parse (series)' })).trim();
  const changed = new Set(await changedFiles(rec, tree, base, head));
  const files = (await mustRun(rec, ['git', '-C', tree, 'ls-files', '-z'], { what: 'git ls-files' })).split('\0').filter(Boolean);
  let restored = 0;
  for (const f of files) {
    if (changed.has(f)) continue;
    const st = fs.statSync(path.join(baseTree, f), { throwIfNoEntry: false });
    if (!st?.isFile()) continue;
    fs.utimesSync(path.join(tree, f), st.atime, st.mtime);
    restored++;
  }
  // New mtimes make git's index stale for every file: the next revision's `git reset
  // --hard` would check all of them out again (new mtimes, a whole rebuild). Refresh the
  // index (git rehashes them, finds them unchanged).
  await mustRun(rec, ['git', '-C', tree, 'update-index', '-q', '--refresh'], { what: 'git update-index --refresh', timeout: 10 * 60_000 });
  log(`seeded from the base tree: ${restored} untouched file(s) keep the base's mtimes (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

const OUT_DIR = /^kl-out-(?!clean-)([\w-]+?)(?:-([0-9a-f]{8}))?$/;
const built = (dir: string) => fs.statSync(path.join(dir, 'vmlinux'), { throwIfNoEntry: false })?.mtimeMs ?? null;
const outDirsOf = (tree: string) => (fs.existsSync(tree) ? fs.readdirSync(tree).filter((d) => OUT_DIR.test(d)) : []);

/**
 * Each tree keeps one out dir per configuration (config.ts: outDirFor), so switching suites
 * or --config-item values never rebuilds what another configuration built there. An out dir
 * about to be built for the first time starts from a copy instead of from nothing: one
 * whose .config is this one (this tree's, else the base tree's: make then compiles what the
 * series touches), or else the most recently built one of the same variant (make rebuilds
 * what the two configurations' difference touches). Only a build seeds: a build cache hit
 * leaves the tree alone. Copies are valid in another tree because kbuild's out dirs use a
 * relative srctree; the files the series changes are touched, so no object built from the
 * base's version of them can look up to date.
 */
export async function seedOutDir(rec: Recorder, baseTree: string, tree: string, outDir: string, dotConfig: string): Promise<void> {
  if (rec.dryRun || built(outDir) !== null) return;
  const variant = OUT_DIR.exec(path.basename(outDir))?.[1];
  if (!variant) return;
  const want = fs.readFileSync(dotConfig, 'utf8');
  const config = (d: string) => fs.readFileSync(path.join(d, '.config'), { encoding: 'utf8', flag: 'r' });
  const candidates = [...new Set([tree, baseTree])].flatMap((t) =>
    outDirsOf(t)
      .map((d) => path.join(t, d))
      .filter((d) => d !== outDir && fs.existsSync(path.join(d, '.config')))
      .map((dir) => ({ tree: t, dir, at: built(dir), same: config(dir) === want }))
      .filter((c): c is { tree: string; dir: string; at: number; same: boolean } => c.at !== null),
  );
  const from =
    candidates.find((c) => c.same && c.tree === tree) ??
    candidates.find((c) => c.same) ??
    candidates.filter((c) => OUT_DIR.exec(path.basename(c.dir))?.[1] === variant).sort((a, b) => b.at - a.at)[0];
  if (!from) return;
  const t0 = Date.now();
  const tmp = `${outDir}.tmp-${process.pid}`;
  // An out dir of the lab's old naming (kl-out-<variant>, one for all configurations) in
  // this tree is moved, not copied: it is this configuration's now.
  const legacy = from.tree === tree && from.same && path.basename(from.dir) === `kl-out-${variant}`;
  const take = async () => {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (legacy) fs.renameSync(from.dir, tmp);
    else await mustRun(rec, ['cp', '-a', from.dir, tmp], { what: `copy ${from.dir}`, timeout: 10 * 60_000 });
  };
  // Another run configuring or building in the base tree: wait for it. Runs on the base
  // never wait for a series tree, so holding this tree's lock meanwhile cannot deadlock.
  if (from.tree === tree) await take();
  else await withLock(treeUseLock(from.tree), take);
  repointToolDeps(path.join(tmp, 'tools'), [
    [from.dir, outDir],
    [from.tree, tree],
  ]);
  // This run's fragments, and its .config where it differs (an unchanged one keeps its
  // mtime: make does not run syncconfig for nothing).
  fs.rmSync(path.join(tmp, 'kl-fragments'), { recursive: true, force: true });
  if (fs.existsSync(path.join(outDir, 'kl-fragments'))) fs.cpSync(path.join(outDir, 'kl-fragments'), path.join(tmp, 'kl-fragments'), { recursive: true, preserveTimestamps: true });
  if (!from.same) fs.copyFileSync(dotConfig, path.join(tmp, '.config'));
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.renameSync(tmp, outDir);
  if (from.tree !== tree) {
    const base = (await mustRun(rec, ['git', '-C', baseTree, 'rev-parse', 'HEAD'], { what: 'git rev-parse (base)' })).trim();
    const head = (await mustRun(rec, ['git', '-C', tree, 'rev-parse', 'HEAD'], { what: 'git rev-parse (series)' })).trim();
    const now = new Date();
    for (const f of await changedFiles(rec, tree, base, head)) {
      if (fs.existsSync(path.join(tree, f))) fs.utimesSync(path.join(tree, f), now, now);
    }
  }
  const whose = from.tree === tree ? 'this tree\'s' : 'the base tree\'s';
  log(`out dir ${path.basename(outDir)} seeded from ${whose} ${path.basename(from.dir)} (${from.same ? 'the same configuration' : 'another configuration: make rebuilds what differs'}), ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

// Out dirs of a lab config are ~300 MB each (a --debug one ~1 GB): a tree keeps the most
// recently used few. The run holds the tree's lock, so none of them is being built.
const KEEP_OUT_DIRS = 6;

/**
 * Mark an out dir used now. In its tree, the KEEP_OUT_DIRS most recently used built out dirs
 * besides it stay; never-built ones (a config cache hit makes one: its fragments and a
 * .config) go, so they can never push out a build a new series could start from.
 */
export function useOutDir(tree: string, outDir: string, keep = KEEP_OUT_DIRS): void {
  if (!fs.existsSync(outDir)) return;
  const stamp = (d: string) => path.join(d, '.kl-used');
  const now = new Date();
  fs.closeSync(fs.openSync(stamp(outDir), 'a'));
  fs.utimesSync(stamp(outDir), now, now);
  const used = (d: string) => fs.statSync(stamp(d), { throwIfNoEntry: false })?.mtimeMs ?? fs.statSync(d).mtimeMs;
  const others = outDirsOf(tree)
    .map((d) => path.join(tree, d))
    .filter((d) => d !== outDir);
  const builtOnes = others.filter((d) => built(d) !== null).sort((a, b) => used(b) - used(a));
  for (const d of [...others.filter((d) => built(d) === null), ...builtOnes.slice(keep)]) {
    log(`pruning out dir ${d} (${built(d) === null ? 'never built' : `the ${keep} most recently used built ones of this tree stay`})`);
    fs.rmSync(d, { recursive: true, force: true });
  }
}

/**
 * The kernel's own objects name their sources relative to the out dir, but tools/objtool is
 * built with absolute paths: its .cmd files name the base tree. Left so, make would see
 * other command lines, rebuild objtool, and then every object (each depends on objtool).
 * Point them at the copy's tree, keeping their mtimes.
 */
function repointToolDeps(dir: string, moves: [string, string][]): void {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !/\.(cmd|d)$/.test(e.name)) continue;
    const f = path.join(e.parentPath, e.name);
    let text = fs.readFileSync(f, 'utf8');
    if (!moves.some(([from]) => text.includes(from))) continue;
    // the longest prefix first: the out dir, then the tree it is in
    for (const [from, to] of moves) text = text.split(`${from}/`).join(`${to}/`);
    const st = fs.statSync(f);
    fs.writeFileSync(f, text);
    fs.utimesSync(f, st.atime, st.mtime);
  }
}

/**
 * Sets are written against the base alone, so a set stacked on another often applies only
 * by git am --3way, which needs the blobs its patches' index lines name: those of the base
 * with the set's own earlier patches applied. Make them exist by applying each set alone to
 * a throwaway index of the base (git apply --cached writes the blobs, touches no tree).
 * Without this a stack applied only after each set had once been applied alone in the same
 * cache: the verdict depended on what earlier runs left behind.
 */
export async function primeBlobs(rec: Recorder, repo: string, sets: PatchSet[], base = 'HEAD'): Promise<void> {
  const index = path.join(repo, '.git', `kl-prime-${process.pid}.index`);
  const env = { GIT_INDEX_FILE: index };
  try {
    for (const set of sets) {
      await mustRun(rec, ['git', '-C', repo, 'read-tree', base], { what: 'git read-tree (priming the 3-way blobs)', env });
      for (const file of set.allPatches ?? set.patches) {
        // A patch that does not apply alone stops this set's priming; git am names it later.
        if ((await run(rec, ['git', '-C', repo, 'apply', '--cached', file], { env })).exitCode !== 0) break;
      }
    }
  } finally {
    fs.rmSync(index, { force: true });
  }
}

/** The lock a run holds while it configures and builds in a tree (pruning takes it too). */

// Each series gets its own worktree (~1.9 GB with its seeded out dir): keep the most recently
// used dozen, and never one used within the last hour (a run may be using it) - unless the
// disk runs short: then the least recently used go first, whatever their age, until
// KL_MIN_FREE_GIB (default 24) is free again. A busy hour of CI makes dozens of series trees;
// without this the cache filled the disk (CI, 2026-12-04).
const KEEP_TREES = 12;

const minFreeGiB = () => Number(process.env.KL_MIN_FREE_GIB ?? 24);

function freeGiB(dir: string): number {
  const st = fs.statfsSync(dir);
  return (st.bavail * st.bsize) / 2 ** 30;
}

export async function pruneTrees(rec: Recorder, repo: string, keep: number, inUse: string | null = null): Promise<void> {
  if (!fs.existsSync(paths.trees)) return;
  const trees = fs
    .readdirSync(paths.trees)
    .map((name) => path.join(paths.trees, name))
    .filter((t) => t !== inUse && fs.existsSync(path.join(t, '.kl-applied')))
    .map((t) => ({ t, used: fs.statSync(path.join(t, '.kl-applied')).mtimeMs }))
    .sort((a, b) => b.used - a.used);
  // least recently used first
  for (const [rank, { t, used }] of [...trees.entries()].reverse()) {
    const stale = rank >= keep && Date.now() - used >= 3600_000;
    // a tree used in the last minutes may be between one run's stages (or one test's revisions)
    const short = Date.now() - used >= 300_000 && freeGiB(paths.trees) < minFreeGiB();
    if (!stale && !short) continue;
    // a run configuring or building in it holds its lock: then it is not unused
    await ifUnlocked(treeUseLock(t), async () => {
      log(`pruning ${stale ? 'unused' : `least recently used (under ${minFreeGiB()} GiB free)`} patched tree ${t}`);
      await removeWorktree(rec, repo, t);
    });
  }
}

async function removeWorktree(rec: Recorder, repo: string, tree: string): Promise<void> {
  if (!fs.existsSync(tree)) return;
  await run(rec, ['git', '-C', repo, 'worktree', 'remove', '--force', tree], {});
  fs.rmSync(tree, { recursive: true, force: true });
  await run(rec, ['git', '-C', repo, 'worktree', 'prune'], {});
}
