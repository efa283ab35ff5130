// export-series: a set of ours as the mbox to post. Checked the way a reviewer would take
// it: b4 am, git am, and the lab's own --patch, each onto the pinned base, each giving the
// tree the set's patch files give.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { commonPin } from '../../harness/base.ts';
import { listPatchSets, loadPatchSet } from '../../harness/catalog.ts';
import { patchesStage } from '../../harness/stages/patches.ts';
import { sourceStage } from '../../harness/stages/source.ts';
import { lab } from './helpers.ts';

const sets = listPatchSets();
const rec = () => ({ commands: [] as string[][], dryRun: false });
const ID = ['-c', 'user.name=reviewer', '-c', 'user.email=reviewer@example.com'];
const git = async (args: string[], env: Record<string, string> = {}) => String((await execa('git', args, { env: { ...env, GIT_CONFIG_GLOBAL: '/dev/null' } })).stdout).trim();

/** The tree the set's patch files give on the base, applied in a scratch index. */
async function treeOfPatches(repo: string, baseTree: string, patches: string[]): Promise<string> {
  const env = { GIT_INDEX_FILE: path.join(os.tmpdir(), `kl-export-test-${process.pid}.index`) };
  try {
    await git(['-C', repo, 'read-tree', baseTree], env);
    for (const p of patches) await git(['-C', repo, 'apply', '--cached', p], env);
    return await git(['-C', repo, 'write-tree'], env);
  } finally {
    fs.rmSync(env.GIT_INDEX_FILE, { force: true });
  }
}

test.serial('export-series: each set as a threaded mbox with its cover letter, the same bytes twice; b4 am, git am --empty=drop and --patch give the set\'s tree', async (t) => {
  const src = await sourceStage(rec(), null, { pin: commonPin(sets.map(loadPatchSet)), want: { kind: 'pin' } });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-export-'));
  const wt = path.join(tmp, 'wt');
  try {
    for (const name of sets) {
      const set = loadPatchSet(name);
      const n = set.patches.length;
      const files = [path.join(tmp, `${name}.mbox`), path.join(tmp, `${name}-again.mbox`)];
      for (const f of files) {
        const r = await lab(['export-series', name, '--output', f]);
        t.is(r.exitCode, 0, r.stderr);
        t.is(r.stdout.trim(), f);
      }
      const mbox = fs.readFileSync(files[0]!, 'utf8');
      t.is(mbox, fs.readFileSync(files[1]!, 'utf8'), `${name}: same bytes twice`);

      // One cover letter and n patches, threaded under it.
      const split = path.join(tmp, `${name}-split`);
      fs.mkdirSync(split);
      t.is(await git(['mailsplit', `-o${split}`, files[0]!]), String(n + 1));
      const msgs = fs.readdirSync(split).sort().map((m) => fs.readFileSync(path.join(split, m), 'utf8'));
      const cover = msgs[0]!;
      const subject = fs.readFileSync(path.join(set.dir, 'cover-letter'), 'utf8').split('\n')[0]!;
      // format-patch's numbering: as wide as n (01/12, 00/12 for the cover letter)
      const num = (k: number) => String(k).padStart(String(n).length, '0');
      t.true(cover.includes(`\nSubject: [PATCH ${num(0)}/${n}] ${subject}\n`), `${name}: cover subject`);
      const coverId = /^Message-Id: (<[^>]+>)$/m.exec(cover)![1]!;
      for (const [i, m] of msgs.slice(1).entries()) {
        t.regex(m, new RegExp(`^Subject: \\[PATCH ${num(i + 1)}/${n}\\] `, 'm'));
        t.true(m.includes(`\nIn-Reply-To: ${coverId}\n`), `${name} ${i + 1}/${n} replies to the cover letter`);
      }
      t.regex(cover, /\n \d+ files? changed, \d+ insertions?\(\+\)/, `${name}: diffstat`);
      const baseCommit = /^base-commit: ([0-9a-f]{40})$/m.exec(cover)?.[1];
      t.truthy(baseCommit, `${name}: base-commit`);
      t.is(await git(['-C', src.repo, 'rev-parse', `${baseCommit}^{tree}`]), src.baseTree, `${name}: base-commit is the pinned base's tree`);

      const want = await treeOfPatches(src.repo, src.baseTree, set.patches);
      const reset = async () => {
        if (!fs.existsSync(wt)) await git(['-C', src.repo, 'worktree', 'add', '-q', '--detach', wt, baseCommit!]);
        await execa('git', ['-C', wt, 'am', '--abort'], { reject: false });
        await git(['-C', wt, 'checkout', '-q', '-f', '--detach', baseCommit!]);
        await git(['-C', wt, 'clean', '-qfdx']);
      };
      // git am: the cover letter has no diff, so it is dropped
      await reset();
      await git([...ID, '-C', wt, 'am', '-q', '--empty=drop', files[0]!]);
      t.is(await git(['-C', wt, 'rev-list', '--count', `${baseCommit}..HEAD`]), String(n), `${name}: git am made ${n} commits`);
      t.is(await git(['-C', wt, 'rev-parse', 'HEAD^{tree}']), want, `${name}: git am gives the set's tree`);
      // b4 am: it finds the series in the thread and writes an mbox for git am
      const b4out = path.join(tmp, `${name}-b4`);
      fs.mkdirSync(b4out);
      // --offline-mode: no attestation lookups; stdin closed (b4 reads a piped stdin as the mbox)
      const b4 = await execa('b4', ['--offline-mode', '--no-stdin', 'am', '-m', files[0]!, '-o', b4out], { reject: false, cwd: tmp, stdin: 'ignore', timeout: 120_000 });
      t.is(b4.exitCode, 0, `b4 am: ${b4.stderr}`);
      t.regex(String(b4.stderr), new RegExp(`Total patches: ${n}`));
      const mbx = fs.readdirSync(b4out).find((f) => f.endsWith('.mbx'));
      t.truthy(mbx, `${name}: b4 am wrote an .mbx`);
      await reset();
      await git([...ID, '-C', wt, 'am', '-q', path.join(b4out, mbx!)]);
      t.is(await git(['-C', wt, 'rev-parse', 'HEAD^{tree}']), want, `${name}: b4 am gives the set's tree`);
      // --patch takes the mbox back
      const back = await patchesStage(rec(), src, [loadPatchSet(files[0]!)]);
      t.is(await git(['-C', back.tree, 'rev-parse', 'HEAD^{tree}']), want, `${name}: --patch ${path.basename(files[0]!)} gives the set's tree`);
    }
  } finally {
    await execa('git', ['-C', src.repo, 'worktree', 'remove', '--force', wt], { reject: false });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('export-series: no set, a path, an unknown set and --output without a file are usage errors (exit 2)', async (t) => {
  for (const [args, re] of [
    [['export-series'], /export-series takes one set name/],
    [['export-series', './kernel-patches/fused'], /takes one of our sets by name, not a path/],
    [['export-series', 'nosuch'], /unknown patch set 'nosuch'/],
    [['export-series', 'fused', '--output'], /--output needs a file name/],
  ] as [string[], RegExp][]) {
    const r = await lab(args);
    t.is(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, re);
  }
});
