// Stacking sets on an empty cache: a set written against the base alone applies on top of
// another only by git am's 3-way merge, which needs blobs no earlier run has to have made.
// A small synthetic base and two sets reproduce the shape of fused + ublk-zc 0003.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';

const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-stack-cache-'));
process.env.KERNEL_LAB_CACHE = cache; // before the harness computes its paths

const GIT = ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false'];
const git = async (cwd: string, ...args: string[]) => (await execa('git', [...GIT, ...args], { cwd, env: { GIT_CONFIG_GLOBAL: '/dev/null' } })).stdout;
const lines = (n: number, edit: Record<number, string> = {}) => Array.from({ length: n }, (_, i) => edit[i + 1] ?? `line ${i + 1}`).join('\n') + '\n';

/**
 * base; set A edits line 10; set B edits line 25 (applies as it is on A: no 3-way, so the
 * blob of base+B1 is never written), then line 8, whose context holds line 10.
 */
async function scenario(): Promise<{ base: string; a: string; b: string }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-stack-work-'));
  await git(work, 'init', '-q', '-b', 'base');
  fs.writeFileSync(path.join(work, 'f.c'), lines(30));
  await git(work, 'add', '-A');
  await git(work, 'commit', '-qm', 'base');
  const sets: Record<string, string> = {};
  for (const [name, edits] of [['a', [{ 10: 'A changed 10' }]], ['b', [{ 25: 'B changed 25' }, { 25: 'B changed 25', 8: 'B changed 8' }]]] as const) {
    await git(work, 'checkout', '-q', '-B', name, 'base');
    for (const [i, e] of edits.entries()) {
      fs.writeFileSync(path.join(work, 'f.c'), lines(30, e));
      await git(work, 'commit', '-qam', `${name}: change ${i + 1}`);
    }
    sets[name] = path.join(work, `set-${name}`);
    await git(work, 'format-patch', '-q', '-o', sets[name]!, `base..${name}`);
  }
  // The base repo as the lab's source stage makes it: the base commit's objects only.
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-stack-base-'));
  await git(base, 'init', '-q', '-b', 'base');
  await git(work, 'checkout', '-q', 'base');
  fs.copyFileSync(path.join(work, 'f.c'), path.join(base, 'f.c'));
  await git(base, 'add', '-A');
  await git(base, 'commit', '-qm', 'base');
  return { base, a: sets.a!, b: sets.b! };
}

test('a stack that needs a 3-way merge applies as the first command on an empty cache', async (t) => {
  const { base, a, b } = await scenario();
  const { loadPatchSet } = await import('../../harness/catalog.ts');
  const { patchesStage } = await import('../../harness/stages/patches.ts');
  const { paths } = await import('../../harness/paths.ts');
  t.is(paths.cacheRoot, cache);
  const baseTree = await git(base, 'rev-parse', 'HEAD^{tree}');
  const src = { repo: base, baseDesc: 'synthetic', baseSha256: baseTree, baseTree, version: 'test', debian: null };
  const rec = { commands: [] as string[][], dryRun: false };
  // The control: without the blobs, git am --3way alone cannot apply b's second patch.
  const ctl = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-stack-ctl-'));
  await git(base, 'worktree', 'add', '-q', '--detach', ctl, 'HEAD');
  for (const p of [...fs.readdirSync(a).map((f) => path.join(a, f)), ...fs.readdirSync(b).map((f) => path.join(b, f))]) {
    const r = await execa('git', [...GIT, '-C', ctl, 'am', '-q', '--3way', p], { reject: false });
    if (r.exitCode !== 0) {
      t.regex(`${r.stderr}${r.stdout}`, /sha1 information is lacking|could not build fake ancestor/, 'fails for want of the blobs');
      t.regex(p, /0002-b-change-2/);
      break;
    }
    t.notRegex(p, /0002-b-change-2/, 'the control must fail at b 2/2, else this test proves nothing');
  }
  await execa('git', ['-C', ctl, 'am', '--abort'], { reject: false });
  // The lab's stage, on the same fresh object store: applies, and the result has all three edits.
  const r = await patchesStage(rec, src, [loadPatchSet(a), loadPatchSet(b)]);
  t.is(r.patches.length, 3);
  const out = fs.readFileSync(path.join(r.tree, 'f.c'), 'utf8');
  for (const want of ['A changed 10', 'B changed 25', 'B changed 8']) t.true(out.includes(want), want);
  t.true(r.tree.startsWith(cache), 'the tree is in the test cache');
});
