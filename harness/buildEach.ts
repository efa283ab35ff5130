// build-each: does every patch of a series build? (What lore's build bots ask first: a
// series must bisect.) The patches are applied one at a time on a worktree of the base
// kept for this purpose, and after each one the kernel is built incrementally (ccache,
// one out dir), with the .config the whole series gets in a lab run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { PatchSet } from './catalog.ts';
import { BuildFailure, UsageError } from './errors.ts';
import { mustRun, run, type Recorder } from './exec.ts';
import { withLock } from './lock.ts';
import { log } from './log.ts';
import { paths } from './paths.ts';
import { plan } from './plan.ts';
import { kernelTargets, makeArgv, makeWithProgress } from './stages/build.ts';
import { configStage } from './stages/config.ts';
import { applyPatch, patchSubject, primeBlobs } from './stages/patches.ts';
import { createRunDir, newRunId } from './stages/results.ts';
import { sourceStage } from './stages/source.ts';
import type { RunOptions } from './types.ts';


export interface PatchBuild {
  set: string;
  patch: string; // file name
  subject: string;
  status: 'pass' | 'fail' | 'not-built';
  seconds: number;
  error?: string; // the build log's cause line
}

export interface BuildEachResult {
  dir: string;
  results: PatchBuild[];
  exitCode: number;
}

export function buildEachMarkdown(sets: string[], results: PatchBuild[]): string {
  const rows = results.map((r, i) => `| ${i + 1} | ${r.set}/${r.patch} | ${r.status === 'pass' ? 'builds' : r.status === 'fail' ? '**FAILS**' : 'not built'} | ${r.seconds.toFixed(0)} | ${(r.error ?? '').replace(/\|/g, '\\|')} |`);
  const bad = results.filter((r) => r.status === 'fail');
  return [
    `# build-each: ${sets.join(',')}`,
    '',
    bad.length === 0 ? `Every one of the ${results.length} patches builds on its own prefix of the series.` : `${bad.length} of ${results.length} patches do not build: the series does not bisect.`,
    '',
    '| # | patch | result | s | first error |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

/** Reset the worktree to the base commit, keeping the out dirs (incremental builds). */
async function resetToBase(rec: Recorder, tree: string, base: string): Promise<void> {
  await run(rec, ['git', '-C', tree, 'am', '--quit'], {}); // drop any am state; the reset restores the tree
  await mustRun(rec, ['git', '-C', tree, 'reset', '-q', '--hard', base], { what: 'git reset (build-each tree)' });
  await mustRun(rec, ['git', '-C', tree, 'clean', '-q', '-fdx', '-e', '/kl-out-*'], { what: 'git clean (build-each tree)' });
}

async function applyOne(rec: Recorder, tree: string, set: PatchSet, file: string): Promise<void> {
  const where = await applyPatch(rec, tree, file);
  if (where !== null) throw new UsageError(`patch ${set.name}/${path.basename(file)} ("${patchSubject(file)}") does not apply: ${where}`, 'rebase the series on the base');
}

export async function buildEach(opts: RunOptions): Promise<BuildEachResult> {
  const p = plan(opts);
  if (p.sets.length === 0) throw new UsageError('build-each needs a patch series', 'give --patch <set[,set...]|path>');
  const r: Recorder = { commands: [], dryRun: false };
  const src = await sourceStage(r, opts.kernelSrc, p.base);
  const base = (await mustRun(r, ['git', '-C', src.repo, 'rev-parse', 'HEAD'], { what: 'git rev-parse (base)' })).trim();
  const id = newRunId('build-each');
  const dir = createRunDir(opts.resultsDir, id, true);
  const buildLog = path.join(dir, 'build.log');
  log(`build-each ${id}: results in ${dir}`);
  const key = crypto.createHash('sha256').update(src.baseTree).digest('hex').slice(0, 16);
  const tree = path.join(paths.trees, `each-${key}`);
  const all = p.sets.flatMap((set) => set.patches.map((file) => ({ set, file })));
  const results: PatchBuild[] = all.map(({ set, file }) => ({ set: set.name, patch: path.basename(file), subject: patchSubject(file), status: 'not-built', seconds: 0 }));

  await withLock(`tree-each-${key}`, async () => {
    if (!fs.existsSync(path.join(tree, '.git'))) {
      fs.rmSync(tree, { recursive: true, force: true });
      fs.mkdirSync(paths.trees, { recursive: true });
      await mustRun(r, ['git', '-C', src.repo, 'worktree', 'prune'], { what: 'git worktree prune' });
      await mustRun(r, ['git', '-C', src.repo, 'worktree', 'add', '-q', '--detach', tree, base], { what: 'git worktree add (build-each tree)' });
    }
    if (p.sets.length > 1) await primeBlobs(r, src.repo, p.sets);
    // The .config of the whole series (as a lab run makes it), kept aside for every step.
    await resetToBase(r, tree, base);
    for (const { set, file } of all) await applyOne(r, tree, set, file);
    const cfg = await configStage(r, tree, { debug: opts.debug, kmemleak: opts.kmemleak ?? false }, p.fragments);
    const wanted = path.join(cfg.outDir, 'kl-each.config');
    fs.copyFileSync(cfg.dotConfig, wanted);
    fs.copyFileSync(cfg.dotConfig, path.join(dir, 'config'));
    await resetToBase(r, tree, base);
    for (const [i, { set, file }] of all.entries()) {
      const res = results[i]!;
      await applyOne(r, tree, set, file);
      fs.copyFileSync(wanted, cfg.dotConfig);
      fs.appendFileSync(buildLog, `\n===== ${i + 1}/${all.length} ${set.name}/${path.basename(file)}\n`);
      const t0 = Date.now();
      try {
        await makeWithProgress(r, tree, makeArgv(cfg.outDir, ['olddefconfig']), buildLog, `olddefconfig after ${res.patch}`);
        // a patch's modules build too: a driver built =m breaks the series as surely as a built-in one
        await makeWithProgress(r, tree, makeArgv(cfg.outDir, kernelTargets(fs.readFileSync(cfg.dotConfig, 'utf8'))), buildLog, `build after ${i + 1}/${all.length} ${res.patch}`);
        res.status = 'pass';
      } catch (e) {
        if (!(e instanceof BuildFailure)) throw e; // disk full, OOM, a missing tool: the lab's, exit 3
        res.status = 'fail';
        res.error = e.errorLine ?? `make exited ${e.makeExit} with no error line`;
      }
      res.seconds = (Date.now() - t0) / 1000;
      log(`${i + 1}/${all.length} ${set.name}/${res.patch}: ${res.status === 'pass' ? 'builds' : `FAILS: ${res.error}`} (${res.seconds.toFixed(0)} s)`);
      // A failed step stops the walk: what follows it builds on broken code.
      if (res.status === 'fail') break;
    }
    await resetToBase(r, tree, base);
  });
  fs.writeFileSync(path.join(dir, 'build-each.json'), `${JSON.stringify({ sets: p.sets.map((s) => s.name), base: src.baseDesc, debug: opts.debug, results }, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'summary.md'), buildEachMarkdown(p.sets.map((s) => s.name), results));
  return { dir, results, exitCode: results.every((x) => x.status === 'pass') ? 0 : 1 };
}
