// Two sets that each carry the same prerequisite (each must be correct on its own): stacked,
// the prerequisite is applied once, where the first set has it, and the stack applies.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { dropRepeatedPatches, loadPatchSet, patchId } from '../../harness/catalog.ts';

const GIT = ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false'];
const git = async (cwd: string, ...args: string[]) => (await execa('git', [...GIT, ...args], { cwd, env: { GIT_CONFIG_GLOBAL: '/dev/null' } })).stdout;
const lines = (n: number, edit: Record<number, string> = {}) => Array.from({ length: n }, (_, i) => edit[i + 1] ?? `line ${i + 1}`).join('\n') + '\n';

/** A base; set "first" = [prereq, A]; set "second" = [prereq again, B], each format-patch'ed on its own. */
async function scenario(): Promise<{ work: string; first: string; second: string }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-repeated-'));
  await git(work, 'init', '-q', '-b', 'base');
  fs.writeFileSync(path.join(work, 'f.c'), lines(40));
  await git(work, 'add', '-A');
  await git(work, 'commit', '-qm', 'base');
  const dirs: Record<string, string> = {};
  for (const [name, own] of [['first', { 30: 'first changed 30' }], ['second', { 38: 'second changed 38' }]] as const) {
    await git(work, 'checkout', '-q', '-B', name, 'base');
    fs.writeFileSync(path.join(work, 'f.c'), lines(40, { 5: 'prerequisite' }));
    await git(work, 'commit', '-qam', `prerequisite: change line 5\n\nCarried by ${name} too.`);
    fs.writeFileSync(path.join(work, 'f.c'), lines(40, { 5: 'prerequisite', ...own }));
    await git(work, 'commit', '-qam', `${name}: its own change`);
    dirs[name] = path.join(work, `set-${name}`);
    await git(work, 'format-patch', '-q', '-o', dirs[name]!, 'base');
  }
  await git(work, 'checkout', '-q', 'base');
  return { work, first: dirs.first!, second: dirs.second! };
}

test('a patch a later set repeats is applied once, where the earlier set has it; the stack applies', async (t) => {
  const { work, first, second } = await scenario();
  const a = loadPatchSet(first);
  const b = loadPatchSet(second);
  // format-patch numbering and blob ids differ; the change is the same
  t.not(fs.readFileSync(a.patches[0]!, 'utf8'), fs.readFileSync(b.patches[0]!, 'utf8'));
  t.is(patchId(a.patches[0]!), patchId(b.patches[0]!));
  t.not(patchId(a.patches[1]!), patchId(b.patches[1]!));

  const [x, y] = dropRepeatedPatches([a, b]);
  t.deepEqual(x!.patches, a.patches, 'the first set keeps every patch');
  t.is(x!.repeated, undefined);
  t.deepEqual(y!.patches, [b.patches[1]], 'the second set loses its copy of the prerequisite');
  t.deepEqual(y!.repeated, [{ file: b.patches[0], sameAs: `${a.name}/${path.basename(a.patches[0]!)}` }]);
  t.deepEqual(y!.allPatches, b.patches, 'the whole set is kept for priming');

  // The stack applies: each change once.
  for (const f of [...x!.patches, ...y!.patches]) await git(work, 'am', '-q', '--3way', f);
  t.is(fs.readFileSync(path.join(work, 'f.c'), 'utf8'), lines(40, { 5: 'prerequisite', 30: 'first changed 30', 38: 'second changed 38' }));

  // Either order: the set named first keeps it.
  const [p, q] = dropRepeatedPatches([b, a]);
  t.is(p!.patches.length, 2);
  t.deepEqual(q!.repeated?.map((r) => r.sameAs), [`${b.name}/${path.basename(b.patches[0]!)}`]);
  // One set alone is left as it is.
  t.is(dropRepeatedPatches([a])[0], a);
});
