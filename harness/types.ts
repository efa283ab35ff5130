// The run record: one typed object that flows through every stage.
import type { SeriesInfo } from './intake.ts';
import type { PostMortem } from './postmortem.ts';
import type { DumpRecord } from './vmcore.ts';
export type RunStatus = 'pass' | 'fail' | 'crash' | 'timeout' | 'error' | 'incomplete';
// flaky: under --repeat/--retry-failed, some runs passed and some failed.
export type TestStatus = 'pass' | 'fail' | 'skip' | 'timeout' | 'error' | 'flaky';
export type Accel = 'kvm' | 'tcg';

export interface RunOptions {
  patch: string[]; // set names, or paths to an mbox / patch directory; [] = the unpatched base
  suites: string[] | null; // null = the default for the patch sets
  exec: string | null;
  configFragments: string[];
  configItems: string[];
  debug: boolean;
  kmemleak?: boolean; // kmemleak kernel; the agent scans after each suite
  clean?: boolean; // --clean: configure and build in a fresh out dir, past the config and build caches
  compareBaseline: boolean;
  kernelSrc: string | null;
  resultsDir: string;
  timeoutS: number | null; // whole run, wall clock; null = derived from the suites
  memoryMiB: number;
  cpus: number;
  dryRun: boolean;
  label?: string; // e.g. "baseline" for the comparison run
  remote?: string; // user@host[:port]: boot the guest there, over SSH (absent: here)
  remoteKey?: string; // the private key for remote
  base?: string; // --base: a Debian version, latest or installed (absent: the sets' pin)
  repeat?: number; // --repeat: run each test this many times (default 1)
  retryFailed?: number; // --retry-failed: run a failed test again, at most this many times (default 0)
  failOnFlaky?: boolean; // --fail-on-flaky: a flaky test fails the run
  knownIssues?: string; // --known-issues: the list to use instead of suites/known-issues.json
  seriesVersion?: number; // --series-version: the revision of a thread to take (default: the newest)
}

export interface PatchRecord {
  set: string; // set name, or "user" for an mbox/dir
  file: string; // path of the patch file
  subject: string;
  sha256: string;
}

export interface KernelRecord {
  base: string; // e.g. "linux-source-6.12 (sha256 585a4a07…)"
  baseSha256: string;
  version: string; // from the tree's Makefile
  patches: PatchRecord[];
  features: string[];
  configSha256: string;
  configCached?: boolean; // .config from the config cache (merge_config.sh not run)
  buildKey: string;
  cached: boolean;
  buildDir: string; // ~/.cache/kernel-lab/builds/<key>
  /** --clean: what the fresh build says of the cached one of the same key */
  clean?: { configMatchesCache: boolean | null; replacedBuild: boolean; sameVmlinux: boolean | null };
}

export interface TestRecord {
  suite: string;
  name: string;
  status: TestStatus;
  durationS: number;
  reason?: string;
  log?: string[];
  /** Runs of the test by outcome, when it ran more than once (--repeat, --retry-failed). */
  runs?: Partial<Record<'pass' | 'fail' | 'skip' | 'timeout', number>>;
  taint?: number; // /proc/sys/kernel/tainted after the test
  known?: KnownIssue; // an expected failure from the known-issues list: it does not fail the run
  /**
   * A two-guest test: each guest's own status (status is the worse of the two) and what each
   * said, so that a known outcome of one guest explains the other's failure (expected.ts).
   */
  guests?: { a: TestStatus; b: TestStatus | 'killed'; aReason?: string; bReason?: string };
  /** What a test that prints KTAP of its own reported (a suite with "output": "ktap"). */
  subtests?: SubtestRecord[];
  subtestPlan?: number; // the plan (1..N) it printed, when it printed one
}

/** One result line of a test's own KTAP (a kselftest program's `ok 3 desc`), as it is. */
export interface SubtestRecord {
  n: number;
  name: string; // the result line's description (kselftest prints the outcome here)
  status: 'pass' | 'fail' | 'skip' | 'xfail';
  reason?: string; // the directive's text (SKIP why, or what followed '#')
  context?: string; // the comment that opened it: kselftest's '[RUN] what is tested'
}

export interface KnownIssue {
  test?: string; // suite/name
  title?: string; // a kernel report's title
  base?: string; // the kernel version it applies to (prefix of the run's version); absent: any
  reason: string;
  link?: string;
}

export interface CrashRecord {
  type: string; // BUG, WARNING, KASAN, KFENCE, UBSAN, lockdep, Oops, panic, ...
  title: string; // syzbot's convention (e.g. 'KASAN: use-after-free Read in f'): same bug, same title
  frame?: string; // the guilty frame the title names (absent: the title names none)
  /** With a kernel built with line tables (--debug): the report through scripts/decode_stacktrace.sh, */
  decoded?: string;
  location?: string; // file:line of the guilty frame
  maintainers?: string[]; // scripts/get_maintainer.pl for that file: people, then lists
  known?: KnownIssue; // on the known-issues list: reported, does not fail the run
  test: string | null; // suite/name the report happened in, null = outside any test
  guest?: 'b'; // two guests: printed by guest b (its console is guest-b/console.log); absent: guest a, or the only one
  fatal: boolean; // the kernel stopped (panic, or a report that ended in one)
  corrupted: boolean; // cut off, interleaved or without a usable frame: the title may be wrong
  corruptedReason?: string;
  report: string; // the report's lines (only the reporting task's or CPU's)
  line: number; // where it starts in console.log
  count: number; // how many times the same report (title and test) appeared
}

export interface RunRecord {
  id: string;
  dir: string;
  options: RunOptions;
  status: RunStatus;
  reason?: string;
  startedAt: string;
  finishedAt?: string;
  timings: Record<string, number>;
  base?: BaseRecord; // the kernel source, known once the source stage ran
  kernel?: KernelRecord;
  accel?: Accel; // of the machine the guest ran on
  remote?: RemoteRecord; // the guest ran on another machine, over SSH
  suites: string[];
  tests: TestRecord[];
  crashes: CrashRecord[];
  postmortem?: PostMortem; // the host stepped into a hung guest: its stuck tasks
  guestB?: { dir: string; ended: string; stoppedBy?: string }; // two-guest suites: guest b's run directory and how it ended
  dump?: DumpRecord; // the guest panicked and its memory was dumped (--debug kernels): every task's stack
  series?: SeriesInfo & { baseMatches: boolean | null }; // a series from the list; does its base-commit name the lab's base (null: it names none)
  commands: string[][]; // every external command the run executed (or would, with --dry-run)
  baseline?: { runDir: string; status: RunStatus; differences: BaselineDiff[]; newCrashes: CrashRecord[] };
  /** import-lava: the run came back from a LAVA job: its log, the export, LAVA's verdict on the job, the agent's console records */
  lava?: {
    log: string;
    export: string;
    job: { result: string; errorType?: string; errorMsg?: string } | null;
    records: number;
    problems: string[];
    /** export-lava --lava-server: the job on the server (its page, id, health, device) */
    server?: { page: string; jobId: number; health: string; device: string | null };
  };
  knownIssues?: { issue: KnownIssue; seen: boolean }[]; // entries of the known-issues list that applied to this run
}

/** Which Debian source the base came from, and whether it is the one the sets pin. */
export interface DebianBase {
  package: string;
  version: string;
  sha256: string;
  pinned: boolean; // the run used the pinned version (same sha256)
  pin: { version: string; sha256: string; file: string };
  asked: string; // pin, latest, installed, or the --base version
}

export interface BaseRecord {
  desc: string; // e.g. "linux-source-6.12 6.12.118-1~deb12u1 (sha256 c93391b6a488)"
  version: string; // the tree's own version (Makefile)
  sha256: string; // of the tarball (or a digest of a user's tree)
  debian: DebianBase | null; // null: --kernel-src
}

export interface RemoteRecord {
  target: string; // user@host:port
  accel?: Accel; // what the probe found there
  qemu: string; // its qemu-system-x86_64 --version
  hostKey: string; // SHA256 fingerprint of the host key it presented
  knownHost: boolean; // that key is in known_hosts (false: the host is not listed there)
}

export interface BaselineDiff {
  test: string; // suite/name, or suite/name #n for a subtest of a test's own KTAP
  patched: TestStatus | SubtestRecord['status'] | 'absent';
  base: TestStatus | SubtestRecord['status'] | 'absent';
  context?: string; // a subtest's: what it tests, and its outcome's description on each side
}
