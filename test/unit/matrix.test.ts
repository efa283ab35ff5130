// The nightly matrix without a kernel: plan's kernels and cells, shards, the nightly
// runner's bookkeeping and matrix-report's merge of shards' results.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { assignShards, cellKernels, nightlyCells, planMatrix, readCellsFile, type MatrixPlan } from '../../harness/matrix.ts';
import { runNightly, selectCells } from '../../harness/nightly.ts';
import { repoRoot } from '../../harness/paths.ts';
import type { RunRecord } from '../../harness/types.ts';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'matrix');
const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), `kl-matrix-${p}-`));

/** The real CLI, with a lab cache and durations file of the test's own. */
async function lab(args: string[], env: Record<string, string> = {}) {
  const cache = tmp('cache');
  const r = await execa('node', [path.join(repoRoot, 'scripts', 'lab.mjs'), ...args], { cwd: repoRoot, reject: false, env: { KERNEL_LAB_CACHE: cache, ...env } });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), errors: String(r.stderr).split('\n').filter((l) => l.startsWith('kernel-lab:')) };
}

test('plan --json --patch fused --suite uring: one kernel (the fused set on the pinned base) and one cell using it', async (t) => {
  const r = await lab(['plan', '--json', '--patch', 'fused', '--suite', 'uring']);
  t.is(r.exitCode, 0, r.stderr);
  const p = JSON.parse(r.stdout) as MatrixPlan;
  t.is(p.schema, 'kernel-lab-plan/1');
  t.is(p.matrix, 'options');
  t.is(p.kernels.length, 1);
  t.is(p.cells.length, 1);
  const k = p.kernels[0]!;
  t.deepEqual(k.sets, ['fused']);
  t.regex(k.inputKey, /^[0-9a-f]{24}$/);
  const pin = JSON.parse(fs.readFileSync(path.join(repoRoot, 'kernel-patches', 'fused', 'base.json'), 'utf8')) as { sha256: string };
  t.true(k.base.endsWith(`sha256:${pin.sha256}`), k.base);
  t.is(k.patches, fs.readFileSync(path.join(repoRoot, 'kernel-patches', 'fused', 'series'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#')).length);
  t.deepEqual(k.cells, ['fused']);
  t.deepEqual(p.cells[0]!.args, ['--patch', 'fused', '--suite', 'uring']);
  t.deepEqual(p.cells[0]!.kernels, [k.inputKey]);
  t.true(p.cells[0]!.estimated);
});

test('plan --compare-baseline lists the baseline kernel too, and cells that build the same kernel share it', async (t) => {
  const r = await lab(['plan', '--json', '--patch', 'fused', '--compare-baseline']);
  t.is(r.exitCode, 0, r.stderr);
  const p = JSON.parse(r.stdout) as MatrixPlan;
  t.is(p.cells.length, 1);
  t.is(p.kernels.length, 2);
  t.deepEqual(p.kernels.map((k) => k.sets), [['fused'], []]);
  t.deepEqual(p.cells[0]!.kernels, p.kernels.map((k) => k.inputKey));
  // `--patch fused` and `--patch fused --compare-baseline`: the fused kernel once, used by both.
  const m = planMatrix(
    [
      { name: 'alone', args: ['--patch', 'fused'] },
      { name: 'against-base', args: ['--patch', 'fused', '--compare-baseline'] },
      { name: 'base', args: ['--patch', 'none', '--suite', 'smoke,uring,fused,ublk'] },
    ],
    { matrix: 'options', durations: {} },
  );
  t.is(m.kernels.length, 2, JSON.stringify(m.kernels.map((k) => [k.label, k.cells])));
  const fused = m.kernels.find((k) => k.sets.join() === 'fused')!;
  const base = m.kernels.find((k) => k.sets.length === 0)!;
  t.deepEqual(fused.cells, ['alone', 'against-base']);
  // the baseline run of fused runs fused's suites on the base: the same kernel as that base cell
  t.deepEqual(base.cells, ['against-base', 'base']);
});

test('the input key changes with the variant, a --config-item and a patch file\'s bytes, and not with run-only options', (t) => {
  const key = (args: string[]) => cellKernels({ name: 'x', args })[0]!.inputKey;
  const plain = key(['--patch', 'fused']);
  t.is(key(['--patch', 'fused', '--memory', '4096', '--timeout', '600', '--repeat', '2']), plain);
  t.not(key(['--patch', 'fused', '--debug']), plain);
  t.not(key(['--patch', 'fused', '--kmemleak']), plain);
  t.not(key(['--patch', 'fused', '--config-item', 'CONFIG_DEBUG_INFO_BTF=y']), plain);
  t.not(key(['--patch', 'fused,uring-bpf']), key(['--patch', 'uring-bpf,fused']), 'patch order');
  const dir = tmp('set');
  for (const f of fs.readdirSync(path.join(repoRoot, 'kernel-patches', 'fused'))) fs.copyFileSync(path.join(repoRoot, 'kernel-patches', 'fused', f), path.join(dir, f));
  const copy = key(['--patch', dir, '--suite', 'uring']);
  t.is(key(['--patch', dir, '--suite', 'uring']), copy, 'same bytes, same key');
  const first = fs.readFileSync(path.join(dir, 'series'), 'utf8').split('\n')[0]!.trim();
  fs.appendFileSync(path.join(dir, first), '\n');
  t.not(key(['--patch', dir, '--suite', 'uring']), copy, 'one byte more in a patch');
});

test('the nightly matrix keeps its cells and checks, and adds liburing per set and a BTF stack', (t) => {
  const cells = nightlyCells();
  const names = cells.map((c) => c.name);
  const sets = fs.readdirSync(path.join(repoRoot, 'kernel-patches')).filter((n) => fs.existsSync(path.join(repoRoot, 'kernel-patches', n, 'series'))).sort();
  const stack = sets.join(',');
  t.true(sets.length > 1, 'this checkout has several sets');
  for (const n of ['rebase-check:latest', 'base', `build-each:${stack}`, ...sets, `stack:${stack}`, `debug:${stack}`, `kmemleak:${stack}`, 'bench', 'debug-symbolize', 'debug-dump-panic', 'debug-dump-hang', 'liburing:base', `liburing:${stack}`, ...sets.map((s) => `kselftest-mm:${s}`), `kselftest-mm:${stack}`]) {
    t.true(names.includes(n), `cell ${n}`);
  }
  for (const s of sets) t.deepEqual(cells.find((c) => c.name === `liburing:${s}`)?.args, ['--patch', s, '--suite', 'liburing', '--compare-baseline']);
  const btf = cells.find((c) => c.name === `btf:${stack}`)!;
  t.deepEqual(btf.args.slice(0, 2), ['--patch', stack]);
  t.true(btf.args.join(' ').includes('--config-item CONFIG_DEBUG_INFO_BTF=y'));
  t.deepEqual(btf.args.slice(-2), ['--suite', 'uring-bpf']);
  t.is(new Set(names).size, names.length, 'cell names are unique');
  t.deepEqual(cells.filter((c) => c.check).map((c) => c.name), ['debug-symbolize', 'debug-dump-panic', 'debug-dump-hang']);
  // the checks' semantics: a located report passes, an unlocated one fails; no dump fails
  const sym = cells.find((c) => c.name === 'debug-symbolize')!.check!;
  const crash = { title: 'UBSAN: shift-out-of-bounds in lkdtm_UBSAN_SHIFT', location: 'drivers/misc/lkdtm/lab.c:42', maintainers: ['Kees Cook <kees@kernel.org>'] };
  t.is(sym({ status: 'crash', crashes: [crash] } as unknown as RunRecord).status, 'pass');
  t.is(sym({ status: 'crash', crashes: [{ ...crash, location: undefined }] } as unknown as RunRecord).status, 'fail');
  t.is(sym(null).status, 'fail');
  const dump = tmp('dump');
  fs.writeFileSync(path.join(dump, 'vmcore'), Buffer.concat([Buffer.from('KDUMP   ', 'latin1'), Buffer.alloc(64)]));
  const panic = cells.find((c) => c.name === 'debug-dump-panic')!.check!;
  const hang = cells.find((c) => c.name === 'debug-dump-hang')!.check!;
  const withDump = { status: 'crash', dump: { file: path.join(dump, 'vmcore'), bytes: 72, seconds: 1.5, kept: 'run failed' } };
  t.is(panic(withDump as unknown as RunRecord).status, 'pass');
  t.is(hang(withDump as unknown as RunRecord).status, 'fail', 'a hang needs the stuck task named');
  t.is(hang({ ...withDump, postmortem: { tasks: [{ pid: 77, where: 'lkdtm_HUNG_TASK' }] } } as unknown as RunRecord).status, 'pass');
  t.is(panic({ status: 'crash' } as unknown as RunRecord).status, 'fail');
});

test('shards: every cell on exactly one, the same twice and in any input order, balanced, and a kernel\'s cells together when balance allows', (t) => {
  const items = nightlyCells().map((c, i) => ({ name: c.name, kernels: [`k${i % 5}`, 'base'], minutes: 5 + ((i * 37) % 60) }));
  for (const n of [1, 2, 3, 5]) {
    const a = assignShards(items, n);
    t.deepEqual([...a.keys()].sort(), items.map((c) => c.name).sort(), `${n}: every cell placed once`);
    t.true([...a.values()].every((s) => s >= 1 && s <= n));
    t.deepEqual(assignShards([...items].reverse(), n), a, `${n}: same shards from the same inputs`);
    const load = Array.from({ length: n }, (_, i) => items.filter((c) => a.get(c.name) === i + 1).reduce((s, c) => s + c.minutes, 0));
    const longest = Math.max(...items.map((c) => c.minutes));
    t.true(Math.max(...load) - Math.min(...load) <= longest, `${n}: loads ${load.join(', ')}`);
  }
  // two kernels, two cells each, equal minutes: each kernel on one shard (name order alone would split both)
  const pairs = [
    { name: 'a1', kernels: ['A'], minutes: 10 },
    { name: 'a2', kernels: ['A'], minutes: 10 },
    { name: 'b1', kernels: ['B'], minutes: 10 },
    { name: 'b2', kernels: ['B'], minutes: 10 },
  ];
  const s = assignShards(pairs, 2);
  t.is(s.get('a1'), s.get('a2'));
  t.is(s.get('b1'), s.get('b2'));
  t.not(s.get('a1'), s.get('b1'));
});

test('plan --nightly --shard i/3: the shards partition the matrix, by the durations file when it has a cell', async (t) => {
  const durations = path.join(tmp('durations'), 'd.json');
  fs.writeFileSync(durations, JSON.stringify({ base: 7.5, 'liburing:base': 95 }));
  const env = { KL_DURATIONS: durations };
  const all = JSON.parse((await lab(['plan', '--json', '--nightly'], env)).stdout) as MatrixPlan;
  t.is(all.cells.length, nightlyCells().length);
  t.is(all.cells.find((c) => c.name === 'base')!.minutes, 7.5);
  t.false(all.cells.find((c) => c.name === 'base')!.estimated);
  const seen: string[] = [];
  for (const i of [1, 2, 3]) {
    const r = await lab(['plan', '--json', '--nightly', '--shard', `${i}/3`], env);
    t.is(r.exitCode, 0, r.stderr);
    const p = JSON.parse(r.stdout) as MatrixPlan;
    t.is(p.shard, `${i}/3`);
    t.true(p.cells.every((c) => c.shard === i));
    t.true(p.kernels.every((k) => p.cells.some((c) => c.kernels.includes(k.inputKey))), 'only the shard\'s kernels');
    seen.push(...p.cells.map((c) => c.name));
    t.is((await lab(['plan', '--json', '--nightly', '--shard', `${i}/3`], env)).stdout, r.stdout, 'same plan twice');
  }
  t.deepEqual([...seen].sort(), all.cells.map((c) => c.name).sort());
  t.is(new Set(seen).size, seen.length, 'no cell on two shards');
  const bad = await lab(['plan', '--json', '--nightly', '--shard', '0/3'], env);
  t.is(bad.exitCode, 2);
  t.is(bad.errors.length, 1);
  t.regex(bad.errors[0]!, /--shard takes i\/n/);
  const both = await lab(['plan', '--nightly', '--patch', 'fused'], env);
  t.is(both.exitCode, 2);
  t.regex(both.errors[0]!, /--nightly plans the nightly matrix/);
});

test('plan --cells FILE: the file\'s cells instead of the nightly matrix, sharded the same way; nightly --cells runs them', async (t) => {
  const file = path.join(fixtures, 'quick.cells.json');
  const cells = JSON.parse(fs.readFileSync(file, 'utf8')) as { name: string; args: string[] }[];
  const env = { KL_DURATIONS: path.join(tmp('durations'), 'd.json') };
  const r = await lab(['plan', '--json', '--cells', file, '--shards', '3'], env);
  t.is(r.exitCode, 0, r.stderr);
  const p = JSON.parse(r.stdout) as MatrixPlan;
  t.is(p.matrix, 'cells');
  t.deepEqual(p.cells.map((c) => [c.name, c.args]), cells.map((c) => [c.name, c.args]));
  t.deepEqual(p.shards.flatMap((s) => s.cells).sort(), cells.map((c) => c.name).sort(), 'the shards partition the file\'s cells');
  t.deepEqual(readCellsFile(file).map((c) => c.name), cells.map((c) => c.name));

  // nightly --cells: the file's cells, not the nightly matrix's (one that stops at a usage error, booting nothing)
  const own = path.join(tmp('cells'), 'cells.json');
  fs.writeFileSync(own, JSON.stringify([{ name: 'bad:set', args: ['--patch', 'nosuch'] }]));
  const out = tmp('nightly');
  const n = await lab(['nightly', '--cells', own, '--results', out], env);
  t.is(n.exitCode, 1, n.stderr);
  t.deepEqual((JSON.parse(fs.readFileSync(path.join(out, 'matrix.json'), 'utf8')) as { cell: string; exitCode: number }[]).map((x) => [x.cell, x.exitCode]), [['bad:set', 2]]);

  // a plan of the one matrix is not a plan of the other
  const cellsPlan = path.join(tmp('plan'), 'cells.json');
  fs.writeFileSync(cellsPlan, r.stdout);
  const nightlyPlan = path.join(tmp('plan'), 'nightly.json');
  fs.writeFileSync(nightlyPlan, JSON.stringify(planMatrix(nightlyCells(), { matrix: 'nightly', shardCount: 3, durations: {} })));
  const wrong: [string[], RegExp][] = [
    [['nightly', '--cells', file, '--plan', nightlyPlan, '--shard', '1/3'], /--plan .*nightly\.json is not a plan of a --cells file/],
    [['nightly', '--plan', cellsPlan, '--shard', '1/3'], /--plan .*cells\.json is not a plan of the nightly matrix/],
  ];
  for (const [args, re] of wrong) {
    const w = await lab([...args, '--results', tmp('nightly')], env);
    t.is(w.exitCode, 2, `${args.join(' ')}: ${w.stderr}`);
    t.regex(w.errors[0]!, re);
  }
});

test('--cells: a file that is not a list of named cells is one line naming the file and the cell, exit 2', async (t) => {
  const dir = tmp('cells');
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const ok = JSON.stringify([{ name: 'base', args: ['--patch', 'none'] }]);
  const cases: [string[], RegExp][] = [
    [['--cells', write('broken.json', '[{')], /--cells .*broken\.json: not readable JSON/],
    [['--cells', write('empty.json', '[]')], /empty\.json: not a non-empty array of cells/],
    [['--cells', write('object.json', '{"base": ["--patch", "none"]}')], /object\.json: not a non-empty array of cells/],
    [['--cells', write('noname.json', '[{"args": ["--patch", "none"]}]')], /noname\.json: cell 1: "name" must be a non-empty string/],
    [['--cells', write('noargs.json', '[{"name": "base", "args": "--patch none"}]')], /noargs\.json: cell 1 \(base\): "args" must be a non-empty array of strings/],
    [['--cells', write('extra.json', '[{"name": "base", "args": ["--patch", "none"], "check": "pass"}]')], /extra\.json: cell 1 \(base\): unknown field "check"/],
    [['--cells', write('clash.json', '[{"name": "a:b", "args": ["--patch", "none"]}, {"name": "a_b", "args": ["--patch", "none"]}]')], /clash\.json: cell 2 \(a_b\): its results directory a_b is also cell a:b's/],
    [['--cells', write('badargs.json', '[{"name": "base", "args": ["--patch", "none", "--frobnicate"]}]')], /cell base: unknown option '--frobnicate'/],
    [['--cells', write('ok.json', ok), '--nightly'], /--nightly and --cells are exclusive/],
    [['--cells', path.join(dir, 'ok.json'), '--patch', 'none'], /--cells plans the cells of a file; --patch and the run options describe one run instead/],
    [['--cells', path.join(dir, 'nosuch.json')], /nosuch\.json: not readable JSON: ENOENT/],
  ];
  for (const [args, re] of cases) {
    const r = await lab(['plan', '--json', ...args]);
    t.is(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
    t.is(r.errors.length, 1, r.stderr);
    t.regex(r.errors[0]!, re);
  }
  for (const sub of ['plan', 'nightly']) t.regex((await lab([sub, '--help'])).stdout, /--cells <file>/, `${sub} --help`);
});

/** A shard's results as nightly writes them: matrix.json and each cell's latest/run.json. */
function shardDir(cells: { cell: string; fixture: 'pass' | 'fail'; minutes: number; checked?: 'pass' }[]): string {
  const dir = tmp('shard');
  const rows = cells.map(({ cell, fixture, minutes, checked }) => {
    const run = JSON.parse(fs.readFileSync(path.join(fixtures, `${fixture}.run.json`), 'utf8')) as RunRecord;
    const id = `20261204-120000-${fixture}`;
    const cdir = path.join(dir, cell.replace(/[^\w.-]/g, '_'));
    fs.mkdirSync(path.join(cdir, id), { recursive: true });
    fs.writeFileSync(path.join(cdir, id, 'run.json'), JSON.stringify(run));
    fs.symlinkSync(id, path.join(cdir, 'latest'));
    if (checked) return { cell, status: 'pass', exitCode: 0, reason: 'what the check wanted', minutes, dir: path.basename(cdir), shard: null, checked: true };
    return { cell, status: run.status, exitCode: run.status === 'pass' ? 0 : 1, reason: run.reason, minutes, dir: path.basename(cdir), shard: null };
  });
  fs.writeFileSync(path.join(dir, 'matrix.json'), JSON.stringify(rows));
  return dir;
}

function testcases(junit: string): { classname: string; name: string; failed: boolean }[] {
  return [...junit.matchAll(/<testcase classname="([^"]*)" name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => ({ classname: m[1]!, name: m[2]!, failed: /<(failure|error)/.test(m[4] ?? '') }));
}

test('matrix-report merges two shards and a LAVA import into matrix.md, matrix.json and one junit.xml; exit 0 when all pass', async (t) => {
  const s1 = shardDir([{ cell: 'base', fixture: 'pass', minutes: 12.5 }]);
  const s2 = shardDir([{ cell: 'stack:fused,ublk-zc', fixture: 'pass', minutes: 20 }]);
  const lava = path.join(tmp('lava'), 'lava-base');
  fs.mkdirSync(lava);
  fs.copyFileSync(path.join(fixtures, 'pass.run.json'), path.join(lava, 'run.json'));
  const out = tmp('out');
  const durations = path.join(tmp('durations'), 'd.json');
  const r = await lab(['matrix-report', s1, s2, lava, '--out', out, '--save-durations'], { KL_DURATIONS: durations });
  t.is(r.exitCode, 0, r.stderr);
  const rows = JSON.parse(fs.readFileSync(path.join(out, 'matrix.json'), 'utf8')) as { cell: string; status: string; from: string }[];
  t.deepEqual(rows.map((x) => [x.cell, x.status]), [['base', 'pass'], ['stack:fused,ublk-zc', 'pass'], ['lava-base', 'pass']]);
  const md = fs.readFileSync(path.join(out, 'matrix.md'), 'utf8');
  for (const c of ['base', 'stack:fused,ublk-zc', 'lava-base']) t.true(md.includes(`| ${c} | pass |`), c);
  const cases = testcases(fs.readFileSync(path.join(out, 'junit.xml'), 'utf8'));
  const tests = (JSON.parse(fs.readFileSync(path.join(fixtures, 'pass.run.json'), 'utf8')) as RunRecord).tests;
  t.is(cases.length, 3 * (tests.length + 1), 'each test of each cell, and each cell\'s verdict');
  for (const c of ['base', 'stack:fused,ublk-zc', 'lava-base']) {
    t.deepEqual(cases.filter((x) => x.classname === c).map((x) => x.name).sort(), ['cell verdict', ...tests.map((x) => `${x.suite}/${x.name}`)].sort());
  }
  t.false(cases.some((x) => x.failed));
  t.deepEqual(JSON.parse(fs.readFileSync(durations, 'utf8')), { base: 12.5, 'stack:fused,ublk-zc': 20 }, 'measured minutes saved, the import has none');
});

test('matrix-report: a failed cell fails (exit 1, failures in junit.xml); a planned cell no DIR holds is missing (exit 1)', async (t) => {
  const s1 = shardDir([{ cell: 'base', fixture: 'pass', minutes: 3 }]);
  const s2 = shardDir([{ cell: 'fused', fixture: 'fail', minutes: 4 }]);
  const out = tmp('out');
  const r = await lab(['matrix-report', s1, s2, '--out', out]);
  t.is(r.exitCode, 1, r.stderr);
  const cases = testcases(fs.readFileSync(path.join(out, 'junit.xml'), 'utf8'));
  const failedTests = (JSON.parse(fs.readFileSync(path.join(fixtures, 'fail.run.json'), 'utf8')) as RunRecord).tests.filter((x) => x.status === 'fail');
  t.deepEqual(cases.filter((x) => x.failed).map((x) => `${x.classname} ${x.name}`).sort(), ['fused cell verdict', ...failedTests.map((x) => `fused ${x.suite}/${x.name}`)].sort());
  t.false(cases.some((x) => x.classname === 'base' && x.failed));

  const plan = path.join(tmp('plan'), 'plan.json');
  const p: MatrixPlan = { schema: 'kernel-lab-plan/1', matrix: 'nightly', note: '', kernels: [], cells: ['base', 'fused', 'debug:fused'].map((name, i) => ({ name, args: [], kernels: [], minutes: 1, estimated: true, shard: i + 1 })), shardCount: 3, shard: null, shards: [] };
  fs.writeFileSync(plan, JSON.stringify(p));
  const passing = shardDir([{ cell: 'fused', fixture: 'pass', minutes: 4 }]);
  const m = await lab(['matrix-report', s1, passing, '--plan', plan, '--out', out]);
  t.is(m.exitCode, 1, 'every present cell passed, one is missing');
  const rows = JSON.parse(fs.readFileSync(path.join(out, 'matrix.json'), 'utf8')) as { cell: string; status: string; reason: string }[];
  t.deepEqual(rows.map((x) => [x.cell, x.status]), [['base', 'pass'], ['fused', 'pass'], ['debug:fused', 'missing']]);
  t.regex(rows[2]!.reason, /planned on shard 3\/3, but no DIR holds its result/);
  t.regex(m.stdout, /missing: debug:fused/);
  t.true(testcases(fs.readFileSync(path.join(out, 'junit.xml'), 'utf8')).some((x) => x.classname === 'debug:fused' && x.failed));
  const full = await lab(['matrix-report', s1, passing, shardDir([{ cell: 'debug:fused', fixture: 'pass', minutes: 1 }]), '--plan', plan, '--out', out]);
  t.is(full.exitCode, 0, 'the same plan with every cell present');
});

test('matrix-report: a cell its check passed passes with failing tests inside; NAME=DIR names an import-lava results dir', async (t) => {
  const checked = shardDir([{ cell: 'debug-dump-panic', fixture: 'fail', minutes: 2, checked: 'pass' }]);
  const lavaResults = tmp('lava-results');
  fs.mkdirSync(path.join(lavaResults, '20261204-120000-ab12'));
  fs.copyFileSync(path.join(fixtures, 'pass.run.json'), path.join(lavaResults, '20261204-120000-ab12', 'run.json'));
  fs.symlinkSync('20261204-120000-ab12', path.join(lavaResults, 'latest'));
  const out = tmp('out');
  const r = await lab(['matrix-report', checked, `fused=${lavaResults}`, '--out', out]);
  t.is(r.exitCode, 0, r.stdout + r.stderr);
  const rows = JSON.parse(fs.readFileSync(path.join(out, 'matrix.json'), 'utf8')) as { cell: string; status: string }[];
  t.deepEqual(rows.map((x) => [x.cell, x.status]), [['debug-dump-panic', 'pass'], ['fused', 'pass']]);
  const junit = fs.readFileSync(path.join(out, 'junit.xml'), 'utf8');
  const cases = testcases(junit);
  t.false(cases.some((x) => x.failed), 'the checked cell\'s failing tests are not failures');
  t.is(cases.filter((x) => x.classname === 'debug-dump-panic').length, 3);
  t.regex(junit, /<property name="status" value="fail"\/>/);
});

test('nightly --plan: a shard runs the cells the plan put there; a plan of other cells or another shard count is refused', (t) => {
  const cells = nightlyCells();
  const p = planMatrix(cells, { matrix: 'nightly', shardCount: 3, durations: { base: 50 } });
  const seen: string[] = [];
  for (const index of [1, 2, 3]) {
    const mine = selectCells(cells, { plan: p, shard: { index, count: 3 } }).map((c) => c.name);
    t.deepEqual(mine, p.cells.filter((c) => c.shard === index).map((c) => c.name));
    seen.push(...mine);
  }
  t.deepEqual(seen.sort(), cells.map((c) => c.name).sort());
  t.throws(() => selectCells(cells, { plan: p, shard: { index: 1, count: 2 } }), { message: /--plan was made for 3 shards, not 2/ });
  t.throws(() => selectCells(cells, { plan: { ...p, cells: [...p.cells, { ...p.cells[0]!, name: 'gone' }] } }), { message: /cell gone is not in this checkout's matrix/ });
});

test('matrix-report: bad input is one line naming the DIR and what to give, exit 2', async (t) => {
  const empty = tmp('empty');
  const notMatrix = tmp('bad');
  fs.writeFileSync(path.join(notMatrix, 'matrix.json'), '{"rows": 3}');
  const s1 = shardDir([{ cell: 'base', fixture: 'pass', minutes: 3 }]);
  const cases: [string[], RegExp][] = [
    [['matrix-report', empty], new RegExp(`${empty} holds no results \\(no matrix.json, run.json or latest/run.json\\) \\(give the --results DIR of npm run lab -- nightly`)],
    [['matrix-report', '/no/such/dir'], /\/no\/such\/dir: no such directory/],
    [['matrix-report', notMatrix], /matrix.json: not a matrix/],
    [['matrix-report', s1, s1], /cell base is in both/],
    [['matrix-report'], /missing required argument/],
    [['matrix-report', s1, '--plan', path.join(fixtures, 'pass.run.json')], /not a plan/],
  ];
  for (const [args, re] of cases) {
    const r = await lab([...args, '--out', tmp('out')]);
    t.is(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
    t.is(r.errors.length, 1, r.stderr);
    t.regex(r.errors[0]!, re);
  }
  for (const sub of ['plan', 'nightly', 'matrix-report']) {
    const h = await lab([sub, '--help']);
    t.is(h.exitCode, 0);
    t.regex(h.stdout, new RegExp(`^Usage: ${sub} `));
  }
});

test('nightly runs its cells into DIR: a directory each, matrix.json and matrix.md, minutes to the durations file', async (t) => {
  const out = tmp('nightly');
  const durations = path.join(tmp('durations'), 'd.json');
  const before = process.env.KL_DURATIONS;
  process.env.KL_DURATIONS = durations;
  try {
    // cells that boot nothing: `--version` (no run.json) judged by a check, and a usage error
    const r = await runNightly(
      [
        { name: 'listed', args: ['--version'], check: (run) => ({ status: run === null ? 'pass' : 'fail', reason: 'no run.json, as --version writes none' }) },
        { name: 'bad:args', args: ['--patch', 'nosuch'] },
      ],
      out,
      { index: 2, count: 2 },
    );
    t.is(r.exitCode, 1);
    const rows = JSON.parse(fs.readFileSync(path.join(out, 'matrix.json'), 'utf8')) as { cell: string; status: string; exitCode: number; dir: string; shard: string; reason: string }[];
    t.deepEqual(rows.map((x) => [x.cell, x.status, x.exitCode, x.dir, x.shard]), [['listed', 'pass', 0, 'listed', '2/2'], ['bad:args', 'error', 2, 'bad_args', '2/2']]);
    t.regex(rows[1]!.reason, /unknown patch set 'nosuch'/);
    t.true((rows[0] as { checked?: boolean }).checked, 'a check judged the first cell');
    t.regex(fs.readFileSync(path.join(out, 'matrix.md'), 'utf8'), /\| bad:args \| error \| 2 \|/);
    t.deepEqual(Object.keys(JSON.parse(fs.readFileSync(durations, 'utf8'))), ['listed'], 'a usage error measured nothing');
  } finally {
    if (before === undefined) delete process.env.KL_DURATIONS;
    else process.env.KL_DURATIONS = before;
  }
});
