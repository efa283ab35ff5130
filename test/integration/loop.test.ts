// The developer's inner loop: edit one patch of a series, run again. Real builds in the
// series' own tree; what make compiled is read from the run's build.log.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { repoRoot } from '../../harness/paths.ts';
import { lab } from './helpers.ts';

const tail = (s: string) => s.split('\n').slice(-15).join('\n');
const compiled = (dir: string) => [...fs.readFileSync(path.join(dir, 'build.log'), 'utf8').matchAll(/^\s+CC\s+(\S+)$/gm)].map((m) => m[1]!);
// What every relink of vmlinux compiles again, whatever changed.
const RELINK = /^(init\/version(-timestamp)?\.o|\.tmp_vmlinux\S*|arch\/x86\/boot\/\S+)$/;

test.serial('a new series starts from the base tree\'s build: its first run compiles what it touches, not the kernel', async (t) => {
  const base = await lab(['--patch', 'none', '--suite', 'smoke']); // the base tree has a build to start from
  t.is(base.exitCode, 0, tail(base.stderr));
  // A series no earlier run has seen (its own directory): a new tree.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-new-series-'));
  const src = path.join(repoRoot, 'test', 'fixtures', 'nop-comment');
  const name = fs.readdirSync(src).find((f) => f.endsWith('.patch'))!;
  fs.writeFileSync(path.join(dir, name), fs.readFileSync(path.join(src, name), 'utf8').replace('fixture revision 1', `fixture revision new-${Date.now()}`));
  const r = await lab(['--patch', dir, '--suite', 'smoke']);
  t.is(r.exitCode, 0, tail(r.stderr));
  t.false(r.run!.kernel!.cached);
  t.regex(r.stderr, /seeded from the base tree: \d+ untouched file\(s\) keep the base's mtimes/);
  t.regex(r.stderr, /out dir kl-out-default-[0-9a-f]{8} seeded from the base tree's kl-out-default(-[0-9a-f]{8})? \(the same configuration\)/);
  const cc = compiled(r.dir!);
  t.true(cc.includes('io_uring/nop.o'), cc.join(' '));
  t.false(cc.some((f) => f.includes('tools/objtool')), 'objtool is not rebuilt (so no object is rebuilt for it)');
  t.true(cc.length < 25, `${cc.length} objects compiled: ${cc.join(' ')}`);
  t.log(`a new series: build ${r.run!.timings.build?.toFixed(0)} s, patches ${r.run!.timings.patches?.toFixed(0)} s, ${cc.length} objects compiled`);
});

// The revisions the first test built, for the watch test after it.
const built: { dir: string; patch: string; v1: string; v2: string; k1: string; k2: string } = { dir: '', patch: '', v1: '', v2: '', k1: '', k2: '' };

test.serial('editing one patch of a series rebuilds only what it touches; going back to the first revision is a build cache hit', async (t) => {
  // The same place every time: the series keeps its tree (and out dir) from the last run.
  const dir = path.join(os.tmpdir(), 'kl-loop-series');
  fs.mkdirSync(dir, { recursive: true });
  const src = path.join(repoRoot, 'test', 'fixtures', 'nop-comment');
  const name = fs.readdirSync(src).find((f) => f.endsWith('.patch'))!;
  const patch = path.join(dir, name);
  // Two revisions no earlier run built (the build cache cannot have them), so the first
  // builds in the series' tree (incrementally if the tree is still there from a last run)
  // and the second is an edit of it.
  const fixture = fs.readFileSync(path.join(src, name), 'utf8');
  const v1 = fixture.replace('fixture revision 1', `fixture revision a-${Date.now()}`);
  fs.writeFileSync(patch, v1);
  const first = await lab(['--patch', dir, '--suite', 'smoke']);
  t.is(first.exitCode, 0, tail(first.stderr));

  const v2 = fixture.replace('fixture revision 1', `fixture revision b-${Date.now()}`);
  fs.writeFileSync(patch, v2);
  const second = await lab(['--patch', dir, '--suite', 'smoke']);
  t.is(second.exitCode, 0, tail(second.stderr));
  const k1 = first.run!.kernel!;
  const k2 = second.run!.kernel!;
  t.not(k2.buildKey, k1.buildKey, 'another revision is another kernel');
  t.false(k2.cached, 'the new revision is built');
  const cc = compiled(second.dir!);
  t.true(cc.includes('io_uring/nop.o'), `io_uring/nop.o compiled (got ${cc.join(' ')})`);
  t.deepEqual(cc.filter((f) => f !== 'io_uring/nop.o' && !RELINK.test(f)), [], 'nothing else compiled');
  t.regex(second.stderr, /1 file\(s\) differ from the previous revision/);
  // The patch changed no uAPI header: the image (every suite) is the previous one.
  t.false(second.run!.commands.some((c) => String(c).includes(`make -C ${path.join(repoRoot, 'suites')}`)), 'no suite compiled');
  t.log(`the edited revision: build ${second.run!.timings.build?.toFixed(0)} s, command to verdict ${second.seconds.toFixed(0)} s; ${cc.length} objects compiled`);

  fs.writeFileSync(patch, v1);
  const third = await lab(['--patch', dir, '--suite', 'smoke']);
  t.is(third.exitCode, 0, tail(third.stderr));
  t.is(third.run!.kernel!.buildKey, k1.buildKey);
  t.true(third.run!.kernel!.cached, 'the first revision again: the content-addressed build cache has it');
  Object.assign(built, { dir, patch, v1, v2, k1: k1.buildKey, k2: k2.buildKey });
});

test.serial('watch: a verdict now, one more run after a burst of saves (the new revision), Ctrl-C stops it with nothing left running', async (t) => {
  if (!built.dir) return t.fail('needs the revisions the test before it built');
  fs.writeFileSync(built.patch, built.v1);
  const results = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-watch-'));
  const w = execa('node', [path.join(repoRoot, 'scripts', 'lab.mjs'), 'watch', '--patch', built.dir, '--suite', 'smoke', '--results', results], { cwd: repoRoot, reject: false, buffer: true });
  let out = '';
  w.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const verdicts = () => out.split('\n').filter((l) => l.startsWith('[watch '));
  const until = async (n: number, ms: number) => {
    const t0 = Date.now();
    while (verdicts().length < n && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 250));
  };
  await until(1, 15 * 60_000);
  t.regex(verdicts()[0] ?? '', /^\[watch \d\d:\d\d:\d\d\] run 1 \(start\): PASS: .*\[exit 0, \d+ s\]/, out);
  // An editor's save is often several writes: they make one run, of the last content.
  for (const text of [built.v1.replace('revision', 'revisio'), built.v1, built.v2]) {
    fs.writeFileSync(built.patch, text);
    await new Promise((r) => setTimeout(r, 40));
  }
  await until(2, 15 * 60_000);
  await new Promise((r) => setTimeout(r, 3_000)); // a third run would have started by now
  t.regex(verdicts()[1] ?? '', /^\[watch \S+\] run 2 \(changed \S+\.patch\): PASS: .*\[exit 0, \d+ s\]/, out);
  t.is(verdicts().length, 2, out);
  const runs = fs.readdirSync(results).filter((d) => d !== 'latest').sort();
  t.is(runs.length, 2, 'two runs recorded');
  const keys = runs.map((d) => (JSON.parse(fs.readFileSync(path.join(results, d, 'run.json'), 'utf8')) as { kernel: { buildKey: string } }).kernel.buildKey);
  t.deepEqual(keys, [built.k1, built.k2], 'the first revision, then the saved one');
  w.kill('SIGINT');
  const r = await w;
  t.is(r.exitCode, 0, String(r.stderr).split('\n').slice(-5).join('\n'));
  t.regex(String(r.stderr), /SIGINT: stopping the watch/);
  const left = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(results);
    } catch {
      return false;
    }
  });
  t.deepEqual(left, [], 'no run or QEMU of the watch is left');
});

test.serial('--clean configures and builds the base in a fresh out dir: the same .config, the same kernel bytes, the same test results', async (t) => {
  const warm = await lab(['--patch', 'none', '--suite', 'smoke']);
  t.is(warm.exitCode, 0, tail(warm.stderr));
  const clean = await lab(['--patch', 'none', '--suite', 'smoke', '--clean']);
  t.is(clean.exitCode, 0, tail(clean.stderr));
  const kw = warm.run!.kernel!;
  const kc = clean.run!.kernel!;
  // past both caches: merge_config.sh and make ran, in an out dir of its own
  t.false(kc.configCached);
  t.false(kc.cached);
  const cmds = (clean.run!.commands as unknown as (string | string[])[]).map((c) => (Array.isArray(c) ? c.join(' ') : c));
  t.true(cmds.some((c) => c.startsWith('scripts/kconfig/merge_config.sh') && c.includes('kl-out-clean-default')), cmds.join('\n'));
  t.true(cmds.some((c) => /^make O=kl-out-clean-default .* bzImage headers_install INSTALL_HDR_PATH=\S+$/.test(c)), cmds.join('\n'));
  t.regex(fs.readFileSync(path.join(clean.dir!, 'build.log'), 'utf8'), /^\s+CC\s+kernel\/fork\.o$/m, 'a whole build, not an incremental one');
  const tree = (JSON.parse(fs.readFileSync(path.join(kc.buildDir, 'metadata.json'), 'utf8')) as { tree: string }).tree;
  t.true(fs.existsSync(path.join(tree, 'Makefile')), tree);
  t.deepEqual(fs.readdirSync(path.join(tree, 'kl-out-clean-default')), ['kl-fragments'], 'the fresh out dir keeps only the fragments its reproducer names');
  t.regex(JSON.parse(fs.readFileSync(path.join(kc.buildDir, 'metadata.json'), 'utf8')).reproducer.join('\n'), /make O=kl-out-clean-default /);
  // the same kernel
  t.is(kc.buildKey, kw.buildKey);
  t.is(kc.configSha256, kw.configSha256);
  t.is(fs.readFileSync(path.join(clean.dir!, 'config'), 'utf8'), fs.readFileSync(path.join(warm.dir!, 'config'), 'utf8'));
  t.deepEqual(kc.clean, { configMatchesCache: true, replacedBuild: true, sameVmlinux: true });
  // the same results
  const results = (r: typeof warm) => r.run!.tests.map((x) => `${x.suite}/${x.name}: ${x.status}`);
  t.true(results(warm).length > 0);
  t.deepEqual(results(clean), results(warm));
  t.log(`--clean: config ${clean.run!.timings.config?.toFixed(0)} s, build ${clean.run!.timings.build?.toFixed(0)} s (ccache kept)`);
});
