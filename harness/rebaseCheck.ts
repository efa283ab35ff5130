// rebase-check: how do our sets fare on another base (by default the newest linux-source
// in the Debian archive)? Per set, and for the whole stack: "applies", "applies with
// 3-way" or "conflicts at <patch>: <file> <hunk>". This is how we hear about Debian's next
// point release before a user does. Nothing is built; the worktrees are removed.
import fs from 'node:fs';
import path from 'node:path';
import { commonPin, parseBaseOption, type BaseRequest } from './base.ts';
import { dropRepeatedPatches, listPatchSets, loadPatchSet, type PatchSet } from './catalog.ts';
import { UsageError } from './errors.ts';
import { mustRun, run, type Recorder } from './exec.ts';
import { log } from './log.ts';
import { paths } from './paths.ts';
import { applyPatch, primeBlobs } from './stages/patches.ts';
import { sourceStage } from './stages/source.ts';

export type Applies = { status: 'applies' } | { status: '3way'; first: string } | { status: 'conflict'; patch: string; where: string };

export interface RebaseCheckLine {
  name: string; // a set, or "stack a,b,c"
  patches: number;
  result: Applies;
}

export interface RebaseCheck {
  base: string; // Debian version checked against
  pinned: string[]; // the pins of the sets, as "version (file)"
  lines: RebaseCheckLine[];
}

export function formatLine(l: RebaseCheckLine): string {
  const r = l.result;
  const what = r.status === 'applies' ? 'applies' : r.status === '3way' ? `applies with 3-way (from ${r.first})` : `conflicts at ${r.patch}: ${r.where}`;
  return `${l.name}: ${what}`;
}

/**
 * Apply sets one patch at a time on the check's worktree, reset to the base first: a patch
 * that `git apply --check` accepts applies as it is, any other needs git am's 3-way merge.
 */
async function tryApply(rec: Recorder, repo: string, tree: string, sets: PatchSet[], pinTree: string | null): Promise<Applies> {
  // --quit, not --abort: an am that stopped before applying anything (no blobs for the
  // 3-way) leaves a state --abort does not always remove, and every later am refuses.
  await run(rec, ['git', '-C', tree, 'am', '--quit']);
  await mustRun(rec, ['git', '-C', tree, 'reset', '-q', '--hard', 'base'], { what: 'git reset (rebase-check)' });
  await mustRun(rec, ['git', '-C', tree, 'clean', '-q', '-fdx'], { what: 'git clean (rebase-check)' });
  // On another base than the pin, every patch's 3-way needs the pin's blobs plus those of
  // the set's earlier patches: prime from the pinned tree (reachable through alternates).
  if (pinTree) await primeBlobs(rec, repo, sets, pinTree);
  else if (sets.length > 1) await primeBlobs(rec, repo, sets);
  let first: string | null = null;
  for (const set of sets) {
    for (const file of set.patches) {
      const name = `${set.name}/${path.basename(file)}`;
      const plain = (await run(rec, ['git', '-C', tree, 'apply', '--check', file])).exitCode === 0;
      const where = await applyPatch(rec, tree, file);
      if (where !== null) {
        await run(rec, ['git', '-C', tree, 'am', '--quit']);
        return { status: 'conflict', patch: name, where };
      }
      if (!plain) first ??= name;
    }
  }
  return first ? { status: '3way', first } : { status: 'applies' };
}

export async function rebaseCheck(opts: { base: string; patch: string[] | null }): Promise<RebaseCheck> {
  const names = opts.patch ?? listPatchSets();
  if (names.length === 0 || names.includes('none')) throw new UsageError('rebase-check needs patch sets', 'give --patch <set[,set...]>, or nothing for every set of ours');
  const sets = names.map(loadPatchSet);
  const rec: Recorder = { commands: [], dryRun: false };
  // Each set alone may pin its own base; the check is against one base for all of them.
  const pins = [...new Set(sets.map((s) => (s.base ? `${s.base.version} (${s.base.file})` : 'none')))];
  const req: BaseRequest = { pin: commonPinOrFirst(sets), want: parseBaseOption(opts.base) };
  const src = await sourceStage(rec, null, req);
  const version = src.debian?.version ?? src.version;
  log(`rebase-check against ${src.baseDesc}`);
  // The sets' index lines name blobs of the pinned base: lend its objects to the checked
  // repo for the check (git alternates; removed after), so git am --3way can merge as it
  // would for a developer who rebases with both bases in one repo.
  let pinTree: string | null = null;
  const alternates = path.join(src.repo, '.git', 'objects', 'info', 'alternates');
  if (src.debian && !src.debian.pinned) {
    const pinned = await sourceStage(rec, null, { pin: req.pin, want: { kind: 'pin' } });
    fs.mkdirSync(path.dirname(alternates), { recursive: true });
    fs.writeFileSync(alternates, `${path.join(pinned.repo, '.git', 'objects')}\n`);
    pinTree = pinned.baseTree;
  }
  const lines: RebaseCheckLine[] = [];
  // One worktree for every check, reset in between (a fresh kernel worktree costs a minute).
  const tree = path.join(paths.trees, `rebase-check-${process.pid}`);
  fs.rmSync(tree, { recursive: true, force: true });
  fs.mkdirSync(paths.trees, { recursive: true });
  await run(rec, ['git', '-C', src.repo, 'worktree', 'prune']);
  await mustRun(rec, ['git', '-C', src.repo, 'worktree', 'add', '-q', '--detach', tree, 'base'], { what: 'git worktree add (rebase-check)' });
  try {
    for (const set of sets) lines.push({ name: set.name, patches: set.patches.length, result: await tryApply(rec, src.repo, tree, [set], pinTree) });
    if (sets.length > 1) {
      const stack = dropRepeatedPatches(sets); // a prerequisite two sets carry is applied once
      lines.push({ name: `stack ${names.join(',')}`, patches: stack.reduce((n, s) => n + s.patches.length, 0), result: await tryApply(rec, src.repo, tree, stack, pinTree) });
    }
  } finally {
    if (pinTree) fs.rmSync(alternates, { force: true });
    await run(rec, ['git', '-C', src.repo, 'worktree', 'remove', '--force', tree]);
    fs.rmSync(tree, { recursive: true, force: true });
    await run(rec, ['git', '-C', src.repo, 'worktree', 'prune']);
  }
  return { base: version, pinned: pins, lines };
}

function commonPinOrFirst(sets: PatchSet[]) {
  try {
    return commonPin(sets);
  } catch {
    return sets.find((s) => s.base)!.base!;
  }
}
