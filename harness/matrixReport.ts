// Matrix results: the rows a nightly shard writes (matrix.json, matrix.md), and the report
// that merges several shards' directories and LAVA imports into one matrix and one
// junit.xml, with the cells a plan expected and no directory holds called missing.
import fs from 'node:fs';
import path from 'node:path';
import { create } from 'xmlbuilder2';
import { UsageError } from './errors.ts';
import { cellDir, recordDurations, type MatrixPlan } from './matrix.ts';
import { exitCodeFor, xmlText } from './stages/results.ts';
import type { RunRecord, TestRecord } from './types.ts';

/** One cell's outcome, as matrix.json holds it. */
export interface MatrixRow {
  cell: string;
  status: string; // a run's status, a check's pass/fail, or missing (matrix-report)
  exitCode: number | null; // the lab's exit code for the cell (null: it did not run)
  reason: string;
  minutes: number | null; // measured wall clock (null: not measured, e.g. a LAVA import)
  dir: string | null; // the cell's results directory, relative to the matrix directory
  shard?: string | null; // i/n of the nightly run that ran it
  checked?: boolean; // the cell's check judged its run.json (its tests' own statuses are not the verdict)
  from?: string; // matrix-report: the directory it came from
}

export function matrixMarkdown(rows: MatrixRow[]): string {
  const cellText = (s: unknown) => String(s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return ['| cell | status | exit | minutes | reason |', '|---|---|---|---|---|', ...rows.map((r) => `| ${cellText(r.cell)} | ${r.status} | ${r.exitCode ?? '-'} | ${r.minutes === null ? '-' : r.minutes.toFixed(1)} | ${cellText(r.reason)} |`)].join('\n');
}

/** matrix.json and matrix.md of a matrix directory. */
export function writeMatrix(dir: string, rows: MatrixRow[]): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'matrix.json'), `${JSON.stringify(rows, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'matrix.md'), `${matrixMarkdown(rows)}\n`);
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`matrix-report: ${file}: not readable JSON: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** A run.json's record, checked for the fields the report reads. */
function readRun(file: string): RunRecord {
  const run = readJson(file) as Partial<RunRecord>;
  if (!run || typeof run.status !== 'string' || !Array.isArray(run.tests)) throw new UsageError(`matrix-report: ${file}: not a run.json (no status or tests)`, 'give a directory written by npm run lab (--results) or import-lava');
  return run as RunRecord;
}

/** A cell's run.json inside a matrix directory, when it has one. */
function cellRunFile(matrixDir: string, row: Pick<MatrixRow, 'cell' | 'dir'>): string | null {
  const dir = path.join(matrixDir, row.dir ?? cellDir(row.cell));
  for (const f of [path.join(dir, 'latest', 'run.json'), path.join(dir, 'run.json')]) if (fs.existsSync(f)) return f;
  return null;
}

export interface ReportInput {
  dir: string;
  cell?: string; // NAME=DIR: the cell a run directory stands for
}

export interface ReportCell {
  row: MatrixRow;
  run: RunRecord | null;
}

/** The cells one DIR holds: a matrix directory's rows, or one run (a LAVA import). */
export function readInput(inp: ReportInput): ReportCell[] {
  const shown = inp.dir;
  let st: fs.Stats;
  try {
    st = fs.statSync(inp.dir);
  } catch {
    throw new UsageError(`matrix-report: ${shown}: no such directory`, 'give the --results DIR of each nightly shard, or a run directory of import-lava');
  }
  if (!st.isDirectory()) throw new UsageError(`matrix-report: ${shown}: not a directory`, 'give the --results DIR of each nightly shard, or a run directory of import-lava');
  const matrixFile = path.join(inp.dir, 'matrix.json');
  if (fs.existsSync(matrixFile)) {
    if (inp.cell !== undefined) throw new UsageError(`matrix-report: ${inp.cell}=${shown}: a matrix directory names its own cells`, `give ${shown} alone`);
    const rows = readJson(matrixFile);
    if (!Array.isArray(rows) || rows.some((r) => !r || typeof r.cell !== 'string' || typeof r.status !== 'string')) {
      throw new UsageError(`matrix-report: ${matrixFile}: not a matrix (an array of {cell, status, ...} rows)`, 'give the --results DIR of npm run lab -- nightly');
    }
    if (rows.length === 0) throw new UsageError(`matrix-report: ${matrixFile}: no cells`, 'did that shard run? (npm run lab -- nightly --shard i/n)');
    return (rows as MatrixRow[]).map((r) => {
      const runFile = cellRunFile(inp.dir, r);
      return { row: { ...r, dir: r.dir ?? null, minutes: typeof r.minutes === 'number' ? r.minutes : r.minutes === null || r.minutes === undefined ? null : Number(r.minutes), from: inp.dir }, run: runFile ? readRun(runFile) : null };
    });
  }
  const runFile = [path.join(inp.dir, 'run.json'), path.join(inp.dir, 'latest', 'run.json')].find((f) => fs.existsSync(f));
  if (!runFile) {
    throw new UsageError(`matrix-report: ${shown} holds no results (no matrix.json, run.json or latest/run.json)`, 'give the --results DIR of npm run lab -- nightly, or the run directory import-lava printed');
  }
  const run = readRun(runFile);
  const cell = inp.cell ?? path.basename(path.resolve(inp.dir));
  return [{ row: { cell, status: run.status, exitCode: exitCodeFor(run.status), reason: run.reason ?? '', minutes: null, dir: null, from: inp.dir }, run }];
}

/** `NAME=DIR` or `DIR`. */
export function parseReportInput(arg: string): ReportInput {
  const m = /^([^=/]+)=(.+)$/.exec(arg);
  return m ? { cell: m[1]!, dir: m[2]! } : { dir: arg };
}

export function readPlan(file: string): MatrixPlan {
  const p = readJson(file) as Partial<MatrixPlan>;
  if (!p || p.schema !== 'kernel-lab-plan/1' || !Array.isArray(p.cells)) throw new UsageError(`matrix-report: --plan ${file}: not a plan (schema kernel-lab-plan/1)`, 'write it with npm run lab -- plan --json --nightly > plan.json');
  return p as MatrixPlan;
}

function junit(cells: ReportCell[]): string {
  const x = xmlText;
  const root = create({ version: '1.0', encoding: 'UTF-8' }).ele('testsuites', { name: 'kernel-lab matrix' });
  for (const { row, run } of cells) {
    const tests: TestRecord[] = run?.tests ?? [];
    const failing = (t: TestRecord) => !t.known && (t.status === 'fail' || (run?.options?.failOnFlaky && t.status === 'flaky'));
    const erring = (t: TestRecord) => !t.known && (t.status === 'timeout' || t.status === 'error');
    const cellBad = row.status !== 'pass';
    const s = root.ele('testsuite', {
      name: x(row.cell),
      tests: tests.length + 1,
      failures: (row.checked ? 0 : tests.filter(failing).length) + (cellBad && row.status !== 'missing' ? 1 : 0),
      errors: (row.checked ? 0 : tests.filter(erring).length) + (row.status === 'missing' ? 1 : 0),
      skipped: row.checked ? 0 : tests.filter((t) => t.status === 'skip' || t.known).length,
    });
    // The cell's own verdict is a testcase too: a crash outside any test, a check, a
    // build-each or rebase-check cell, and a missing cell all show in the report.
    const v = s.ele('testcase', { classname: x(row.cell), name: 'cell verdict', time: (row.minutes ?? 0) * 60 });
    if (row.status === 'missing') v.ele('error', { message: x(row.reason) });
    else if (cellBad) v.ele('failure', { message: x(`${row.status}: ${row.reason}`) });
    for (const t of tests) {
      const c = s.ele('testcase', { classname: x(row.cell), name: x(`${t.suite}/${t.name}`), time: t.durationS });
      const crash = run?.crashes?.find((k) => k.test === `${t.suite}/${t.name}`);
      if (row.checked) {
        // A check cell provokes what it checks (a panic, a hang): its verdict testcase says
        // whether that came; the tests' own statuses are kept as a property, not as failures.
        c.ele('properties').ele('property', { name: 'status', value: t.status });
        continue;
      }
      if (t.known) c.ele('skipped', { message: x(`known issue (${t.status}): ${t.known.reason}`) });
      else if (t.status === 'skip') c.ele('skipped', { message: x(t.reason ?? '') });
      else if (failing(t)) c.ele('failure', { message: x(t.reason ?? t.status) });
      else if (erring(t)) c.ele('error', { message: x(t.reason ?? t.status) });
      if (crash) c.ele('error', { message: x(`kernel report: ${crash.title}`), type: x(crash.type) });
    }
  }
  return root.end({ prettyPrint: true });
}

export interface ReportResult {
  rows: MatrixRow[];
  missing: string[];
  exitCode: number; // 0 every cell passed, 1 a cell did not pass or is missing
}

/**
 * Merge the inputs into out/: matrix.json, matrix.md, junit.xml. With a plan, a planned
 * cell no input holds is a row of its own, status missing. A cell in two inputs is bad input.
 */
export function matrixReport(inputs: ReportInput[], o: { out: string; plan?: MatrixPlan; saveDurations?: boolean }): ReportResult {
  if (inputs.length === 0) throw new UsageError('matrix-report needs at least one DIR', 'npm run lab -- matrix-report results/shard-1 results/shard-2 [--plan plan.json]');
  const cells: ReportCell[] = [];
  const seen = new Map<string, string>();
  for (const inp of inputs) {
    for (const c of readInput(inp)) {
      const before = seen.get(c.row.cell);
      if (before !== undefined) throw new UsageError(`matrix-report: cell ${c.row.cell} is in both ${before} and ${inp.dir}`, 'give each cell\'s results once');
      seen.set(c.row.cell, inp.dir);
      cells.push(c);
    }
  }
  const missing: string[] = [];
  if (o.plan) {
    const order = new Map(o.plan.cells.map((c, i) => [c.name, i]));
    for (const c of o.plan.cells) {
      if (seen.has(c.name)) continue;
      missing.push(c.name);
      cells.push({ row: { cell: c.name, status: 'missing', exitCode: null, reason: `planned${c.shard ? ` on shard ${c.shard}/${o.plan.shardCount}` : ''}, but no DIR holds its result`, minutes: null, dir: null, shard: c.shard ? `${c.shard}/${o.plan.shardCount}` : null }, run: null });
    }
    // the plan's order (the matrix's), then cells it did not plan
    cells.sort((a, b) => (order.get(a.row.cell) ?? Infinity) - (order.get(b.row.cell) ?? Infinity));
  }
  const rows = cells.map((c) => c.row);
  writeMatrix(o.out, rows);
  fs.writeFileSync(path.join(o.out, 'junit.xml'), junit(cells));
  if (o.saveDurations) recordDurations(Object.fromEntries(rows.filter((r) => r.minutes !== null && (r.exitCode === 0 || r.exitCode === 1)).map((r) => [r.cell, r.minutes!])));
  return { rows, missing, exitCode: rows.every((r) => r.status === 'pass') ? 0 : 1 };
}
