// One out dir per configuration in each tree, and where a first build starts from: real git
// trees and out dirs of the shape kbuild leaves (no kernel is built here).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';

const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-outdirs-'));
process.env.KERNEL_LAB_CACHE = cache;
const { seedOutDir, useOutDir } = await import('../../harness/stages/patches.ts');
const { outDirFor } = await import('../../harness/stages/config.ts');

test.after.always(() => fs.rmSync(cache, { recursive: true, force: true }));

const rec = { commands: [] as string[][], dryRun: false };
const git = (cwd: string, ...a: string[]) => execa('git', ['-C', cwd, '-c', 'user.name=t', '-c', 'user.email=t@t', ...a]);
const old = new Date('2026-01-01T00:00:00Z');

/** An out dir as a build leaves it: .config, vmlinux, an object, objtool's .cmd naming its absolute paths. */
function outDir(tree: string, name: string, config: string, builtAt: Date): string {
  const d = path.join(tree, name);
  fs.mkdirSync(path.join(d, 'tools', 'objtool'), { recursive: true });
  fs.writeFileSync(path.join(d, '.config'), config);
  fs.writeFileSync(path.join(d, 'io_uring.o'), `${name}\n`);
  fs.writeFileSync(path.join(d, 'tools', 'objtool', '.check.o.cmd'), `cmd_check.o := gcc -o ${d}/tools/objtool/check.o ${tree}/tools/objtool/check.c\n`);
  fs.writeFileSync(path.join(d, 'vmlinux'), 'elf\n');
  for (const f of ['.config', 'io_uring.o', 'vmlinux', 'tools/objtool/.check.o.cmd']) fs.utimesSync(path.join(d, f), builtAt, builtAt);
  return d;
}

async function trees(): Promise<{ base: string; series: string }> {
  const root = fs.mkdtempSync(path.join(cache, 't-'));
  const base = path.join(root, 'base');
  fs.mkdirSync(path.join(base, 'io_uring'), { recursive: true });
  fs.writeFileSync(path.join(base, 'io_uring', 'nop.c'), 'int nop;\n');
  fs.writeFileSync(path.join(base, 'Makefile'), 'all:\n');
  await git(base, 'init', '-q', '-b', 'base');
  await git(base, 'add', '-A');
  await git(base, 'commit', '-q', '-m', 'base');
  const series = path.join(root, 'series');
  await git(base, 'worktree', 'add', '-q', '--detach', series);
  fs.writeFileSync(path.join(series, 'io_uring', 'nop.c'), 'int nop = 1;\n');
  await git(series, 'commit', '-q', '-am', 'the series');
  for (const f of ['io_uring/nop.c', 'Makefile']) fs.utimesSync(path.join(series, f), old, old);
  return { base, series };
}

test('out dirs are named by variant and fragments: another fragment text or variant is another dir, --clean has its own', (t) => {
  const a = [{ source: 'base.config', text: 'CONFIG_IO_URING=y\n' }];
  const b = [...a, { source: '--config-item', text: 'CONFIG_RDMA_RXE=y\n' }];
  t.regex(outDirFor('/t', { debug: false }, a), /^\/t\/kl-out-default-[0-9a-f]{8}$/);
  t.is(outDirFor('/t', { debug: false }, a), outDirFor('/t', { debug: false }, [...a]));
  t.not(outDirFor('/t', { debug: false }, a), outDirFor('/t', { debug: false }, b));
  t.regex(outDirFor('/t', { debug: true, kmemleak: true }, a), /^\/t\/kl-out-debug-kmemleak-[0-9a-f]{8}$/);
  t.is(outDirFor('/t', { debug: false, clean: true }, a), '/t/kl-out-clean-default');
});

test('a first build starts from the base tree\'s out dir whose .config is its own, not from a newer one of another configuration', async (t) => {
  const { base, series } = await trees();
  const mine = 'CONFIG_IO_URING=y\n';
  outDir(base, 'kl-out-default-11111111', mine, old);
  outDir(base, 'kl-out-default-22222222', 'CONFIG_IO_URING=y\nCONFIG_RDMA_RXE=y\n', new Date()); // newer, another configuration
  const target = path.join(series, 'kl-out-default-11111111');
  fs.mkdirSync(path.join(target, 'kl-fragments'), { recursive: true });
  fs.writeFileSync(path.join(target, 'kl-fragments', '00-base.config'), 'mine\n');
  fs.writeFileSync(path.join(target, '.config'), mine);
  await seedOutDir(rec, base, series, target, path.join(target, '.config'));
  t.is(fs.readFileSync(path.join(target, 'io_uring.o'), 'utf8'), 'kl-out-default-11111111\n', 'the objects of the same configuration');
  t.is(fs.statSync(path.join(target, '.config')).mtimeMs, old.getTime(), 'the same .config keeps its mtime: no syncconfig');
  t.is(fs.readFileSync(path.join(target, 'kl-fragments', '00-base.config'), 'utf8'), 'mine\n', 'this run\'s fragments stay');
  const cmd = fs.readFileSync(path.join(target, 'tools', 'objtool', '.check.o.cmd'), 'utf8');
  t.is(cmd, `cmd_check.o := gcc -o ${target}/tools/objtool/check.o ${series}/tools/objtool/check.c\n`, 'objtool\'s absolute paths name the copy');
  t.true(fs.statSync(path.join(series, 'io_uring', 'nop.c')).mtimeMs > Date.now() - 60_000, 'the file the series changes is newer than every copied object');
  t.is(fs.statSync(path.join(series, 'Makefile')).mtimeMs, old.getTime(), 'a file it leaves alone keeps its mtime');
  t.true(fs.existsSync(path.join(base, 'kl-out-default-11111111', 'vmlinux')), 'the base keeps its own');
  t.deepEqual(fs.readdirSync(series).filter((d) => d.includes('.tmp-')), [], 'no half-made copy is left');
});

test('without an out dir of its configuration, a first build starts from the newest of its variant and takes its own .config', async (t) => {
  const { base, series } = await trees();
  outDir(base, 'kl-out-default-11111111', 'CONFIG_A=y\n', old);
  outDir(base, 'kl-out-default-22222222', 'CONFIG_B=y\n', new Date(Date.now() - 1000));
  outDir(base, 'kl-out-debug-33333333', 'CONFIG_C=y\n', new Date()); // another variant: never a start for this one
  const target = path.join(series, 'kl-out-default-44444444');
  fs.mkdirSync(target, { recursive: true });
  fs.writeFileSync(path.join(target, '.config'), 'CONFIG_D=y\n');
  await seedOutDir(rec, base, series, target, path.join(target, '.config'));
  t.is(fs.readFileSync(path.join(target, 'io_uring.o'), 'utf8'), 'kl-out-default-22222222\n');
  t.is(fs.readFileSync(path.join(target, '.config'), 'utf8'), 'CONFIG_D=y\n', 'make sees this configuration and rebuilds what differs');
});

test('an out dir already built is never replaced, and the old single out dir of a tree becomes its configuration\'s', async (t) => {
  const { base } = await trees();
  const built = outDir(base, 'kl-out-default-11111111', 'CONFIG_A=y\n', old);
  outDir(base, 'kl-out-default-22222222', 'CONFIG_A=y\n', new Date());
  await seedOutDir(rec, base, base, built, path.join(built, '.config'));
  t.is(fs.readFileSync(path.join(built, 'io_uring.o'), 'utf8'), 'kl-out-default-11111111\n');

  const legacy = outDir(base, 'kl-out-default', 'CONFIG_L=y\n', old);
  const target = path.join(base, 'kl-out-default-55555555');
  fs.mkdirSync(target, { recursive: true });
  fs.writeFileSync(path.join(target, '.config'), 'CONFIG_L=y\n');
  await seedOutDir(rec, base, base, target, path.join(target, '.config'));
  t.false(fs.existsSync(legacy), 'moved, not copied');
  t.is(fs.readFileSync(path.join(target, 'io_uring.o'), 'utf8'), 'kl-out-default\n');
  t.is(fs.readFileSync(path.join(target, 'tools', 'objtool', '.check.o.cmd'), 'utf8'), `cmd_check.o := gcc -o ${target}/tools/objtool/check.o ${base}/tools/objtool/check.c\n`);
});

test('a tree keeps the most recently used built out dirs besides the one a run takes; never-built ones go; --clean\'s is not one of them', async (t) => {
  const { base } = await trees();
  const dirs = [1, 2, 3, 4].map((i) => outDir(base, `kl-out-default-${String(i).repeat(8)}`, `CONFIG_${i}=y\n`, old));
  dirs.forEach((d, i) => {
    fs.writeFileSync(path.join(d, '.kl-used'), '');
    const at = new Date(Date.now() - (10 - i) * 60_000);
    fs.utimesSync(path.join(d, '.kl-used'), at, at);
  });
  // made by config cache hits, used later than every built one: never built
  const unbuilt = ['5', '6'].map((i) => {
    const d = path.join(base, `kl-out-default-${i.repeat(8)}`);
    fs.mkdirSync(path.join(d, 'kl-fragments'), { recursive: true });
    fs.writeFileSync(path.join(d, '.config'), `CONFIG_${i}=y\n`);
    return d;
  });
  fs.mkdirSync(path.join(base, 'kl-out-clean-default'));
  useOutDir(base, unbuilt[0]!, 2);
  t.deepEqual(
    [...dirs, ...unbuilt].map((d) => fs.existsSync(d)),
    [false, false, true, true, true, false],
    'the run\'s own stays; the 2 newest built stay; the other never-built one goes',
  );
  t.true(fs.existsSync(path.join(base, 'kl-out-clean-default')));
  useOutDir(base, dirs[2]!, 1);
  t.true(fs.existsSync(dirs[2]!), 'the one in use');
  t.true(fs.existsSync(dirs[3]!), 'the newest other built one');
  t.false(fs.existsSync(unbuilt[0]!));
});
