// The developer's inner loop: edit one patch of a series, run again. Real builds in the
// series' own tree; what make compiled is read from the run's build.log.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { repoRoot } from '../../harness/paths.ts';
import { lab } from './helpers.ts';

const tail = (s: string) => s.split('\n').slice(-15).join('\n');
const compiled = (dir: string) => [...fs.readFileSync(path.join(dir, 'build.log'), 'utf8').matchAll(/^\s+CC\s+(\S+)$/gm)].map((m) => m[1]!);
// What every relink of vmlinux compiles again, whatever changed.
const RELINK = /^(init\/version(-timestamp)?\.o|\.tmp_vmlinux\S*|arch\/x86\/boot\/\S+)$/;

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

  fs.writeFileSync(patch, fixture.replace('fixture revision 1', `fixture revision b-${Date.now()}`));
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
});
