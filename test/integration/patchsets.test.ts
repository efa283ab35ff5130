// Every patch set of ours, end to end: applies alone to the base, passes checkpatch
// --strict, the stacked kernel passes every suite the sets name (none skipped), and every
// patch builds on its own prefix.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import type { PatchBuild } from '../../harness/buildEach.ts';
import { dropRepeatedPatches, listPatchSets, loadPatchSet } from '../../harness/catalog.ts';
import { patchesStage } from '../../harness/stages/patches.ts';
import { sourceStage } from '../../harness/stages/source.ts';
import { commonPin } from '../../harness/base.ts';
import { DEFAULT_SUITES } from '../../harness/plan.ts';
import { lab } from './helpers.ts';

const sets = listPatchSets();
const rec = () => ({ commands: [] as string[][], dryRun: false });
const pinned = () => ({ pin: commonPin(sets.map(loadPatchSet)), want: { kind: 'pin' as const } });

test.serial('each patch set applies alone to the base with git am --3way', async (t) => {
  t.true(sets.length > 0, 'there are patch sets');
  const src = await sourceStage(rec(), null, pinned());
  for (const name of sets) {
    const r = await patchesStage(rec(), src, [loadPatchSet(name)]);
    t.is(r.patches.length, loadPatchSet(name).patches.length, `${name}: every patch applied`);
  }
});

test.serial('every patch passes checkpatch --strict', async (t) => {
  const src = await sourceStage(rec(), null, pinned());
  for (const name of sets) {
    for (const p of loadPatchSet(name).patches) {
      // UNKNOWN_COMMIT_ID only: the lab's source repo is the tarball committed once, with no
      // upstream history, so every real upstream id a Fixes: tag names is "unknown" there. The
      // tag's form (12 hex digits, the quoted subject) is GIT_COMMIT_ID and still checked.
      const r = await execa('perl', [path.join(src.repo, 'scripts', 'checkpatch.pl'), '--strict', '--no-tree', '--quiet', '--no-summary', '--ignore', 'UNKNOWN_COMMIT_ID', p], { cwd: src.repo, reject: false });
      t.is(r.exitCode, 0, `${name}/${path.basename(p)}:\n${r.stdout}`);
    }
  }
});

test.serial('the stacked kernel carrying every set passes all their suites, none skipped; against the base only feature tests differ', async (t) => {
  const stack = sets.join(',');
  const r = await lab(['--patch', stack, '--compare-baseline']);
  const run = r.run!;
  t.is(r.exitCode, 0, `${r.stdout}\n${r.stderr.split('\n').slice(-15).join('\n')}`);
  t.is(run.status, 'pass');
  t.deepEqual(run.kernel!.patches.map((p) => p.set).filter((s, i, a) => a.indexOf(s) === i), sets);
  const suites = [...new Set([...DEFAULT_SUITES, ...sets.flatMap((s) => loadPatchSet(s).defaultSuites)])];
  t.deepEqual([...new Set(run.tests.map((x) => x.suite))].sort(), suites.sort());
  const skipped = run.tests.filter((x) => x.status === 'skip');
  t.deepEqual(skipped.map((x) => `${x.suite}/${x.name}: ${x.reason}`), [], 'nothing skipped on the kernel that has every feature');
  t.deepEqual(run.crashes, []);
  // The base runs the same suites: what the sets add skips there, nothing else changes.
  const base = run.baseline!;
  t.is(base.status, 'pass');
  t.deepEqual(base.newCrashes, []);
  const unexpected = base.differences.filter((d) => !(d.patched === 'pass' && d.base === 'skip'));
  t.deepEqual(unexpected, [], 'only tests of the sets\' features change status');
  t.true(base.differences.some((d) => d.test === 'ublk/fio_verify_loop_fused_zc'), 'fused-zc skips on the base');
  t.log(`${run.tests.length} tests on ${stack} in ${r.seconds.toFixed(0)} s; ${base.differences.length} skip on the base`);
});

test.serial('every patch of every set builds on its own prefix of the stack (the series bisect)', async (t) => {
  // After the stacked run above: same .config, so ccache and the incremental out dir make it minutes.
  const r = await lab(['build-each', '--patch', sets.join(',')]);
  t.is(r.exitCode, 0, `${r.stdout}\n${r.stderr.split('\n').slice(-10).join('\n')}`);
  const out = JSON.parse(fs.readFileSync(path.join(r.dir!, 'build-each.json'), 'utf8')) as { results: PatchBuild[] };
  // a patch two sets carry (fused and ublk-zc share two) is built once, where it comes first
  t.is(out.results.length, dropRepeatedPatches(sets.map((s) => loadPatchSet(s))).reduce((n, s) => n + s.patches.length, 0));
  t.deepEqual(out.results.filter((x) => x.status !== 'pass').map((x) => `${x.set}/${x.patch}: ${x.error}`), []);
  t.log(`build-each of ${out.results.length} patches: ${r.seconds.toFixed(0)} s`);
});

test.serial('with every set applied, scripts/bpf_doc.py still generates the BPF helper header (libbpf, resolve_btfids, BTF builds)', async (t) => {
  // What tools/lib/bpf's Makefile runs for bpf_helper_defs.h; a CONFIG_DEBUG_INFO_BTF=y build needs it.
  const src = await sourceStage(rec(), null, pinned());
  const r = await patchesStage(rec(), src, sets.map(loadPatchSet));
  for (const hdr of ['include/uapi/linux/bpf.h', 'tools/include/uapi/linux/bpf.h']) {
    const doc = await execa('python3', [path.join(r.tree, 'scripts', 'bpf_doc.py'), '--header', '--file', path.join(r.tree, hdr)], { reject: false });
    t.is(doc.exitCode, 0, `${hdr}: ${doc.stderr}`);
    t.regex(doc.stdout, /^struct io_uring_cqe_bpf_ctx;$/m, `${hdr}: the context type is forward-declared`);
    t.regex(doc.stdout, /static long \(\* const bpf_io_uring_cqe_set_res\)\(struct io_uring_cqe_bpf_ctx \*ctx, __s32 res\) = \(void \*\) 256;/, hdr);
  }
});
