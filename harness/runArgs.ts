// The options of a run (the lab's main command line), in one place: the lab itself, watch,
// bisect, build-each, export-lava and plan take them, and the nightly matrix's cells are
// written in them (matrix.ts parses a cell's arguments with the same parser).
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { UsageError } from './errors.ts';
import { paths } from './paths.ts';
import { defaultRemoteKey } from './remote.ts';
import type { RunOptions } from './types.ts';

export function positiveInt(name: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) <= 0) throw new InvalidArgumentError(`${name} takes a positive whole number, not '${v}'`);
    return Number(v);
  };
}
export function wholeNumber(name: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} takes a whole number, not '${v}'`);
    return Number(v);
  };
}
export const collect = (v: string, prev: string[]) => [...prev, v];
export const csv = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

/** The run options on a command (the caller adds its own and the help). */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--patch <sets>', 'none, set names (comma-separated), or a path to an mbox or patch directory', csv)
    .option('--suite <suites>', 'suites to run, by name or a suite directory of your own (./dir) (default: smoke,uring + each set\'s suites)', csv)
    .option('--exec <command>', 'run this shell command in the guest instead of suites')
    .option('--config <fragment>', 'extra Kconfig fragment (repeatable)', collect, [])
    .option('--config-item <CONFIG_X=y>', 'extra Kconfig item (repeatable)', collect, [])
    .option('--debug', 'debug kernel: KASAN, lockdep, KFENCE, UBSAN, hung-task and soft-lockup detection', false)
    .option('--kmemleak', 'kmemleak kernel: leaks found after each suite are kernel reports (combines with --debug)', false)
    .option('--clean', 'configure and build from scratch in a fresh out dir, past the config and build caches (ccache, keyed by content, stays); the result replaces the cached build of the same key', false)
    .option('--compare-baseline', 'also run on the unpatched base and report differences', false)
    .option('--series-version <n>', 'with a thread mbox or lore:<message-id>: the revision to take (default: the newest)', positiveInt('--series-version'))
    .option('--base <version|latest|installed>', 'Debian linux-source-6.12 version to build on instead of the sets\' pin (base.json): a version apt-cache madison lists, latest, or installed (/usr/src)')
    .option('--kernel-src <dir|tarball>', 'kernel source instead of Debian\'s linux-source-6.12 (never modified)')
    .option('--results <dir>', 'where run directories go', path.join(paths.repoRoot, 'results'))
    .option('--timeout <seconds>', 'wall-clock limit for the guest run', positiveInt('--timeout'))
    .option('--memory <MiB>', 'guest memory', positiveInt('--memory'), 2048)
    .option('--cpus <n>', 'guest CPUs', positiveInt('--cpus'), 2)
    .option('--repeat <n>', 'run each test n times and count passes and failures (a test that both passes and fails is flaky)', positiveInt('--repeat'), 1)
    .option('--retry-failed <k>', 'run a failed test again, up to k times (one that then passes is flaky)', wholeNumber('--retry-failed'), 0)
    .option('--fail-on-flaky', 'a flaky test fails the run (default: reported, the run passes)', false)
    .option('--known-issues <file>', 'expected failures and kernel reports (JSON; default: suites/known-issues.json)')
    .option('--remote <user@host[:port]>', 'boot the guest on that machine over SSH (one with KVM; it needs qemu-system-x86_64); the kernel is still built here (default: $KL_REMOTE)')
    .option('--remote-key <path>', 'private key for --remote (default: $KL_REMOTE_KEY, else ~/.ssh/id_ed25519 or ~/.ssh/id_rsa)')
    .option('--dry-run', 'print every command the run would execute, build and boot nothing', false);
}

/** RunOptions from a parsed command's opts(): the one translation of the command line. */
export function runOptionsFrom(o: Record<string, any>): RunOptions {
  const remote: string | undefined = o.remote ?? (process.env.KL_REMOTE || undefined);
  if (o.remoteKey !== undefined && remote === undefined) throw new UsageError('--remote-key needs --remote');
  return {
    patch: o.patch,
    suites: o.suite ?? null,
    exec: o.exec ?? null,
    configFragments: o.config,
    configItems: o.configItem,
    debug: o.debug,
    kmemleak: o.kmemleak,
    ...(o.clean ? { clean: true } : {}),
    compareBaseline: o.compareBaseline,
    kernelSrc: o.kernelSrc ?? null,
    ...(o.base !== undefined ? { base: o.base } : {}),
    resultsDir: path.resolve(o.results),
    timeoutS: o.timeout ?? null,
    memoryMiB: o.memory,
    cpus: o.cpus,
    repeat: o.repeat,
    retryFailed: o.retryFailed,
    failOnFlaky: o.failOnFlaky,
    ...(o.knownIssues !== undefined ? { knownIssues: path.resolve(o.knownIssues) } : {}),
    ...(o.seriesVersion !== undefined ? { seriesVersion: o.seriesVersion } : {}),
    dryRun: o.dryRun,
    ...(remote !== undefined ? { remote, remoteKey: o.remoteKey ?? (process.env.KL_REMOTE_KEY || defaultRemoteKey()) } : {}),
  };
}

/**
 * A run's arguments (as a matrix cell writes them) as RunOptions, parsed the way the lab's
 * command line parses them; results go to resultsDir. Bad arguments are a usage error
 * naming `what` (the cell).
 */
export function parseRunArgs(args: string[], what: string, resultsDir = path.join(paths.repoRoot, 'results')): RunOptions {
  const cmd = addRunOptions(new Command(what)).exitOverride().configureOutput({ writeErr: () => {} }).allowExcessArguments(false).helpOption(false);
  try {
    cmd.parse([...args, '--results', resultsDir], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) throw new UsageError(`${what}: ${err.message.replace(/^error: /, '')}`);
    throw err;
  }
  const o = cmd.opts();
  if (!o.patch) throw new UsageError(`${what}: --patch is required`);
  return runOptionsFrom(o);
}
