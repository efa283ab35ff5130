// A verdict you can quote: the pinned base, honest skips, and nothing the guest says
// reaching the host's files. Real kernels, real QEMU, the real Debian archive.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { listPatchSets } from '../../harness/catalog.ts';
import { repoRoot } from '../../harness/paths.ts';
import { errorLines, lab } from './helpers.ts';

const fixture = (name: string) => path.join(repoRoot, 'test', 'fixtures', name);

test('a pinned base the archive no longer has: exit 3, one line naming it and the way out, nothing built', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-gone-'));
  fs.copyFileSync(path.join(fixture('claims-fused'), fs.readdirSync(fixture('claims-fused')).find((f) => f.endsWith('.patch'))!), path.join(dir, '0001.patch'));
  fs.writeFileSync(path.join(dir, 'base.json'), JSON.stringify({ package: 'linux-source-6.12', version: '6.12.1-1~deb12u1', sha256: '0'.repeat(64) }));
  const r = await lab(['--patch', dir, '--suite', 'smoke']);
  t.is(r.exitCode, 3, r.stderr);
  const lines = errorLines(r.stderr);
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0]!, /linux-source-6\.12 6\.12\.1-1~deb12u1, the pinned base \(\S+base\.json\), is not in the Debian archive any more \(run with --base latest, or rebase the set/);
  t.is(r.run?.kernel, undefined, 'nothing built');
  t.is(r.run?.status, 'error');
  t.regex(r.run?.reason ?? '', /^infrastructure error: .*not in the Debian archive/);
});

test('rebase-check prints one line per set and one for the stack, against the newest base in the archive', async (t) => {
  const r = await lab(['rebase-check']);
  const sets = listPatchSets();
  const out = r.stdout.trim().split('\n');
  t.regex(out[0]!, /^base 6\.12\.\d+-\S+ \(pinned: /, r.stderr);
  const verdicts = out.slice(1);
  t.deepEqual(verdicts.map((l) => l.split(':')[0]), [...sets, `stack ${sets.join(',')}`]);
  for (const l of verdicts) t.regex(l, /^[^:]+: (applies|applies with 3-way \(from \S+\/\S+\.patch\)|conflicts at \S+\/\S+\.patch: .+)$/);
  const conflicts = verdicts.filter((l) => / conflicts at /.test(l)).length;
  t.is(r.exitCode, conflicts > 0 ? 1 : 0, r.stderr);
  t.log(out.join('\n'));
});

test('a guest that writes a ../ test marker to the console creates nothing outside the run directory', async (t) => {
  const tag = `kl-escape-${process.pid}-${Date.now()}`;
  const target = path.join(os.tmpdir(), tag);
  const r = await lab(['--patch', 'none', '--exec', `echo "kl: test-start x/../../../../../../../..${target}" > /dev/kmsg; echo hi; echo "kl: test-end x/../../../../../../../..${target}" > /dev/kmsg`]);
  t.is(r.exitCode, 0, r.stderr.split('\n').slice(-10).join('\n'));
  t.false(fs.existsSync(`${target}.log`), `${target}.log was written`);
  t.false(fs.readdirSync(os.tmpdir()).some((f) => f.startsWith(tag)));
  const kmsg = fs.readdirSync(path.join(r.dir!, 'kmsg'));
  t.deepEqual(kmsg, ['exec__command.log'], 'only the planned test has a kernel message file');
  t.regex(r.stderr, /a test marker for .*which the run did not plan: ignored/);
});

test('a feature test that SKIPs on a kernel whose set claims the feature fails the run (a skip is not a pass)', async (t) => {
  // claims-fused: its features file says "fused", its one patch changes no code.
  const r = await lab(['--patch', fixture('claims-fused'), '--suite', 'fused']);
  t.is(r.exitCode, 1, r.stderr.split('\n').slice(-10).join('\n'));
  const run = r.run!;
  t.is(run.status, 'fail');
  t.deepEqual(run.kernel!.features, ['fused']);
  const probe = run.tests.find((x) => x.name === 'probe_reports_fused_cmd')!;
  t.is(probe.status, 'fail');
  t.regex(probe.reason!, /^skipped although the run applies fused: /);
  t.true(run.tests.every((x) => x.status !== 'skip' && x.status !== 'pass'), 'no fused test passes or skips on a kernel without fused');
  t.regex(fs.readFileSync(path.join(r.dir!, 'summary.md'), 'utf8'), /skipped although the run applies fused/);
});

test('a patch that breaks compilation is the patch\'s failure: exit 1, status fail, file:line of the error in the reason', async (t) => {
  // The first two patches of the unbisectable fixture: 0002 uses an undeclared name.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-broken-'));
  for (const f of fs.readdirSync(fixture('unbisectable-series')).filter((x) => /^000[12]-/.test(x))) fs.copyFileSync(path.join(fixture('unbisectable-series'), f), path.join(dir, f));
  const r = await lab(['--patch', dir, '--suite', 'smoke']);
  t.is(r.exitCode, 1, r.stderr.split('\n').slice(-10).join('\n'));
  const run = r.run!;
  t.is(run.status, 'fail');
  t.regex(run.reason!, /^build failed \(exit \d+\): \.\.\/io_uring\/nop\.c:\d+:\d+: error: .*no_such_default/);
  t.deepEqual(run.tests, [], 'nothing booted');
  t.regex(errorLines(r.stderr)[0]!, /^kernel-lab: FAIL: build failed .*io_uring\/nop\.c:\d+/);
  for (const f of ['run.json', 'summary.md', 'junit.xml', 'build.log']) t.true(fs.existsSync(path.join(r.dir!, f)), `${f} written`);
});

test('--kernel-src on a tree built in place: configures and builds out of tree in the cache, and the user\'s tree is not touched', async (t) => {
  // A checkout of the base with what `make` in place leaves behind (.config, include/generated, objects).
  const { sourceStage } = await import('../../harness/stages/source.ts');
  const { commonPin } = await import('../../harness/base.ts');
  const { execa } = await import('execa');
  const src = await sourceStage({ commands: [], dryRun: false }, null, { pin: commonPin([]), want: { kind: 'pin' } });
  const user = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-user-tree-'));
  await execa('git', ['-C', src.repo, 'worktree', 'add', '-q', '--detach', path.join(user, 'linux'), 'base']);
  const tree = path.join(user, 'linux');
  try {
    const artifacts: Record<string, string> = {
      '.config': 'CONFIG_64BIT=y\n# an in-place config the lab must not use\n',
      'include/generated/autoconf.h': '#define CONFIG_64BIT 1\n',
      'include/config/auto.conf': 'CONFIG_64BIT=y\n',
      'arch/x86/include/generated/asm/cpufeaturemasks.h': '/* generated */\n',
      'kernel/fork.o': 'not an object',
      'vmlinux': 'not a kernel',
    };
    for (const [f, text] of Object.entries(artifacts)) {
      fs.mkdirSync(path.dirname(path.join(tree, f)), { recursive: true });
      fs.writeFileSync(path.join(tree, f), text);
    }
    const before = (await execa('git', ['-C', tree, 'status', '--porcelain', '--ignored'])).stdout;
    const mtimes = Object.keys(artifacts).map((f) => fs.statSync(path.join(tree, f)).mtimeMs);
    const r = await lab(['--kernel-src', tree, '--patch', 'none', '--suite', 'smoke']);
    t.is(r.exitCode, 0, r.stderr.split('\n').slice(-10).join('\n'));
    t.is(r.run!.base!.debian, null);
    t.true(r.run!.kernel!.cached, 'the copy is the base, byte for byte: the same kernel as the pinned base, from the cache');
    t.is((await execa('git', ['-C', tree, 'status', '--porcelain', '--ignored'])).stdout, before, 'the user\'s tree is as it was');
    t.deepEqual(Object.keys(artifacts).map((f) => fs.statSync(path.join(tree, f)).mtimeMs), mtimes);
    t.deepEqual(fs.readdirSync(tree).filter((d) => d.startsWith('kl-out')), [], 'nothing built in the user\'s tree');
  } finally {
    // the lab's copy of this one-off tree (src/tree-<hash of its path>) would only fill the cache
    const { paths } = await import('../../harness/paths.ts');
    const { createHash } = await import('node:crypto');
    const copy = path.join(paths.srcCache, `tree-${createHash('sha256').update(fs.realpathSync(tree)).digest('hex').slice(0, 16)}`);
    fs.rmSync(copy, { recursive: true, force: true });
    fs.rmSync(`${copy}.used`, { force: true });
    await execa('git', ['-C', src.repo, 'worktree', 'remove', '--force', tree], { reject: false });
    fs.rmSync(user, { recursive: true, force: true });
  }
});

test('on the base, a feature suite is skipped by the host, and the guest reports the host\'s reason word for word', async (t) => {
  const r = await lab(['--patch', 'none', '--suite', 'fused']);
  t.is(r.exitCode, 0, r.stderr.split('\n').slice(-10).join('\n'));
  const run = r.run!;
  t.is(run.status, 'pass');
  t.true(run.tests.length > 0);
  const reason = "needs patch feature 'fused' (run with --patch fused)";
  for (const x of run.tests) t.like(x, { suite: 'fused', status: 'skip', reason }, x.name);
  // What the guest itself printed (results.ktap is its stream), not the host's re-judged record.
  const ktap = fs.readFileSync(path.join(r.dir!, 'results.ktap'), 'utf8');
  const skips = ktap.split('\n').filter((l) => /# SKIP /.test(l));
  t.is(skips.length, run.tests.length, ktap);
  for (const l of skips) t.true(l.endsWith(`# SKIP ${reason}`), l);
});
