// Issue 18's "done when": a matrix run as three shards, in three processes, and merged by
// matrix-report is the matrix one unsharded run gives. Real kernels in QEMU, on a matrix of
// quick cells (test/fixtures/matrix/quick.cells.json, via --cells): four cells on the
// base kernel, seconds each once the base is built.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { MatrixPlan } from '../../harness/matrix.ts';
import type { MatrixRow } from '../../harness/matrixReport.ts';
import { repoRoot } from '../../harness/paths.ts';
import { labCommand, type LabCommand } from './helpers.ts';

const CELLS = path.join(repoRoot, 'test', 'fixtures', 'matrix', 'quick.cells.json');
const SHARDS = 3;
const tail = (r: LabCommand) => `${r.stdout.split('\n').slice(-8).join('\n')}\n${r.stderr.split('\n').slice(-12).join('\n')}`;

/** The report's matrix, less what differs between two runs of it (minutes, directories, shard labels, run ids). */
interface ReportedMatrix {
  cells: { cell: string; status: string; exitCode: number | null; reason: string }[];
  /** per cell: each testcase of junit.xml (the cell's verdict among them) and its outcome */
  tests: Record<string, string[]>;
}

function readReport(out: string): ReportedMatrix {
  const rows = JSON.parse(fs.readFileSync(path.join(out, 'matrix.json'), 'utf8')) as MatrixRow[];
  const junit = fs.readFileSync(path.join(out, 'junit.xml'), 'utf8');
  const tests: Record<string, string[]> = {};
  for (const m of junit.matchAll(/<testcase classname="([^"]*)" name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = m[4] ?? '';
    const outcome = /<failure/.test(body) ? 'failure' : /<error/.test(body) ? 'error' : /<skipped/.test(body) ? 'skipped' : 'passed';
    (tests[m[1]!] ??= []).push(`${m[2]} ${outcome}`);
  }
  return { cells: rows.map((r) => ({ cell: r.cell, status: r.status, exitCode: r.exitCode, reason: r.reason })), tests };
}

test('three shards in three processes, merged by matrix-report, are the matrix of one unsharded run; a missing shard is named', async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-shard-'));
  // The runner records each cell's minutes; the cells' names (base among them) must not
  // reach the lab cache's durations file, which shards the real nightly matrix.
  const env = { KL_DURATIONS: path.join(work, 'durations.json') };
  const planFile = path.join(work, 'plan.json');

  const planned = await labCommand(['plan', '--json', '--cells', CELLS, '--shards', String(SHARDS)], env);
  t.is(planned.exitCode, 0, tail(planned));
  fs.writeFileSync(planFile, planned.stdout);
  const plan = JSON.parse(planned.stdout) as MatrixPlan;
  const cellNames = (JSON.parse(fs.readFileSync(CELLS, 'utf8')) as { name: string }[]).map((c) => c.name);
  t.deepEqual(plan.cells.map((c) => c.name), cellNames, 'the plan lists every cell of the file');
  t.deepEqual(plan.shards.flatMap((s) => s.cells).sort(), [...cellNames].sort(), 'the shards partition the cells');
  t.true(plan.shards.every((s) => s.cells.length > 0), `every shard has work: ${JSON.stringify(plan.shards.map((s) => s.cells))}`);

  // The shards run at once, as CI's shard jobs do, each its own nightly process with its own
  // --results. The machine has 2 cores and three TCG guests then share them, which is
  // reliable here because each cell's guest runs for seconds against suite timeouts of
  // minutes; the unsharded run comes after, so no more than three guests boot at once.
  const shardDirs = plan.shards.map((s) => path.join(work, `shard-${s.index}`));
  const t0 = Date.now();
  const shards = await Promise.all(plan.shards.map((s, i) => labCommand(['nightly', '--cells', CELLS, '--plan', planFile, '--shard', s.shard, '--results', shardDirs[i]!], env)));
  const shardSeconds = (Date.now() - t0) / 1000;
  shards.forEach((r, i) => {
    t.is(r.exitCode, 0, `shard ${plan.shards[i]!.shard}: ${tail(r)}`);
    const rows = JSON.parse(fs.readFileSync(path.join(shardDirs[i]!, 'matrix.json'), 'utf8')) as MatrixRow[];
    t.deepEqual(rows.map((x) => [x.cell, x.shard]), plan.shards[i]!.cells.map((c) => [c, plan.shards[i]!.shard]), `shard ${plan.shards[i]!.shard} ran the cells its plan gave it`);
  });
  const whole = await labCommand(['nightly', '--cells', CELLS, '--results', path.join(work, 'unsharded')], env);
  t.is(whole.exitCode, 0, tail(whole));
  t.log(`shards at once: ${shardSeconds.toFixed(0)} s; unsharded: ${whole.seconds.toFixed(0)} s`);

  const report = async (name: string, dirs: string[]) => {
    const out = path.join(work, name);
    const r = await labCommand(['matrix-report', ...dirs, '--plan', planFile, '--out', out], env);
    return { r, out };
  };
  const sharded = await report('report-sharded', shardDirs);
  t.is(sharded.r.exitCode, 0, tail(sharded.r));
  const unsharded = await report('report-unsharded', [path.join(work, 'unsharded')]);
  t.is(unsharded.r.exitCode, 0, tail(unsharded.r));
  const a = readReport(sharded.out);
  const b = readReport(unsharded.out);
  t.deepEqual(a.cells.map((c) => c.cell), cellNames, 'every cell exactly once in the sharded report, in the plan\'s order');
  t.true(a.cells.every((c) => c.status === 'pass'), JSON.stringify(a.cells));
  for (const c of cellNames) {
    t.is(a.tests[c]?.filter((x) => x.startsWith('cell verdict ')).length, 1, `${c}: one verdict testcase`);
    t.true((a.tests[c]?.length ?? 0) > 1, `${c}: its tests are in junit.xml`);
  }
  t.deepEqual(a.cells, b.cells, 'the same cells with the same verdicts');
  t.deepEqual(a.tests, b.tests, 'the same tests with the same outcomes, cell by cell');

  // Drop a shard that ran one cell: the report names that cell missing and fails.
  const dropped = plan.shards.findIndex((s) => s.cells.length === 1);
  t.true(dropped >= 0, 'a shard of one cell to drop');
  const lost = plan.shards[dropped]!.cells[0]!;
  const partial = await report('report-partial', shardDirs.filter((_, i) => i !== dropped));
  t.is(partial.r.exitCode, 1, tail(partial.r));
  t.regex(partial.r.stdout, new RegExp(`^missing: ${lost}$`, 'm'));
  const rows = JSON.parse(fs.readFileSync(path.join(partial.out, 'matrix.json'), 'utf8')) as MatrixRow[];
  t.deepEqual(rows.filter((x) => x.status === 'missing').map((x) => x.cell), [lost]);
  t.regex(rows.find((x) => x.cell === lost)!.reason, new RegExp(`planned on shard ${plan.shards[dropped]!.shard}, but no DIR holds its result`));
});
