import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildKey, configBuildsModules, cpioSpecOfTree, kernelTargets, progressLine } from '../../harness/stages/build.ts';
import { planLines } from '../../harness/agent.ts';
import { dirHash } from '../../harness/stages/image.ts';
import { paths } from '../../harness/paths.ts';
import { loadSuite } from '../../harness/catalog.ts';

const base = { baseTree: 't1', stackHash: 'p1', configSha256: 'c1', compiler: 'gcc 12' };

test('build key is stable and changes with each of base, patches, config and compiler', (t) => {
  t.is(buildKey(base), buildKey({ ...base }));
  const keys = new Set([
    buildKey(base),
    buildKey({ ...base, baseTree: 't2' }),
    buildKey({ ...base, stackHash: 'p2' }),
    buildKey({ ...base, configSha256: 'c2' }),
    buildKey({ ...base, compiler: 'gcc 13' }),
  ]);
  t.is(keys.size, 5);
});

test('image inputs hash by content, and the agent plan mirrors the manifest', (t) => {
  t.is(dirHash(paths.images), dirHash(paths.images));
  const uring = loadSuite('uring');
  const lines = planLines(uring).trim().split('\n');
  t.is(lines.length, uring.tests.length);
  t.regex(lines[0]!, /^nop_completes_with_user_data\t30\tnop_completes_with_user_data$/);
});

test('a failed build is summarised by its cause, not by a file name that contains "error"', async (t) => {
  const { buildFailureLine } = await import('../../harness/stages/build.ts');
  const log = '  CC      drivers/acpi/acpica/uterror.o\n  LD      vmlinux\nInconsistent kallsyms data\nTry "make KALLSYMS_EXTRA_PASS=1" as a workaround\nmake[3]: *** [x] Error 1\n';
  t.is(buildFailureLine(log), 'Inconsistent kallsyms data');
  t.is(buildFailureLine('  CC      io_uring/fused.o\n../io_uring/fused.c:12:5: error: unknown type name ‘foo’\nmake[4]: *** [y] Error 1\n'), '../io_uring/fused.c:12:5: error: unknown type name ‘foo’');
  t.is(buildFailureLine('  LD      x\nsomething odd\nmake: *** [z] Error 2\n'), 'something odd');
});

test('a failed build is the code\'s fault only when the compiler or linker says why; killed, full disk or no cause is the lab\'s', async (t) => {
  const { buildFailureIsTheCodes } = await import('../../harness/stages/build.ts');
  t.true(buildFailureIsTheCodes('  CC      io_uring/nop.o\n../io_uring/nop.c:42:9: error: \'nope\' undeclared (first use in this function)\nmake[4]: *** [...] Error 1\n', null));
  t.true(buildFailureIsTheCodes('ld: vmlinux.o: in function `io_nop\':\nnop.c:(.text+0x1): undefined reference to `io_missing\'\n', null));
  t.false(buildFailureIsTheCodes('../io_uring/nop.c:42:9: error: x\n', 'SIGKILL'), 'make killed (OOM killer, timeout)');
  t.false(buildFailureIsTheCodes('  CC      fs/ext4/inode.o\nfs/ext4/inode.o: No space left on device\nmake[3]: *** Error 1\n', null));
  t.false(buildFailureIsTheCodes('gcc: fatal error: Killed signal terminated program cc1\ncompilation terminated.\n', null));
  t.false(buildFailureIsTheCodes('/bin/sh: 1: bison: command not found\nmake[2]: *** Error 127\n', null));
  t.false(buildFailureIsTheCodes('make: *** [Makefile:224: __sub-make] Error 2\n', null), 'no cause found: not blamed on the patch');
});

test('ENOSPC on the build log ends the step as an infrastructure error naming the file, not an uncaught exit 1', async (t) => {
  const { makeWithProgress } = await import('../../harness/stages/build.ts');
  const { InfraError } = await import('../../harness/errors.ts');
  const rec = { commands: [] as string[][], dryRun: false };
  // /dev/full: every write fails with ENOSPC, as on a full disk.
  const err = await t.throwsAsync(makeWithProgress(rec, '/tmp', ['sh', '-c', 'for i in 1 2 3; do echo CC x$i.o; sleep 0.2; done'], '/dev/full', 'build'));
  t.true(err instanceof InfraError, String(err));
  t.regex(err!.message, /^build: writing \/dev\/full failed: ENOSPC/);
});

test('ENOSPC on a console log is kept, not thrown', async (t) => {
  const { openLog } = await import('../../harness/logfile.ts');
  let seen = null as Error | null;
  const log = openLog('/dev/full', 'w', (e) => (seen = e));
  log.write('[host 0.1] Linux version 6.12\n');
  await new Promise((r) => setTimeout(r, 100));
  log.write('more\n');
  await log.end();
  t.regex(String(log.error?.message), /ENOSPC/);
  t.is(seen as Error | null, log.error);
});

test('a hung child ends the step as an infrastructure error naming it; too little disk stops before the step', async (t) => {
  const { run } = await import('../../harness/exec.ts');
  const { checkFreeSpace } = await import('../../harness/stages/source.ts');
  const { InfraError } = await import('../../harness/errors.ts');
  const rec = { commands: [] as string[][], dryRun: false };
  const err = await t.throwsAsync(run(rec, ['sleep', '30'], { what: 'a hanging step', timeout: 300 }));
  t.true(err instanceof InfraError);
  t.regex(err!.message, /^a hanging step did not finish within 0 s/);
  t.throws(() => checkFreeSpace('/tmp', 1e9, 'build the kernel'), { instanceOf: InfraError, message: /^only [\d.]+ GiB free in \/tmp, 1000000000 GiB needed to build the kernel/ });
  t.notThrows(() => checkFreeSpace('/tmp', 0.001, 'write a log'));
});

test('build progress: a percentage and the time left when the whole build is known, a count when not', (t) => {
  t.is(progressLine('build', 120, 30, null, 'fs/inode.o'), 'build: 120 objects so far, 30 s (last: fs/inode.o)');
  t.is(progressLine('build', 1000, 60, 4000, 'mm/slub.o'), 'build: 25% (1000 of ~4000 objects, 60 s, ~3 min left; last: mm/slub.o)');
  t.is(progressLine('build', 3900, 300, 4000, 'x.o'), 'build: 97% (3900 of ~4000 objects, 300 s, ~8 s left; last: x.o)');
  // More objects than the estimate (another configuration's count): never 100 % before make ends.
  t.regex(progressLine('build', 4100, 310, 4000, 'y.o'), /^build: 99% \(4100 of ~4000 objects/);
});

test('only a build that hit "Inconsistent kallsyms data" links again, once, with KALLSYMS_EXTRA_PASS=1', async (t) => {
  const { kallsymsRetry, makeArgv } = await import('../../harness/stages/build.ts');
  const argv = makeArgv('/x/kl-out-default', ['bzImage']);
  t.false(argv.includes('KALLSYMS_EXTRA_PASS=1'), 'not on every build');
  const log = '  LD      vmlinux\nInconsistent kallsyms data\nTry "make KALLSYMS_EXTRA_PASS=1" as a workaround\nmake[3]: *** [x] Error 1\n';
  const again = kallsymsRetry(argv, log);
  t.deepEqual(again, ['make', 'KALLSYMS_EXTRA_PASS=1', ...argv.slice(1)]);
  t.is(kallsymsRetry(again!, log), null, 'once');
  t.is(kallsymsRetry(argv, '../io_uring/x.c:1:1: error: y\nmake: *** Error 1\n'), null, 'any other failure is not retried');
});

test('a .config with CONFIG_MODULES=y and an item =m builds and packs modules; without either, bzImage alone', (t) => {
  const mods = 'CONFIG_MODULES=y\nCONFIG_MODULE_UNLOAD=y\nCONFIG_INFINIBAND_BZC=m\n';
  t.true(configBuildsModules(mods));
  t.deepEqual(kernelTargets(mods), ['bzImage', 'modules']);
  // modules on, nothing =m (every lab kernel before rdma-bzc's): nothing to build or pack
  t.false(configBuildsModules('CONFIG_MODULES=y\nCONFIG_INFINIBAND_BZC=y\n'));
  // allnoconfig's "is not set", and a value that merely contains =m
  t.false(configBuildsModules('# CONFIG_MODULES is not set\nCONFIG_INFINIBAND_BZC=m\n'));
  t.false(configBuildsModules('CONFIG_MODULES=y\nCONFIG_CMDLINE="a=m"\n'));
  t.deepEqual(kernelTargets('# CONFIG_MODULES is not set\n'), ['bzImage']);
});

test('the modules archive lists every directory before the files, each file at its path under the root; links are left out', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-modroot-'));
  try {
    const d = path.join(root, 'lib/modules/RELEASE/kernel/drivers/infiniband/ulp/bzc');
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'ib_bzc.ko'), 'ko');
    fs.writeFileSync(path.join(root, 'lib/modules/RELEASE/modules.order'), 'kernel/drivers/infiniband/ulp/bzc/ib_bzc.ko\n');
    fs.symlinkSync('/nowhere', path.join(root, 'lib/modules/RELEASE/build'));
    const spec = cpioSpecOfTree(root);
    const dirs = spec.filter((l) => l.startsWith('dir '));
    const files = spec.filter((l) => l.startsWith('file '));
    t.is(dirs.length + files.length, spec.length, 'only dirs and files');
    t.true(spec.indexOf(files[0]!) > spec.indexOf(dirs[dirs.length - 1]!), 'every dir before the first file');
    t.deepEqual(files, [
      `file /lib/modules/RELEASE/kernel/drivers/infiniband/ulp/bzc/ib_bzc.ko ${d}/ib_bzc.ko 0644 0 0`,
      `file /lib/modules/RELEASE/modules.order ${root}/lib/modules/RELEASE/modules.order 0644 0 0`,
    ]);
    t.true(dirs.includes('dir /lib 0755 0 0') && dirs.includes('dir /lib/modules/RELEASE/kernel/drivers/infiniband/ulp/bzc 0755 0 0'));
    t.false(spec.some((l) => l.includes('/build')), 'the build link is not packed');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a dry run prints the build of the config its fragments ask for (modules and modules_install), not of a .config an older run left', async (t) => {
  const { buildStage } = await import('../../harness/stages/build.ts');
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-dry-'));
  t.teardown(() => fs.rmSync(outDir, { recursive: true, force: true }));
  const inp = { tree: '/t', outDir, baseTree: 'b', stackHash: 's', configSha256: 'dry-run', configCommand: [], logFile: path.join(outDir, 'build.log') };
  const asked = async (dryRunConfig: string) => {
    const rec = { commands: [] as string[][], dryRun: true };
    await buildStage(rec, { ...inp, dryRunConfig });
    return rec.commands;
  };
  // the older run's .config built modules; this one's fragments turn them off
  fs.writeFileSync(path.join(outDir, '.config'), 'CONFIG_MODULES=y\nCONFIG_INFINIBAND_BZC=m\n');
  const plain = await asked('# CONFIG_MODULES is not set');
  t.is(plain.length, 1);
  t.false(plain[0]!.includes('modules'));
  t.true(plain[0]!.includes('bzImage'));
  const mods = await asked('CONFIG_MODULES=y\nCONFIG_MODULE_UNLOAD=y\nCONFIG_INFINIBAND_BZC=m');
  t.is(mods.length, 2);
  t.true(mods[0]!.includes('bzImage') && mods[0]!.includes('modules'));
  t.true(mods[1]!.includes('modules_install') && mods[1]!.includes('INSTALL_MOD_STRIP=1'));
  t.false(fs.existsSync(path.join(outDir, 'build.log')), 'nothing written');
});
