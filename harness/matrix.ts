// The nightly matrix as data: one list of cells (a cell is the arguments of one lab run, and
// optionally a check of its run.json), which `make nightly`, `plan --nightly` and the shard
// runner all read. Each cell's kernels are named by an input key, known before anything is
// built, so a CI can build each kernel once and run each cell as its own job.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { listPatchSets, listSuites, loadSuite } from './catalog.ts';
import { UsageError } from './errors.ts';
import { sha256File } from './hash.ts';
import { paths } from './paths.ts';
import { plan, type Plan } from './plan.ts';
import { parseRunArgs } from './runArgs.ts';
import type { BaseRequest } from './base.ts';
import type { RunOptions, RunRecord } from './types.ts';

export interface CellVerdict {
  status: 'pass' | 'fail';
  reason: string;
}

export interface Cell {
  name: string;
  /** `npm run lab -- <args>`; a run (not rebase-check) also gets `--results <cell dir>` */
  args: string[];
  /** the cell's verdict from its run.json, when the run's own status is not the point */
  check?: (run: RunRecord | null) => CellVerdict;
}

/** A cell's results directory inside a matrix directory. */
export function cellDir(name: string): string {
  return name.replace(/[^\w.-]/g, '_');
}

/** The nightly matrix of this checkout's patch sets and suites. */
export function nightlyCells(): Cell[] {
  const sets = listPatchSets();
  const suites = listSuites();
  const benches = suites.filter((n) => loadSuite(n).bench === true);
  const stack = sets.join(',');
  return [
    // do our sets still apply to Debian's newest 6.12? (we hear of a point release before users do)
    ...(sets.length ? [{ name: 'rebase-check:latest', args: ['rebase-check', '--base', 'latest'] }] : []),
    { name: 'base', args: ['--patch', 'none'] },
    // every patch of every set builds on its prefix (the series bisect)
    ...(sets.length ? [{ name: `build-each:${stack}`, args: ['build-each', '--patch', stack] }] : []),
    ...sets.map((s) => ({ name: s, args: ['--patch', s, '--compare-baseline'] })),
    ...(sets.length > 1 ? [{ name: `stack:${stack}`, args: ['--patch', stack] }] : []),
    { name: `debug:${stack || 'none'}`, args: ['--patch', stack || 'none', '--debug'] },
    { name: `kmemleak:${stack || 'none'}`, args: ['--patch', stack || 'none', '--kmemleak'] },
    ...(benches.length ? [{ name: 'bench', args: ['--patch', stack || 'none', '--suite', benches.join(',')] }] : []),
    // The stack with BTF (what a BPF user's kernel carries; pahole encodes it at link time)
    // under the uring-bpf suite. BTF needs DWARF to be made from: base.config builds none.
    ...(sets.length && suites.includes('uring-bpf')
      ? [{ name: `btf:${stack}`, args: ['--patch', stack, '--config-item', 'CONFIG_DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT=y', '--config-item', 'CONFIG_DEBUG_INFO_BTF=y', '--suite', 'uring-bpf'] }]
      : []),
    // A --debug kernel names where a report happened and whom to tell: the lab's own lkdtm
    // crash types, one UBSAN shift; the cell passes when the report carries file:line and maintainers.
    {
      name: 'debug-symbolize',
      args: ['--patch', 'test/fixtures/lab-crashers', '--debug', '--exec', 'echo UBSAN_SHIFT > /sys/kernel/debug/provoke-crash/DIRECT'],
      check: symbolizeCheck,
    },
    // A --debug kernel that panics, or hangs (the post-mortem NMI panics it), leaves a memory
    // dump: kept (the run failed), a plain kdump file, and for the hang the stuck task named.
    {
      name: 'debug-dump-panic',
      args: ['--patch', 'none', '--debug', '--exec', 'echo PANIC > /sys/kernel/debug/provoke-crash/DIRECT'],
      check: (run) => dumpCheck(run, null),
    },
    {
      name: 'debug-dump-hang',
      args: ['--patch', 'none', '--debug', '--exec', 'echo HUNG_TASK > /sys/kernel/debug/provoke-crash/DIRECT', '--timeout', '90'],
      check: (run) => dumpCheck(run, 'lkdtm_HUNG_TASK'),
    },
    // liburing's own tests (Debian's 2.3-3), all of them: long under TCG, so nightly only
    // (make test runs liburing-quick). Known base non-passes: suites/liburing/expected/.
    // The base, each set alone and the stack, each against its baseline: a difference
    // found on the stack is then charged to a set, or to the sets together.
    ...(suites.includes('liburing')
      ? [
          { name: 'liburing:base', args: ['--patch', 'none', '--suite', 'liburing'] },
          ...(sets.length > 1 ? sets.map((s) => ({ name: `liburing:${s}`, args: ['--patch', s, '--suite', 'liburing', '--compare-baseline'] })) : []),
          ...(sets.length ? [{ name: `liburing:${stack}`, args: ['--patch', stack, '--suite', 'liburing', '--compare-baseline'] }] : []),
        ]
      : []),
    // rdma-bzc under faults (SIGKILL with commands in flight, netem loss and reorder between
    // two guests, failslab), 3 times over: timing decides whether a race shows. The siw double
    // completion rdma-bzc's patch 1 fixes took its window about once in 30 kills; each run of
    // a kill9 test kills 10 children (its manifest), so 30 kills a night, about half a second
    // each. The netem tests take 3 min a run (rxe's go-back-N under loss), so not 30 runs.
    ...(suites.includes('rdma-bzc-faults') && sets.includes('rdma-bzc')
      ? [{ name: 'faults:rdma-bzc', args: ['--patch', 'rdma-bzc', '--suite', 'rdma-bzc-faults', '--repeat', '3'] }]
      : []),
    // rdma-bzc's open bugs (suites/rdma-bzc-open): red, or flaky, until they are fixed.
    ...(suites.includes('rdma-bzc-open') && sets.includes('rdma-bzc')
      ? [{ name: 'open:rdma-bzc', args: ['--patch', 'rdma-bzc', '--suite', 'rdma-bzc-open', '--repeat', '4'] }]
      : []),
    // The kernel's own mm selftests that pin memory through io_uring (cow, gup_longterm),
    // each set alone and the stack against the base: a table of subtests that changed.
    ...(suites.includes('kselftest-mm')
      ? [...sets, ...(sets.length > 1 ? [stack] : [])].map((p) => ({ name: `kselftest-mm:${p}`, args: ['--patch', p, '--suite', 'kselftest-mm', '--compare-baseline'] }))
      : []),
    // The kernel's own BPF verifier selftest (test_verifier, no BTF needed): does a set that
    // touches the verifier's tables change any verdict? make test runs it on the base only.
    ...(suites.includes('kselftest-bpf')
      ? [...sets, ...(sets.length > 1 ? [stack] : [])].map((p) => ({ name: `kselftest-bpf:${p}`, args: ['--patch', p, '--suite', 'kselftest-bpf', '--compare-baseline'] }))
      : []),
  ];
}

/**
 * A matrix of one's own, in place of the nightly one (plan --cells, nightly --cells): a JSON
 * array of {"name", "args"}, args as a nightly cell writes them (relative paths are the
 * checkout's). No checks: a cell's verdict is its run's. Bad input is a usage error naming
 * the file and the cell.
 */
export function readCellsFile(file: string): Cell[] {
  const hint = 'a JSON array of cells: [{"name": "base", "args": ["--patch", "none"]}, ...]';
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--cells ${file}: not readable JSON: ${(err as Error).message.split('\n')[0]}`, hint);
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new UsageError(`--cells ${file}: not a non-empty array of cells`, hint);
  const dirs = new Map<string, string>();
  return raw.map((c: unknown, i) => {
    const { name, args, ...rest } = (c ?? {}) as { name?: unknown; args?: unknown };
    const what = `--cells ${file}: cell ${i + 1}${typeof name === 'string' ? ` (${name})` : ''}`;
    if (typeof name !== 'string' || name.trim() === '') throw new UsageError(`${what}: "name" must be a non-empty string`, hint);
    if (!Array.isArray(args) || args.length === 0 || args.some((a) => typeof a !== 'string')) throw new UsageError(`${what}: "args" must be a non-empty array of strings`, hint);
    const extra = Object.keys(rest);
    if (extra.length) throw new UsageError(`${what}: unknown field "${extra[0]}"`, hint);
    // Each cell gets a results directory named after it: two names, one directory, is one cell's results overwritten.
    const before = dirs.get(cellDir(name));
    if (before !== undefined) throw new UsageError(`${what}: its results directory ${cellDir(name)} is also cell ${before}'s`, 'give each cell a name of its own');
    dirs.set(cellDir(name), name);
    return { name, args: args as string[] };
  });
}

function symbolizeCheck(run: RunRecord | null): CellVerdict {
  const c = run?.crashes?.[0];
  const ok = run?.status === 'crash' && /^drivers\/misc\/lkdtm\/lab\.c:\d+$/.test(c?.location ?? '') && (c?.maintainers ?? []).length > 0;
  if (ok) return { status: 'pass', reason: `${c!.title} at ${c!.location}; ${c!.maintainers!.join(', ')}` };
  return { status: 'fail', reason: `expected a located UBSAN report, got ${JSON.stringify(c ? { title: c.title, location: c.location, maintainers: c.maintainers } : run?.reason)}` };
}

/** A dump kept as a plain kdump file; with stuckIn, the post-mortem names a D-state task there. */
export function dumpCheck(run: RunRecord | null, stuckIn: string | null): CellVerdict {
  const d = run?.dump;
  let sig = '';
  try {
    const fd = fs.openSync(d!.file!, 'r');
    const b = Buffer.alloc(8);
    fs.readSync(fd, b, 0, 8, 0);
    fs.closeSync(fd);
    sig = b.toString('latin1');
  } catch {
    // no dump file: the signature stays empty and the check fails below
  }
  const stuck = stuckIn ? run?.postmortem?.tasks?.find((t) => t.where === stuckIn) : null;
  const ok = d !== undefined && sig === 'KDUMP   ' && d.bytes > 0 && (!stuckIn || stuck);
  if (ok) return { status: 'pass', reason: `${(d.bytes / 2 ** 20).toFixed(0)} MiB kdump in ${d.seconds.toFixed(1)} s${stuck ? `; pid ${stuck.pid} stuck in ${stuckIn}` : ''}` };
  return {
    status: 'fail',
    reason: `expected a kept kdump file${stuckIn ? ` and a task stuck in ${stuckIn}` : ''}, got ${JSON.stringify(d ? { file: d.file, kept: d.kept, signature: sig } : run?.reason)}${stuckIn ? `, stuck: ${JSON.stringify(run?.postmortem?.tasks?.map((t) => t.where))}` : ''}`,
  };
}

// ---- kernels: what a cell builds, named before it is built ----

/**
 * Bump when what goes into an input key changes. The input key is not the build key: that
 * one (stages/build.ts buildKey) hashes the final .config and the compiler, which only the
 * config stage (make) knows. Two cells with one input key build one kernel; two input keys
 * may still turn out one build key (fragments that make the same .config).
 */
const INPUT_RECIPE = 'kl-input-1';

export interface KernelInput {
  inputKey: string;
  /** what it is, for people: "fused,ublk-zc +debug", "base" */
  label: string;
  sets: string[];
  base: string; // the pinned tarball's sha256, or what --base asked for
  variant: string; // default, debug, kmemleak, debug-kmemleak
  fragments: string[]; // where each config fragment came from, in merge order
  patches: number;
}

function baseIdentity(b: BaseRequest, kernelSrc: string | null): string {
  if (kernelSrc !== null) return `kernel-src ${path.resolve(kernelSrc)}`;
  const pinned = `${b.pin.package} sha256:${b.pin.sha256}`;
  if (b.want.kind === 'pin' || (b.want.kind === 'version' && b.want.version === b.pin.version)) return pinned;
  // Resolved only when the source stage asks the archive: the key names the request.
  return `${b.pin.package} ${b.want.kind === 'version' ? b.want.version : b.want.kind}`;
}

function kernelOf(opts: RunOptions, p: Plan, base: BaseRequest): KernelInput {
  const patchFiles = p.sets.flatMap((s) => s.patches);
  const variant = [opts.debug ? 'debug' : '', opts.kmemleak ? 'kmemleak' : ''].filter(Boolean).join('-') || 'default';
  const identity = {
    recipe: INPUT_RECIPE,
    base: baseIdentity(base, opts.kernelSrc),
    patches: patchFiles.map((f) => sha256File(f)),
    variant,
    fragments: p.fragments.map((f) => f.text),
  };
  const inputKey = crypto.createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 24);
  const sets = p.sets.map((s) => s.name);
  const extra = [opts.debug ? '+debug' : '', opts.kmemleak ? '+kmemleak' : '', opts.configItems.length || opts.configFragments.length ? '+config' : ''].filter(Boolean);
  return { inputKey, label: [sets.join(',') || 'base', ...extra].join(' '), sets, base: identity.base, variant, fragments: p.fragments.map((f) => f.source), patches: patchFiles.length };
}

/**
 * The kernels a run builds: the patched one, and with --compare-baseline the unpatched one
 * its baseline run builds (pipeline.ts: the same suites and options on the same base, no sets).
 */
export function runKernels(opts: RunOptions): KernelInput[] {
  const p = plan(opts);
  const patched = kernelOf(opts, p, p.base);
  if (!opts.compareBaseline || p.sets.length === 0) return [patched];
  const baseOpts: RunOptions = { ...opts, patch: [], suites: opts.exec === null ? (opts.suites ?? p.suites.map((s) => s.name)) : null, compareBaseline: false, label: 'baseline' };
  return [patched, kernelOf(baseOpts, plan(baseOpts), p.base)];
}

/** A cell's kernels; rebase-check builds none, build-each builds each prefix of the series in a tree of its own. */
export function cellKernels(cell: Cell): KernelInput[] {
  if (cell.args[0] === 'rebase-check' || cell.args[0] === 'build-each') return [];
  // A cell's relative paths (a fixture series, a fragment) are the checkout's, as the
  // runner runs cells from there, whatever directory plan is called from.
  const args = cell.args.map((a, i) => (['--patch', '--config'].includes(cell.args[i - 1] ?? '') && a.includes('/') && !path.isAbsolute(a) && !a.startsWith('lore:') ? path.join(paths.repoRoot, a) : a));
  return runKernels(parseRunArgs(args, `cell ${cell.name}`));
}

// ---- durations and shards ----

/** Minutes a cell with no measured duration is taken to last. */
export const DEFAULT_CELL_MINUTES = 30;

export function durationsFile(): string {
  return process.env.KL_DURATIONS ?? path.join(paths.cacheRoot, 'nightly-durations.json');
}

/** Each cell's last measured minutes; a missing or unreadable file is no measurements. */
export function readDurations(file = durationsFile()): Record<string, number> {
  try {
    const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return {};
    return Object.fromEntries(Object.entries(raw).filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] >= 0));
  } catch {
    return {};
  }
}

/** Merge measured minutes into the durations file (written whole or not at all). */
export function recordDurations(measured: Record<string, number>, file = durationsFile()): void {
  if (Object.keys(measured).length === 0) return;
  const all = { ...readDurations(file), ...measured };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(Object.fromEntries(Object.entries(all).sort(([a], [b]) => a.localeCompare(b))), null, 2)}\n`);
  fs.renameSync(tmp, file);
}

export interface ShardSpec {
  index: number; // 1-based
  count: number;
}

export function parseShard(v: string, option = '--shard'): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new UsageError(`${option} takes i/n with 1 <= i <= n, not '${v}'`, 'e.g. --shard 2/3: the second of three shares');
  return { index, count };
}

export interface ShardItem {
  name: string;
  kernels: string[]; // input keys, the cell's own (patched) kernel first
  minutes: number;
}

/**
 * Cells to shards, 1..count: greedy longest-first bin packing. A cell goes to the least
 * loaded shard, unless a shard that already builds one of its kernels (its own kernel first,
 * then its baseline's) can take it without going over the even share: then there, so a
 * kernel is built on as few shards as balance allows. Ties go by name and by shard number:
 * the same cells and minutes always give the same shards.
 */
export function assignShards(items: ShardItem[], count: number): Map<string, number> {
  const order = [...items].sort((a, b) => b.minutes - a.minutes || a.name.localeCompare(b.name));
  const total = items.reduce((s, c) => s + c.minutes, 0);
  const share = total / count;
  const load = new Array<number>(count).fill(0);
  const kernelsOn: Set<string>[] = Array.from({ length: count }, () => new Set<string>());
  const out = new Map<string, number>();
  for (const c of order) {
    let least = 0;
    for (let i = 1; i < count; i++) if (load[i]! < load[least]!) least = i;
    let pick = least;
    for (const k of c.kernels) {
      let best = -1;
      for (let i = 0; i < count; i++) if (kernelsOn[i]!.has(k) && (best < 0 || load[i]! < load[best]!)) best = i;
      if (best >= 0 && load[best]! + c.minutes <= share + 1e-9) {
        pick = best;
        break;
      }
    }
    load[pick]! += c.minutes;
    for (const k of c.kernels) kernelsOn[pick]!.add(k);
    out.set(c.name, pick + 1);
  }
  return out;
}

// ---- the plan: kernels, cells and shards as JSON ----

export interface PlannedCell {
  name: string;
  args: string[];
  kernels: string[]; // input keys
  minutes: number;
  estimated: boolean; // no measured duration: DEFAULT_CELL_MINUTES
  shard: number | null; // 1-based, when sharded
}

export interface PlannedShard {
  shard: string; // "i/n", as --shard takes it
  index: number;
  cells: string[];
  kernels: string[];
  minutes: number;
  /** one key for the shard's kernels together: a CI's cache key for its lab cache */
  kernelsKey: string;
}

export interface MatrixPlan {
  schema: 'kernel-lab-plan/1';
  /** nightly: nightlyCells(); cells: a --cells file's; options: the one run plan's run options describe */
  matrix: 'nightly' | 'cells' | 'options';
  note: string;
  kernels: (KernelInput & { cells: string[] })[];
  cells: PlannedCell[];
  shardCount: number | null;
  /** with --shard i/n: the one shard listed (cells holds only its cells) */
  shard: string | null;
  shards: PlannedShard[];
}

export const INPUT_KEY_NOTE =
  'inputKey: sha256 of what determines a kernel before it is built (the base tarball pin, the patch files in order, the config fragments and --config-item items, the variant). It is not the build key: the build (stages/build.ts) keys its cache by the final .config and the compiler, which need make.';

export function planMatrix(cells: Cell[], o: { matrix: MatrixPlan['matrix']; shardCount?: number; shard?: ShardSpec; durations?: Record<string, number> }): MatrixPlan {
  const durations = o.durations ?? readDurations();
  const kernels = new Map<string, KernelInput & { cells: string[] }>();
  const planned: PlannedCell[] = cells.map((c) => {
    const ks = cellKernels(c);
    for (const k of ks) {
      const seen = kernels.get(k.inputKey) ?? { ...k, cells: [] };
      seen.cells.push(c.name);
      kernels.set(k.inputKey, seen);
    }
    const measured = durations[c.name];
    return { name: c.name, args: c.args, kernels: ks.map((k) => k.inputKey), minutes: measured ?? DEFAULT_CELL_MINUTES, estimated: measured === undefined, shard: null };
  });
  const count = o.shard?.count ?? o.shardCount ?? null;
  const shards: PlannedShard[] = [];
  if (count !== null) {
    const where = assignShards(planned, count);
    for (const c of planned) c.shard = where.get(c.name)!;
    for (let i = 1; i <= count; i++) {
      const mine = planned.filter((c) => c.shard === i);
      const ks = [...new Set(mine.flatMap((c) => c.kernels))];
      shards.push({
        shard: `${i}/${count}`,
        index: i,
        cells: mine.map((c) => c.name),
        kernels: ks,
        minutes: Math.round(mine.reduce((s, c) => s + c.minutes, 0) * 10) / 10,
        kernelsKey: crypto.createHash('sha256').update([...ks].sort().join('\n')).digest('hex').slice(0, 24),
      });
    }
  }
  const only = o.shard ? planned.filter((c) => c.shard === o.shard!.index) : planned;
  const used = new Set(only.flatMap((c) => c.kernels));
  return {
    schema: 'kernel-lab-plan/1',
    matrix: o.matrix,
    note: INPUT_KEY_NOTE,
    kernels: [...kernels.values()].filter((k) => used.has(k.inputKey)).map((k) => ({ ...k, cells: k.cells.filter((n) => only.some((c) => c.name === n)) })),
    cells: only,
    shardCount: count,
    shard: o.shard ? `${o.shard.index}/${o.shard.count}` : null,
    shards: o.shard ? shards.filter((s) => s.index === o.shard!.index) : shards,
  };
}

/** The plan for people: a line per kernel, then per shard or cell. */
export function planText(p: MatrixPlan): string {
  const out = [`${p.kernels.length} kernel(s), ${p.cells.length} cell(s)${p.shard ? `, shard ${p.shard}` : p.shardCount ? ` in ${p.shardCount} shards` : ''}`];
  for (const k of p.kernels) out.push(`  kernel ${k.inputKey}  ${k.label} (${k.patches} patches)  cells: ${k.cells.join(', ')}`);
  for (const c of p.cells) out.push(`  cell ${c.name}${c.shard ? ` [shard ${c.shard}]` : ''}  ${c.minutes} min${c.estimated ? ' (estimate)' : ''}  npm run lab -- ${c.args.join(' ')}`);
  for (const s of p.shards) out.push(`  shard ${s.shard}: ${s.cells.length} cells, ${s.kernels.length} kernels, ~${s.minutes} min`);
  out.push(`(${p.note})`);
  return out.join('\n');
}
