#!/usr/bin/env -S npx tsx
// kernel-lab command line: a thin layer over the pipeline. Exit codes are a contract:
// 0 pass, 1 test failed or kernel crashed, 2 usage/input error (nothing built),
// 3 infrastructure error or incomplete (timeout, killed, QEMU died).
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { listPatchSets, listSuites, loadPatchSet, loadSuite } from './catalog.ts';
import { bundleRun } from './bundle.ts';
import { detectCrashes } from './crash.ts';
import { EXIT, InfraError, PatchFailure, UsageError, oneLine } from './errors.ts';
import { log } from './log.ts';
import { matrixReportCommand, nightlyCommand, planCommand } from './matrixCli.ts';
import { paths } from './paths.ts';
import { bisect, type Signature } from './bisect.ts';
import { buildEach } from './buildEach.ts';
import { exportSeries } from './exportSeries.ts';
import { exportLava, importLava } from './lava.ts';
import { lavaServer, runOnServer } from './lavaServer.ts';
import { runLab } from './pipeline.ts';
import { writeReply } from './reply.ts';
import { formatLine, rebaseCheck } from './rebaseCheck.ts';
import { addRunOptions, csv, positiveInt, runOptionsFrom } from './runArgs.ts';
import { DEFAULT_SUITES } from './plan.ts';
import { watchRuns, watchedPaths } from './watch.ts';

const USAGE = `npm run lab -- --patch <none|set[,set...]|path/to/mbox|path/to/dir|lore:MSGID> [--suite a,b]
    [--exec "<guest shell command>"] [--config FRAGMENT]... [--config-item CONFIG_X=y]...
    [--debug] [--kmemleak] [--clean] [--compare-baseline] [--base VERSION|latest|installed]
    [--kernel-src DIR|TARBALL] [--results DIR]
    [--timeout SECONDS] [--memory MiB] [--cpus N] [--remote user@host[:port] [--remote-key KEY]]
    [--repeat N] [--retry-failed K] [--fail-on-flaky] [--known-issues FILE] [--series-version N]
    [--dry-run] [--help]
npm run lab -- triage [--titles] FILE|DIR...  # kernel reports in console logs: a JSON line per log
npm run lab -- list [--json]             # patch sets and suites, with descriptions
npm run lab -- --version                 # kernel-lab's version and commit
npm run lab -- <subcommand> --help       # each subcommand's own help
npm run lab -- bundle [results/latest]   # a run directory as <run-id>.tar.gz
npm run lab -- reply [results/latest] [--name N] [--email E]  # reply.eml for the list: verdict, Tested-by if it passed
npm run lab -- export-series SET [--output FILE]  # the set as an mbox to post (cover letter, threaded)
npm run lab -- rebase-check [--base latest|VERSION] [--patch set,...]
                                         # do our sets apply to another base? (default: the newest in the archive)
npm run lab -- watch --patch <...> [run options]  # rerun on every saved change to the run's inputs; a verdict line each
npm run lab -- build-each --patch <set[,set...]|path> [--debug] [--suite a,b] [--config F]...
                                         # build the kernel after each patch: does the series bisect?
npm run lab -- bisect --patch <series> (--test SUITE/NAME | --report "TITLE") [--runs N] [run options]
                                         # which patch of the series breaks the test or brings the report?
npm run lab -- export-lava --patch <...> [--suite a,b] [--debug] --out DIR [--artifact-url URL] [--no-kvm]
    [--lava-server URL [--lava-token TOKEN]]  # build, then write DIR/job.yaml: the run as a LAVA job, with its artifacts;
                                         # with --lava-server (token in $LAVA_TOKEN), run it there and import the result
npm run lab -- import-lava <lava-run output dir | job log> [--export DIR] [--results DIR]
                                         # a finished LAVA job as a run directory (run.json, junit.xml, summary.md...)
npm run lab -- plan [--json] (--nightly | --cells FILE | --patch <...> [run options]) [--shard i/n | --shards n]
                                         # the kernels (by input key) and cells a CI runs; builds nothing
npm run lab -- nightly [--cells FILE] [--shard i/n] [--plan plan.json] [--results DIR]
                                         # run the nightly matrix (or FILE's cells), or one shard of it (make nightly)
npm run lab -- matrix-report [NAME=]DIR... [--plan plan.json] [--out DIR]
                                         # shards' results (and LAVA imports) as one matrix.md, matrix.json, junit.xml`;

/** kernel-lab's version: package.json's, and the commit it runs from when that is known. */
function version(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(paths.repoRoot, 'package.json'), 'utf8')) as { version: string };
  let commit = '';
  try {
    const head = fs.readFileSync(path.join(paths.repoRoot, '.git', 'HEAD'), 'utf8').trim();
    const ref = head.startsWith('ref: ') ? head.slice(5) : null;
    const refFile = ref ? path.join(paths.repoRoot, '.git', ref) : null;
    if (!ref) commit = head;
    else if (refFile && fs.existsSync(refFile)) commit = fs.readFileSync(refFile, 'utf8').trim();
    else {
      const packed = fs.readFileSync(path.join(paths.repoRoot, '.git', 'packed-refs'), 'utf8');
      commit = packed.split('\n').find((l) => l.endsWith(` ${ref}`))?.split(' ')[0] ?? '';
    }
  } catch {
    // not a git checkout (a tarball of the lab): the version alone
  }
  return `kernel-lab ${pkg.version}${/^[0-9a-f]{40}$/.test(commit) ? ` (${commit.slice(0, 12)})` : ''}`;
}

const SUBCOMMAND_HELP: Record<string, string> = {
  triage: `npm run lab -- triage [--titles] FILE|DIR...
  Find kernel reports in console logs (a directory stands for the files in it) and name them
  as syzbot does. Prints one JSON line per log: {"file", "reports"}; with --titles, one
  "file: title" line per report. Exit 0, or 2 when a path does not exist.`,
  list: `npm run lab -- list [--json]
  The patch sets (--patch) and suites (--suite) this checkout has, with what they hold.
  --json: one JSON object {"sets": [...], "suites": [...]} for scripts.`,
  'export-series': `npm run lab -- export-series SET [--output FILE]
  Write one of our sets as the mbox to post: its cover letter as [PATCH 0/N] (shortlog,
  diffstat, base-commit), then the patches threaded under it. Default file: results/SET.mbox.
  b4 am, git am --empty=drop and --patch FILE take it.`,
  reply: `npm run lab -- reply [RUN-DIR] [--name NAME] [--email EMAIL]
  Write RUN-DIR/reply.eml (default: results/latest): the reply to post on the list, plain
  text, threaded under the series the run tested (In-Reply-To, References), lines under 80
  columns: the verdict, tests that differ from the base, the first kernel report, the
  benchmarks, how to reproduce, and Tested-by (NAME <EMAIL>, default from git config) only
  when the run passed. It never sends mail.`,
  'import-lava': `npm run lab -- import-lava <lava-run output dir | job log> [--export DIR] [--results DIR]
  Turn a finished LAVA job of export-lava into a run directory as a local run writes it
  (run.json, results.ktap, junit.xml, kmsg/, summary.md, kcidb.json): the console from the
  job log (lava-run's stderr, saved as job.log in its output dir, or the server's
  /api/v0.2/jobs/N/logs/), the agent's results from its console records, kernel reports
  charged to tests by the crash triage on the whole console. export.json (from export-lava)
  is looked for beside the log and in its parent, or in --export DIR.
  Exit codes as a run's: 0 pass, 1 failed or crashed, 2 bad input, 3 incomplete.`,
  bundle: `npm run lab -- bundle [RUN-DIR]
  Pack a run directory (default: results/latest) as <run-id>.tar.gz next to it, for a bug
  report or a mail; prints the archive's path.`,
};

function subcommandHelp(name: string, args: string[]): boolean {
  if (!args.includes('--help') && !args.includes('-h')) return false;
  process.stdout.write(`${SUBCOMMAND_HELP[name]}\n`);
  return true;
}


function fail(err: unknown): never {
  if (err instanceof PatchFailure) {
    process.stderr.write(`kernel-lab: FAIL: ${oneLine(err)}\n`);
    process.exit(EXIT.fail);
  }
  const code = err instanceof UsageError ? EXIT.usage : EXIT.infra;
  process.stderr.write(`kernel-lab: ${err instanceof UsageError ? 'error' : 'infrastructure error'}: ${oneLine(err)}\n`);
  if (!(err instanceof UsageError) && !(err instanceof InfraError) && process.env.KERNEL_LAB_DEBUG) console.error(err);
  process.exit(code);
}

/** Console logs named on the command line, directories expanded to the files in them (sorted). */
function triageInputs(args: string[]): string[] {
  const files: string[] = [];
  for (const a of args) {
    let st: fs.Stats;
    try {
      st = fs.statSync(a);
    } catch {
      throw new UsageError(`triage: ${a}: no such file or directory`, 'give console logs or directories of them');
    }
    if (!st.isDirectory()) {
      files.push(a);
      continue;
    }
    for (const e of fs.readdirSync(a, { withFileTypes: true }).sort((x, y) => x.name.localeCompare(y.name))) if (e.isFile()) files.push(path.join(a, e.name));
  }
  return files;
}

// One process for every log: a directory of a thousand logs takes seconds, not a node start each.
function triage(args: string[]): void {
  const titlesOnly = args.includes('--titles');
  const inputs = args.filter((a) => a !== '--titles');
  if (inputs.length === 0) throw new UsageError('triage needs console logs or directories', 'npm run lab -- triage [--titles] results/latest/console.log');
  const out: string[] = [];
  for (const file of triageInputs(inputs)) {
    const reports = detectCrashes(fs.readFileSync(file, 'utf8'));
    if (titlesOnly) for (const r of reports) out.push(`${file}: ${r.title}`);
    else out.push(JSON.stringify({ file, reports }));
    if (out.length >= 256) process.stdout.write(`${out.splice(0).join('\n')}\n`);
  }
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
}

function listJson(): void {
  const sets = listPatchSets().map((name) => {
    try {
      const s = loadPatchSet(name);
      return { name, patches: s.patches.length, suites: s.defaultSuites, description: s.description };
    } catch (err) {
      return { name, broken: oneLine(err) };
    }
  });
  const suites = listSuites().map((name) => {
    try {
      const s = loadSuite(name);
      return { name, tests: s.tests.map((t) => t.name), benchmark: Boolean(s.bench), description: s.description };
    } catch (err) {
      return { name, broken: oneLine(err) };
    }
  });
  process.stdout.write(`${JSON.stringify({ sets, suites })}\n`);
}

function list(args: string[]): void {
  const bad = args.find((a) => a !== '--json');
  if (bad !== undefined) throw new UsageError(`list: unknown argument '${bad}'`, 'npm run lab -- list [--json]');
  if (args.includes('--json')) return listJson();
  const out: string[] = ['Patch sets (--patch):', `  none              the unpatched base`];
  for (const name of listPatchSets()) {
    try {
      const s = loadPatchSet(name);
      out.push(`  ${name.padEnd(16)}  ${s.patches.length} patches; suites: ${s.defaultSuites.join(',') || '-'}; ${s.description}`);
    } catch (err) {
      out.push(`  ${name.padEnd(16)}  (broken: ${oneLine(err)})`);
    }
  }
  out.push('', 'Suites (--suite):');
  for (const name of listSuites()) {
    try {
      const s = loadSuite(name);
      out.push(`  ${name.padEnd(16)}  ${s.tests.length} tests${s.bench ? ', benchmark' : ''}; ${s.description}`);
    } catch (err) {
      out.push(`  ${name.padEnd(16)}  (broken: ${oneLine(err)})`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

async function rebaseCheckCommand(argv: string[]): Promise<number> {
  const cmd = new Command('rebase-check')
    .option('--base <version|latest>', 'the base to check against', 'latest')
    .option('--patch <sets>', 'the sets to check (default: every set of ours)', csv)
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .allowExcessArguments(false);
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return EXIT.pass;
      throw new UsageError(`rebase-check: ${err.message.replace(/^error: /, '')}`, 'npm run lab -- rebase-check [--base latest|VERSION] [--patch set,...]');
    }
    throw err;
  }
  const o = cmd.opts();
  const r = await rebaseCheck({ base: o.base, patch: o.patch ?? null });
  process.stdout.write(`base ${r.base} (pinned: ${r.pinned.join(', ')})\n${r.lines.map(formatLine).join('\n')}\n`);
  // A conflict is the sets' news, not the lab's failure: exit 1, like a failing test.
  return r.lines.some((l) => l.result.status === 'conflict') ? EXIT.fail : EXIT.pass;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V') {
    process.stdout.write(`${version()}\n`);
    return EXIT.pass;
  }
  if (argv[0] !== undefined && argv[0] in SUBCOMMAND_HELP && subcommandHelp(argv[0], argv.slice(1))) return EXIT.pass;
  if (argv[0] === 'triage') {
    triage(argv.slice(1));
    return EXIT.pass;
  }
  if (argv[0] === 'bundle') {
    if (argv.length > 2) throw new UsageError('bundle takes at most one run directory');
    process.stdout.write(`${await bundleRun(argv[1] ?? path.join(paths.repoRoot, 'results', 'latest'))}\n`);
    return EXIT.pass;
  }
  if (argv[0] === 'list') {
    list(argv.slice(1));
    return EXIT.pass;
  }
  if (argv[0] === 'rebase-check') return rebaseCheckCommand(argv.slice(1));
  if (argv[0] === 'plan') return planCommand(argv.slice(1));
  if (argv[0] === 'nightly') return nightlyCommand(argv.slice(1));
  if (argv[0] === 'matrix-report') return matrixReportCommand(argv.slice(1));
  if (argv[0] === 'reply') {
    const cmd = new Command('reply').argument('[run-dir]').option('--name <name>').option('--email <email>').exitOverride().configureOutput({ writeErr: () => {} }).allowExcessArguments(false);
    try {
      cmd.parse(argv.slice(1), { from: 'user' });
    } catch (err) {
      if (err instanceof CommanderError) throw new UsageError(`reply: ${err.message.replace(/^error: /, '')}`, 'npm run lab -- reply [RUN-DIR] [--name N] [--email E]');
      throw err;
    }
    const o = cmd.opts();
    const file = writeReply(path.resolve(cmd.args[0] ?? path.join(paths.repoRoot, 'results', 'latest')), { name: o.name, email: o.email });
    process.stdout.write(`${file}\n`);
    log('reply written, not sent: read it, then git send-email or your mail client');
    return EXIT.pass;
  }
  if (argv[0] === 'export-series') {
    const args = argv.slice(1);
    const oi = args.indexOf('--output');
    const output = oi >= 0 ? args[oi + 1] : undefined;
    if (oi >= 0 && (output === undefined || output.startsWith('-'))) throw new UsageError('export-series: --output needs a file name');
    const rest = oi >= 0 ? [...args.slice(0, oi), ...args.slice(oi + 2)] : args;
    if (rest.length !== 1 || rest[0]!.startsWith('-')) throw new UsageError('export-series takes one set name', 'npm run lab -- export-series fused [--output FILE]');
    const r = await exportSeries({ commands: [], dryRun: false }, rest[0]!, output ? path.resolve(output) : null);
    process.stdout.write(`${r.file}\n`);
    log(`${r.set}: cover letter + ${r.patches} patches, base-commit ${r.baseCommit}`);
    return EXIT.pass;
  }
  if (argv[0] === 'import-lava') {
    const cmd = new Command('import-lava').argument('<input>').option('--export <dir>').option('--results <dir>', '', path.join(paths.repoRoot, 'results')).exitOverride().configureOutput({ writeErr: () => {} }).allowExcessArguments(false);
    try {
      cmd.parse(argv.slice(1), { from: 'user' });
    } catch (err) {
      if (err instanceof CommanderError) throw new UsageError(`import-lava: ${err.message.replace(/^error: /, '')}`, 'npm run lab -- import-lava <lava-run output dir | job log> [--export DIR]');
      throw err;
    }
    const o = cmd.opts();
    const { record, exitCode } = importLava({ input: path.resolve(cmd.args[0]!), exportDir: o.export ? path.resolve(o.export) : null, resultsDir: path.resolve(o.results) });
    process.stdout.write(`${record.status.toUpperCase()}: ${record.reason ?? ''}\n  ${path.join(record.dir, 'summary.md')}\n`);
    return exitCode;
  }
  const lavaMode = argv[0] === 'export-lava';
  if (lavaMode) argv = argv.slice(1);
  const eachMode = argv[0] === 'build-each';
  const watchMode = argv[0] === 'watch';
  const bisectMode = argv[0] === 'bisect';
  if (eachMode || watchMode || bisectMode) argv = argv.slice(1);
  const runArgs = argv;
  const program = addRunOptions(
    new Command(lavaMode ? 'export-lava' : eachMode ? 'build-each' : watchMode ? 'watch' : bisectMode ? 'bisect' : 'lab')
    .usage(eachMode ? '--patch <set> [--debug] [--suite a,b] [--config F]...' : '--patch <set> [options]')
    .description(
      eachMode
        ? 'Build the kernel after each patch of the series (boots nothing): does the series bisect?'
        : bisectMode
          ? 'Binary search over the series\' prefixes (each built incrementally in one tree and booted) for the first patch that fails a test or brings a kernel report. A step of --runs N runs is bad when most of its runs show the failure. Exit 0 when a patch is named, 1 when none can be, 3 on a lab error.'
          : watchMode
          ? 'Run the lab now and again after each saved change to its inputs (the patches, --config fragments, --known-issues, the suites, a --kernel-src tree); one verdict line per run. A change during a run queues one more run. Ctrl-C stops.'
          : 'Build a patched kernel, boot it in QEMU, run the suites, report a verdict.',
    )
  )
    .option('--test <suite/name>', 'bisect: the failing test to look for')
    .option('--report <title>', 'bisect: the kernel report to look for, by its title (as summary.md gives it)')
    .option('--runs <n>', 'bisect: runs per step; a step is bad when most of them show the failure (flaky failures)', positiveInt('--runs'), 1)
    .option('--out <dir>', 'export-lava: a new directory for the job and its artifacts')
    .option('--artifact-url <url>', 'export-lava: where the LAVA lab will fetch the artifacts from (default: file:// of --out, for a worker on this machine)')
    .option('--no-kvm', 'export-lava: the LAVA job runs the guest under TCG (no_kvm: true, -cpu max, timeouts x4)')
    .option('--lava-server <url>', 'export-lava: then submit the job to this LAVA server (REST API v0.2), wait for it and import its log as import-lava does (needs --artifact-url)')
    .option('--lava-token <token>', 'export-lava --lava-server: the server user\'s API token (default: $LAVA_TOKEN, which keeps it out of the shell\'s history)')
    .helpOption('-h, --help', 'show this help')
    .addHelpText('after', `\n${USAGE}\n\nExit codes: 0 pass, 1 test failed or kernel crashed, 2 usage or input error, 3 infrastructure error or incomplete.

--remote: the kernel and image are built here, uploaded over SFTP to a scratch directory there,
and QEMU runs there (KVM if its probe guest runs, else TCG); console, KTAP and status come back
as they are written. Host keys are checked against ~/.ssh/known_hosts ($KL_REMOTE_KNOWN_HOSTS)
when the host is listed there. Unreachable host, refused key, no QEMU there: exit 3.`)
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .allowExcessArguments(false);
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return EXIT.pass;
      throw new UsageError(err.message.replace(/^error: /, ''), 'see npm run lab -- --help');
    }
    throw err;
  }
  const o = program.opts();
  if (!o.patch) throw new UsageError('--patch is required', 'use --patch none for the unpatched base');
  const opts = runOptionsFrom(o);
  if (watchMode) {
    if (opts.dryRun) throw new UsageError('watch runs the lab: --dry-run does not apply', 'npm run lab -- --dry-run ... prints the commands once');
    const sets = listPatchSets();
    const watched = watchedPaths({ ...opts, patch: opts.patch, knownIssues: opts.knownIssues }, sets, [...new Set([...DEFAULT_SUITES, ...opts.patch.filter((p) => sets.includes(p)).flatMap((p) => loadPatchSet(p).defaultSuites)])]);
    if (watched.length === 0) throw new UsageError('watch: nothing to watch (no patch set, fragment or suite path exists)');
    return watchRuns(runArgs, watched);
  }
  if (bisectMode) {
    if (opts.exec !== null || opts.dryRun || opts.compareBaseline || opts.repeat !== 1) {
      throw new UsageError('bisect boots each step itself: --exec, --dry-run, --compare-baseline and --repeat do not apply', 'give --runs N for repeats');
    }
    if ((o.test === undefined) === (o.report === undefined)) throw new UsageError('bisect needs one of --test SUITE/NAME or --report "TITLE"');
    const sig: Signature = o.test !== undefined ? { test: o.test } : { report: o.report };
    const r = await bisect(opts, sig, o.runs);
    process.stdout.write(`${r.firstBad ? 'FOUND' : 'NONE'}: ${r.conclusion}\n  ${path.join(r.dir, 'summary.md')}\n`);
    return r.exitCode;
  }
  if (lavaMode) {
    if (o.out === undefined) throw new UsageError('export-lava needs --out DIR', 'npm run lab -- export-lava --patch none --out lava/none');
    if (o.lavaToken !== undefined && o.lavaServer === undefined) throw new UsageError('export-lava: --lava-token belongs to --lava-server');
    // Checked before the build: a bad server address or a missing token must not cost one.
    const server = o.lavaServer !== undefined ? lavaServer(o.lavaServer, o.lavaToken ?? process.env.LAVA_TOKEN) : null;
    if (server && o.artifactUrl === undefined) {
      throw new UsageError('export-lava: --lava-server needs --artifact-url: the server\'s worker fetches the kernel, initramfs and scratch disk from there', 'publish --out\'s bzImage, initramfs.cpio and scratch.img.gz at an http(s) URL the worker reaches');
    }
    const r = await exportLava(opts, { out: o.out, artifactUrl: o.artifactUrl ?? null, noKvm: o.kvm === false });
    process.stdout.write(`${r.job}\n`);
    if (!server) return EXIT.pass;
    const abort = new AbortController();
    process.on('SIGINT', () => abort.abort());
    process.on('SIGTERM', () => abort.abort());
    const { record, exitCode } = await runOnServer(r.dir, server, opts.resultsDir, undefined, undefined, abort.signal);
    process.stdout.write(`${record.status.toUpperCase()}: ${record.reason ?? ''}\n  ${path.join(record.dir, 'summary.md')}\n`);
    return exitCode;
  }
  if (o.out !== undefined || o.artifactUrl !== undefined || o.kvm === false || o.lavaServer !== undefined || o.lavaToken !== undefined) {
    throw new UsageError('--out, --artifact-url, --no-kvm, --lava-server and --lava-token belong to export-lava', 'npm run lab -- export-lava --patch ... --out DIR');
  }
  if (!bisectMode && (o.test !== undefined || o.report !== undefined || o.runs !== 1)) throw new UsageError('--test, --report and --runs belong to bisect', 'npm run lab -- bisect --patch <series> --test SUITE/NAME');
  if (eachMode) {
    if (opts.exec !== null || opts.dryRun || o.remote !== undefined || opts.compareBaseline) {
      throw new UsageError('build-each builds, it boots nothing: --exec, --dry-run, --remote and --compare-baseline do not apply');
    }
    const each = await buildEach(opts);
    const bad = each.results.find((x) => x.status === 'fail');
    process.stdout.write(`${bad ? `FAIL: ${bad.set}/${bad.patch} does not build: ${bad.error}` : `PASS: all ${each.results.length} patches build`}\n  ${path.join(each.dir, 'summary.md')}\n`);
    return each.exitCode;
  }
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    log(`${sig}: stopping the run (make or the guest); run.json keeps status incomplete`);
    abort.abort();
    if (signals > 1) process.exit(EXIT.infra);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  const { record, exitCode } = await runLab(opts, abort.signal);
  if (opts.dryRun) return EXIT.pass;
  if (opts.exec !== null) {
    const t = record.tests[0];
    if (t?.log?.length) process.stdout.write(`${t.log.join('\n')}\n`);
  }
  const summary = path.join(record.dir, 'summary.md');
  const shown = path.relative(process.cwd(), summary);
  process.stdout.write(`${record.status.toUpperCase()}: ${record.reason ?? ''}\n  ${shown.startsWith('..') ? summary : shown}\n`);
  if (abort.signal.aborted) return EXIT.infra;
  return exitCode;
}

// Nothing the harness did not foresee ends in node's default exit 1 ("a test failed"):
// an uncaught error is the lab's, exit 3, one line.
process.on('uncaughtException', (err) => fail(err));
process.on('unhandledRejection', (err) => fail(err));

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => fail(err),
);
