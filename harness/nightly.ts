// The nightly runner: the matrix's cells (all, or one shard's) one after another, each as
// its own `npm run lab` process with its own results directory; every cell gets a verdict
// and the matrix never stops early. Each cell's measured minutes go to the durations file,
// which the next plan shards by.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { UsageError } from './errors.ts';
import { log } from './log.ts';
import { cellDir, nightlyCells, planMatrix, recordDurations, type Cell, type MatrixPlan, type ShardSpec } from './matrix.ts';
import { matrixMarkdown, writeMatrix, type MatrixRow } from './matrixReport.ts';
import { paths } from './paths.ts';
import type { RunRecord } from './types.ts';

/** The cells to run: all, the shard's by the current durations, or the shard's of a saved plan (what a CI's plan job decided). */
export function selectCells(all: Cell[], o: { shard?: ShardSpec; plan?: MatrixPlan }): Cell[] {
  if (o.plan) {
    const known = new Set(all.map((c) => c.name));
    const unknown = o.plan.cells.find((c) => !known.has(c.name));
    if (unknown) throw new UsageError(`--plan: cell ${unknown.name} is not in this checkout's matrix`, 'plan and run from the same commit');
    if (o.shard && o.plan.shardCount !== o.shard.count) throw new UsageError(`--plan was made for ${o.plan.shardCount ?? 'no'} shards, not ${o.shard.count}`, 'plan with --shards N and run with --shard i/N');
    const names = new Set(o.plan.cells.filter((c) => !o.shard || c.shard === o.shard.index).map((c) => c.name));
    return all.filter((c) => names.has(c.name));
  }
  if (!o.shard) return all;
  const names = new Set(planMatrix(all, { matrix: 'nightly', shard: o.shard }).cells.map((c) => c.name));
  return all.filter((c) => names.has(c.name));
}

async function runCell(cell: Cell, dir: string): Promise<Omit<MatrixRow, 'minutes' | 'dir' | 'shard'>> {
  const rebase = cell.args[0] === 'rebase-check';
  const p = await execa('node', [path.join(paths.repoRoot, 'scripts', 'lab.mjs'), ...cell.args, ...(rebase ? [] : ['--results', dir])], {
    cwd: paths.repoRoot,
    reject: false,
    stdin: 'ignore',
    stdout: ['pipe', 'inherit'],
    stderr: ['pipe', 'inherit'],
  });
  const stdout = String(p.stdout ?? '');
  const stderr = String(p.stderr ?? '');
  let run: Partial<RunRecord> | null = null;
  if (rebase) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'rebase-check.txt'), stdout);
    run = { status: p.exitCode === 0 ? 'pass' : p.exitCode === 1 ? 'fail' : 'error', reason: stdout.trim().split('\n').join('; ') };
  }
  try {
    run = JSON.parse(fs.readFileSync(path.join(dir, 'latest', 'run.json'), 'utf8')) as RunRecord;
  } catch {
    // no run.json: build-each, rebase-check, or a run that stopped before it had a directory
  }
  const eachFile = path.join(dir, 'latest', 'build-each.json');
  if (!run && fs.existsSync(eachFile)) {
    const each = (JSON.parse(fs.readFileSync(eachFile, 'utf8')) as { results: { status: string; set: string; patch: string; error?: string }[] }).results;
    const bad = each.find((x) => x.status === 'fail');
    run = { status: bad ? 'fail' : 'pass', reason: bad ? `${bad.set}/${bad.patch} does not build: ${bad.error}` : `all ${each.length} patches build` };
  }
  if (cell.check) {
    const c = cell.check(run as RunRecord | null);
    return { cell: cell.name, status: c.status, exitCode: c.status === 'pass' ? 0 : 1, reason: c.reason, checked: true };
  }
  return { cell: cell.name, status: run?.status ?? 'error', exitCode: p.exitCode ?? null, reason: run?.reason ?? stderr.trim().split('\n').pop() ?? '' };
}

/** Run the cells into out/ (a directory per cell, matrix.json and matrix.md after each); exit 0 when every cell passed. */
export async function runNightly(cells: Cell[], out: string, shard: ShardSpec | null): Promise<{ rows: MatrixRow[]; exitCode: number }> {
  fs.mkdirSync(out, { recursive: true });
  const rows: MatrixRow[] = [];
  log(`nightly${shard ? ` shard ${shard.index}/${shard.count}` : ''}: ${cells.length} cell(s) into ${out}`);
  for (const cell of cells) {
    const dir = cellDir(cell.name);
    const t0 = Date.now();
    log(`nightly: cell ${cell.name}: npm run lab -- ${cell.args.join(' ')}`);
    const r = await runCell(cell, path.join(out, dir));
    const minutes = Math.round((Date.now() - t0) / 6000) / 10;
    rows.push({ ...r, minutes, dir, shard: shard ? `${shard.index}/${shard.count}` : null });
    // Only a cell that reached a verdict (exit 0 or 1) measured the cell: a usage or lab
    // error stops early and would make the next plan think the cell is short.
    if (r.exitCode === 0 || r.exitCode === 1) recordDurations({ [cell.name]: minutes });
    writeMatrix(out, rows); // as it goes: a matrix cut short still says what ran
  }
  writeMatrix(out, rows);
  process.stdout.write(`${matrixMarkdown(rows)}\n`);
  return { rows, exitCode: rows.every((r) => r.exitCode === 0) ? 0 : 1 };
}

export function defaultNightlyDir(): string {
  const stamp = new Date().toISOString().slice(0, 16).replace(/[:T]/g, '');
  return path.join(paths.repoRoot, 'results', `nightly-${stamp}`);
}

export { nightlyCells };
