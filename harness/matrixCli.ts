// The matrix's subcommands: plan (the kernels and cells a CI runs), nightly (run the
// cells, or one shard of them) and matrix-report (merge shards' results into one verdict).
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { EXIT, UsageError } from './errors.ts';
import { nightlyCells, parseShard, planMatrix, planText, readCellsFile, type Cell, type ShardSpec } from './matrix.ts';
import { matrixMarkdown, matrixReport, parseReportInput, readPlan } from './matrixReport.ts';
import { defaultNightlyDir, runNightly, selectCells } from './nightly.ts';
import { paths } from './paths.ts';
import { addRunOptions, positiveInt, runOptionsFrom } from './runArgs.ts';

/** Parse a subcommand's arguments: --help prints and returns null; bad arguments are one usage line. */
function parse(cmd: Command, argv: string[], usage: string): Command | null {
  cmd.exitOverride().configureOutput({ writeErr: () => {} }).allowExcessArguments(false).helpOption('-h, --help', 'show this help');
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return null;
      throw new UsageError(`${cmd.name()}: ${err.message.replace(/^error: /, '')}`, usage);
    }
    throw err;
  }
  return cmd;
}

const shardOption = (v: string): ShardSpec => parseShard(v);

const CELLS_HELP = 'plan or run the cells of this JSON file ([{"name": "base", "args": ["--patch", "none"]}, ...]; args as a nightly cell writes them) instead of the nightly matrix: a matrix of one\'s own, e.g. a few quick cells to try the sharding on';

/** plan's arguments less its own options: the run's, as a cell writes them. */
function runArgsOf(argv: string[]): string[] {
  const out: string[] = [];
  for (let j = 0; j < argv.length; j++) {
    const a = argv[j]!;
    if (a === '--json' || a === '--nightly' || /^--(shards?|cells)=/.test(a)) continue;
    if (a === '--shard' || a === '--shards' || a === '--cells') {
      j++;
      continue;
    }
    out.push(a);
  }
  return out;
}

export function planCommand(argv: string[]): number {
  const usage = 'npm run lab -- plan [--json] (--nightly | --cells cells.json | --patch ... [run options]) [--shard i/n | --shards n]';
  const cmd = parse(
    addRunOptions(new Command('plan'))
      .usage('[--json] (--nightly | --cells <file> | --patch <set> [run options]) [--shard i/n | --shards n]')
      .description(
        'The matrix as kernels and cells, built and booted nothing: each distinct kernel (by its input key, a hash of what determines it: base pin, patch files, config fragments and items, variant) with the cells that use it, and each cell\'s arguments. With --cells, the cells of that file instead of the nightly matrix. Without either, the one run the other options describe (with --compare-baseline: its kernel and its baseline\'s). --shard i/n lists that share of the cells, --shards n labels every cell with its shard; shares are balanced by the cells\' last measured minutes (the durations file in the lab cache, written by nightly) and are the same for the same inputs.',
      )
      .option('--json', 'print the plan as JSON (schema kernel-lab-plan/1), for a CI', false)
      .option('--nightly', 'the nightly matrix (npm run lab -- nightly, make nightly)', false)
      .option('--cells <file>', CELLS_HELP)
      .option('--shard <i/n>', 'only the i-th of n shares of the cells', shardOption)
      .option('--shards <n>', 'every cell with its shard of n, and the shards listed', positiveInt('--shards')),
    argv,
    usage,
  );
  if (!cmd) return EXIT.pass;
  const o = cmd.opts();
  if (o.shard && o.shards !== undefined) throw new UsageError('plan: --shard and --shards are exclusive', usage);
  let cells: Cell[];
  if (o.nightly && o.cells !== undefined) throw new UsageError('plan: --nightly and --cells are exclusive: the nightly matrix, or the cells of a file', usage);
  if (o.nightly || o.cells !== undefined) {
    if (o.patch) throw new UsageError(`plan: ${o.nightly ? '--nightly plans the nightly matrix' : '--cells plans the cells of a file'}; --patch and the run options describe one run instead`, usage);
    cells = o.nightly ? nightlyCells() : readCellsFile(path.resolve(o.cells));
  } else {
    if (!o.patch) throw new UsageError('plan needs --nightly, --cells FILE, or --patch and the run options of one run', usage);
    const opts = runOptionsFrom(o);
    cells = [{ name: opts.patch.join(',') || 'none', args: runArgsOf(argv) }];
  }
  const p = planMatrix(cells, { matrix: o.nightly ? 'nightly' : o.cells !== undefined ? 'cells' : 'options', ...(o.shard ? { shard: o.shard } : {}), ...(o.shards !== undefined ? { shardCount: o.shards } : {}) });
  process.stdout.write(`${o.json ? JSON.stringify(p, null, 2) : planText(p)}\n`);
  return EXIT.pass;
}

export async function nightlyCommand(argv: string[]): Promise<number> {
  const usage = 'npm run lab -- nightly [--cells cells.json] [--shard i/n] [--plan plan.json] [--results DIR]';
  const cmd = parse(
    new Command('nightly')
      .usage('[--cells cells.json] [--shard i/n] [--plan plan.json] [--results DIR]')
      .description(
        'Run the nightly matrix\'s cells (or a --cells file\'s) one after another, each its own lab run with its own directory in DIR; write DIR/matrix.json and matrix.md (after each cell) and print the table. Each cell\'s minutes go to the durations file in the lab cache. Exit 0 when every cell passed, 1 otherwise.',
      )
      .option('--cells <file>', CELLS_HELP)
      .option('--shard <i/n>', 'only the i-th of n shares of the cells (balanced by the durations file)', shardOption)
      .option('--plan <file>', 'take the shards from this plan (plan --json --nightly --shards n, or plan --json --cells FILE --shards n with the same --cells), not from the durations now: what a CI\'s plan job decided')
      .option('--results <dir>', 'where the cells\' directories and matrix.json go (default: results/nightly-<date>)'),
    argv,
    usage,
  );
  if (!cmd) return EXIT.pass;
  const o = cmd.opts();
  const plan = o.plan !== undefined ? readPlan(path.resolve(o.plan)) : undefined;
  const matrix = o.cells !== undefined ? 'cells' : 'nightly';
  if (plan && plan.matrix !== matrix) {
    throw new UsageError(`nightly: --plan ${o.plan} is not a plan of ${matrix === 'cells' ? 'a --cells file' : 'the nightly matrix'}`, `write it with plan --json ${matrix === 'cells' ? `--cells ${o.cells}` : '--nightly'} --shards n`);
  }
  const cells = selectCells(o.cells !== undefined ? readCellsFile(path.resolve(o.cells)) : nightlyCells(), { ...(o.shard ? { shard: o.shard } : {}), ...(plan ? { plan } : {}) });
  const out = o.results !== undefined ? path.resolve(o.results) : defaultNightlyDir();
  const r = await runNightly(cells, out, o.shard ?? null);
  process.stdout.write(`${path.relative(process.cwd(), out) || out}/matrix.md\n`);
  return r.exitCode;
}

export function matrixReportCommand(argv: string[]): number {
  const usage = 'npm run lab -- matrix-report [NAME=]DIR... [--plan plan.json] [--out DIR] [--save-durations]';
  const cmd = parse(
    new Command('matrix-report')
      .usage('[NAME=]DIR... [--plan plan.json] [--out DIR] [--save-durations]')
      .argument('<dirs...>')
      .description(
        'Merge cell results into one matrix: each DIR is a nightly shard\'s --results directory (matrix.json and a directory per cell), or one run\'s directory (run.json, or latest/run.json: e.g. import-lava\'s), which stands for the cell NAME (default: the directory\'s name). Writes matrix.md, matrix.json and junit.xml (every test of every cell a testcase, classname the cell, and each cell\'s verdict). With --plan, a planned cell no DIR holds is reported missing. Exit 0 when every cell passed; 1 when one did not or is missing; 2 on bad input.',
      )
      .option('--plan <file>', 'the plan the cells came from (plan --json --nightly): cells it lists that no DIR holds are missing')
      .option('--out <dir>', 'where the merged matrix goes (default: results/matrix-<date>)')
      .option('--save-durations', 'record the cells\' measured minutes in the durations file of the lab cache (the next plan shards by them)', false),
    argv,
    usage,
  );
  if (!cmd) return EXIT.pass;
  const o = cmd.opts();
  const out = o.out !== undefined ? path.resolve(o.out) : path.join(paths.repoRoot, 'results', `matrix-${new Date().toISOString().slice(0, 16).replace(/[:T]/g, '')}`);
  const plan = o.plan !== undefined ? readPlan(path.resolve(o.plan)) : undefined;
  const r = matrixReport(cmd.args.map(parseReportInput), { out, ...(plan ? { plan } : {}), saveDurations: o.saveDurations });
  process.stdout.write(`${matrixMarkdown(r.rows)}\n${r.missing.length ? `missing: ${r.missing.join(', ')}\n` : ''}${path.join(out, 'matrix.md')}\n`);
  return r.exitCode;
}
