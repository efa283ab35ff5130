// build-each: the kernel is built after every patch of a series, and the first patch that
// breaks the build is named. The fixture series is real: 0001 builds, 0002 uses an
// undeclared name in io_uring/nop.c, 0003 fixes it again (so the series as a whole builds).
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { PatchBuild } from '../../harness/buildEach.ts';
import { repoRoot } from '../../harness/paths.ts';
import { lab } from './helpers.ts';

test('build-each names the patch that breaks the build of a series whose tip builds', async (t) => {
  const r = await lab(['build-each', '--patch', path.join(repoRoot, 'test', 'fixtures', 'unbisectable-series')]);
  t.is(r.exitCode, 1, `${r.stdout}\n${r.stderr.split('\n').slice(-10).join('\n')}`);
  t.regex(r.stdout, /^FAIL: unbisectable-series\/0002-io_uring-nop-default-result-from-an-undeclared-name-\.patch does not build: .*no_such_default/m);
  t.truthy(r.dir);
  const out = JSON.parse(fs.readFileSync(path.join(r.dir!, 'build-each.json'), 'utf8')) as { results: PatchBuild[] };
  t.deepEqual(out.results.map((x) => x.status), ['pass', 'fail', 'not-built']);
  t.regex(out.results[1]!.error ?? '', /io_uring\/nop\.c:\d+:\d+: error: .*no_such_default/);
  t.regex(fs.readFileSync(path.join(r.dir!, 'summary.md'), 'utf8'), /1 of 3 patches do not build/);
  t.log(`build-each of 3 patches: ${r.seconds.toFixed(0)} s`);
});
