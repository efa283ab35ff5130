// The run: source → patches → config → build → image → boot (guest agent) → crash →
// results → report. Each stage adds to one RunRecord; run.json is rewritten after each.
import fs from 'node:fs';
import path from 'node:path';
import { agentFinished, GUEST_NET, jobFiles, twoGuest, type Job } from './agent.ts';
import { bootPair, mergeGuests, type PairOutcome } from './pair.ts';
import { InfraError, UsageError } from './errors.ts';
import { baseCommitFor } from './exportSeries.ts';
import { localHost, type Host } from './host.ts';
import { treeUseLock, withLock } from './lock.ts';
import { pruneCache } from './prune.ts';
import { loadExpected } from './expected.ts';
import { knownFor } from './judge.ts';
import { log } from './log.ts';
import { paths } from './paths.ts';
import { plan, testPlan, type Plan, type TestPlan } from './plan.ts';
import { connectRemote } from './remote.ts';
import { buildStage } from './stages/build.ts';
import { configStage } from './stages/config.ts';
import { imageStage, jobInitrd, snapshotKernelSources } from './stages/image.ts';
import { patchesStage, patchTree, seedOutDir, useOutDir } from './stages/patches.ts';
import { boot, probeAccel, timeoutScale, type BootOutcome } from './stages/qemu.ts';
import { compareRuns, createRunDir, exitCodeFor, newRunId, recordFailure, resultsStage, verdict, writeReports, writeRunJson } from './stages/results.ts';
import { sourceStage } from './stages/source.ts';
import { symbolizeCrashes } from './symbolize.ts';
import { dumpStage } from './vmcore.ts';
import type { ExpectedResults } from './expected.ts';
import type { Accel, KnownIssue, RunOptions, RunRecord } from './types.ts';

const BOOT_ALLOWANCE_S = 60;

/**
 * Stall detectors scaled like our timeouts: under TCG on a loaded host a vCPU thread can
 * be starved for tens of seconds, which the guest would report as an RCU stall or soft
 * lockup that no kernel bug caused. (The agent scales hung_task_timeout_secs.)
 */
export function detectorCmdline(scale: number, kmemleak = false): string[] {
  const args: string[] = [];
  if (scale > 1) args.push(`rcupdate.rcu_cpu_stall_timeout=${21 * scale}`, `watchdog_thresh=${10 * scale}`);
  // kmemleak misses a leak whenever some other allocated object still holds a stale copy
  // of its address (SLUB's free pointer left in a recycled object, old data in a buffer
  // nobody cleared). Measured on the leaky-nop fixture (8 leaked objects): without
  // init_on_alloc, 0, 1 and 7 of 8 were reported in 3 of 14 runs; with it, 8 of 8 in 10
  // of 10. Zeroing each new object removes those stale copies.
  if (kmemleak) args.push('init_on_alloc=1');
  return args;
}

/**
 * Dump a panicked guest's memory when the kernel can say it panicked (pvpanic) and carries
 * the DWARF drgn reads it with: the --debug variant. KL_DUMP=0 turns it off.
 */
export function wantsDump(config: Map<string, string>): boolean {
  return process.env.KL_DUMP !== '0' && config.get('CONFIG_PVPANIC_MMIO') === 'y' && config.get('CONFIG_DEBUG_INFO') === 'y' && config.get('CONFIG_DEBUG_INFO_REDUCED') !== 'y';
}

async function timed<T>(rec: RunRecord, stage: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    rec.timings[stage] = (Date.now() - t0) / 1000;
    if (!rec.options.dryRun) writeRunJson(rec);
  }
}

export interface LabResult {
  record: RunRecord;
  exitCode: number;
}

/** What a run knows just before it would boot: all another lab needs to run the same job. */
export interface Handoff {
  rec: RunRecord;
  plan: Plan;
  tests: TestPlan;
  job: Job;
  scale: number;
  wallS: number;
  bootAllowanceS: number;
  kernel: string; // bzImage
  config: Map<string, string>;
  extraCmdline: string[];
  /** the initramfs (base image + this run's job archive) written to `file` */
  writeInitrd: (file: string, job: Job) => Promise<void>;
  known: KnownIssue[];
  expected: ExpectedResults;
}

/**
 * A run that hands its built job to another lab (export-lava) instead of booting: the
 * guest's acceleration is the other lab's (no probe here), and `take` gets the job.
 */
export interface HandoffTarget {
  accel: Accel;
  take: (h: Handoff) => Promise<void>;
}

/**
 * One run. With --remote the connection is made (and the host checked for QEMU) before
 * anything is created, so an unreachable host costs seconds, not a kernel build; the
 * comparison run reuses it.
 */
export async function runLab(opts: RunOptions, signal?: AbortSignal, runDirOverride?: string, host?: Host, handoff?: HandoffTarget): Promise<LabResult> {
  const p = plan(opts);
  if (handoff) return runPlanned(opts, p, localHost, signal, runDirOverride, handoff);
  if (host || !p.remote) return runPlanned(opts, p, host ?? localHost, signal, runDirOverride);
  const remote = await connectRemote(p.remote);
  log(`guest host: ${remote.label} (${remote.qemuVersion})`);
  try {
    return await runPlanned(opts, p, remote, signal, runDirOverride);
  } finally {
    await remote.close();
  }
}

/** The run record as a run starts: its directory, options and what it will run. */
function startRecord(opts: RunOptions, p: Plan, host: Host, runDirOverride: string | undefined): RunRecord {
  const id = newRunId(opts.label);
  const dir = opts.dryRun ? path.join(opts.resultsDir, id) : runDirOverride ? (fs.mkdirSync(runDirOverride, { recursive: true }), runDirOverride) : createRunDir(opts.resultsDir, id, true);
  const remote = host.describe();
  return {
    id,
    dir,
    options: opts,
    status: 'incomplete',
    startedAt: new Date().toISOString(),
    timings: {},
    suites: p.suites.map((s) => s.name),
    tests: [],
    crashes: [],
    commands: [],
    ...(remote ? { remote } : {}),
  };
}

async function runPlanned(opts: RunOptions, p: Plan, host: Host, signal: AbortSignal | undefined, runDirOverride: string | undefined, handoff?: HandoffTarget): Promise<LabResult> {
  const rec = startRecord(opts, p, host, runDirOverride);
  const dir = rec.dir;
  const r = { commands: rec.commands, dryRun: opts.dryRun };
  if (!opts.dryRun) {
    writeRunJson(rec);
    log(`run ${rec.id}: results in ${dir}`);
  }
  // Ctrl-C / SIGTERM before the guest runs: stop at the next stage boundary (make itself is killed).
  const interrupted = () => {
    if (signal?.aborted) throw new InfraError('interrupted before the guest ran');
  };
  try {
    const buildLog = path.join(dir, 'build.log');
    const src = await timed(rec, 'source', () => sourceStage(r, opts.kernelSrc, p.base));
    rec.base = { desc: src.baseDesc, version: src.version, sha256: src.baseSha256, debian: src.debian };
    const series = p.sets.find((s) => s.series)?.series;
    if (series) {
      // export-series gives our base a reproducible commit id; a series posted on it names it.
      const ours = series.baseCommit && src.debian && !opts.dryRun ? await baseCommitFor(r, src.repo, src.baseTree, `${src.debian.package} ${src.debian.version} (sha256 ${src.debian.sha256})`) : null;
      rec.series = { ...series, baseMatches: series.baseCommit && ours ? ours.startsWith(series.baseCommit) : null };
      log(`series: ${series.subject} <${series.messageId}>, v${series.version} of ${series.versions.map((v) => `v${v}`).join(', ')}, ${series.patches} patch(es), trailers applied (b4)`);
      if (rec.series.baseMatches === false) log(`series: its base-commit ${series.baseCommit} is not the lab's base (${src.baseDesc}); it may not apply`);
    }
    if (src.debian && !src.debian.pinned) log(`base ${src.debian.version} is not the pinned ${src.debian.pin.version} (${src.debian.pin.file})`);
    interrupted();
    // Patches, config and build share the series' tree and its out dirs: one run at a time
    // per tree (another revision of the series would be checked out under this one's make,
    // another run's --config-item values would rewrite its .config).
    const variant = { debug: opts.debug, kmemleak: opts.kmemleak ?? false, ...(opts.clean ? { clean: true } : {}) };
    const { patched, cfg, build, ksrc } = await withLock(treeUseLock(patchTree(src, p.sets)), async () => {
      const patched = await timed(rec, 'patches', () => patchesStage(r, src, p.sets)).catch((err: unknown) => {
        // A reviewer's series that does not apply to the lab's base (exit 2, the patch named):
        // say which revision it was and what the series says it is on.
        const series = rec.series;
        if (!series || !(err instanceof UsageError)) throw err;
        const on = series.baseCommit ? `its base-commit is ${series.baseCommit.slice(0, 12)}${series.baseMatches === false ? ', not the lab\'s base' : ''}` : 'it names no base-commit';
        throw new UsageError(`v${series.version} of the thread: ${err.message} (${on})`, `pick another revision (--series-version N; the thread has ${series.versions.map((v) => `v${v}`).join(', ')}) or another base (--base)`);
      });
      interrupted();
      const cfg = await timed(rec, 'config', () => configStage(r, patched.tree, variant, p.fragments, undefined, `${src.baseTree}:${patched.kconfigId}`));
      if (!variant.clean && !opts.dryRun) useOutDir(patched.tree, cfg.outDir);
      interrupted();
      if (!opts.dryRun) fs.copyFileSync(cfg.dotConfig, path.join(dir, 'config'));
      const build = await timed(rec, 'build', () =>
        buildStage(r, {
          tree: patched.tree,
          outDir: cfg.outDir,
          baseTree: src.baseTree,
          stackHash: patched.stackHash,
          configSha256: cfg.configSha256,
          configCommand: cfg.command,
          logFile: buildLog,
          signal,
          ...(cfg.requested !== undefined ? { dryRunConfig: cfg.requested } : {}),
          ...(opts.clean ? { clean: true } : { seed: () => seedOutDir(r, src.repo, patched.tree, cfg.outDir, cfg.dotConfig), warmTree: patched.tree === src.repo && !opts.kernelSrc }),
        }),
      );
      // A --clean out dir served one build: it is not a warm start for the next. Its
      // fragments stay, so the build's reproducer (metadata.json) still runs as written.
      if (opts.clean && !opts.dryRun) {
        for (const e of fs.readdirSync(cfg.outDir)) if (e !== 'kl-fragments') fs.rmSync(path.join(cfg.outDir, e), { recursive: true, force: true });
      }
      // The tree's own sources a suite builds from (kselftests), taken while the tree is ours.
      const ksrc = opts.dryRun ? null : snapshotKernelSources(patched.tree, p.suites);
      return { patched, cfg, build, ksrc };
    });
    // The snapshot goes once the image is made, or the run stops before that.
    let image: Awaited<ReturnType<typeof imageStage>>;
    try {
      interrupted();
      rec.kernel = {
        base: src.baseDesc,
        baseSha256: src.baseSha256,
        version: src.version,
        patches: patched.patches.map((x) => ({ ...x, file: path.relative(paths.repoRoot, x.file).startsWith('..') ? x.file : path.relative(paths.repoRoot, x.file) })),
        features: p.features,
        configSha256: cfg.configSha256,
        buildKey: build.key,
        configCached: cfg.cached,
        cached: build.cached,
        buildDir: build.dir,
        ...(opts.clean ? { clean: { configMatchesCache: cfg.matchesCache ?? null, replacedBuild: build.replaced !== undefined, sameVmlinux: build.replaced?.sameVmlinux ?? null } } : {}),
      };
      if (!opts.dryRun) fs.copyFileSync(path.join(build.dir, 'metadata.json'), path.join(dir, 'metadata.json'));
      image = await timed(rec, 'image', () => imageStage(r, build.dir, build.key, buildLog, ksrc, p.suites));
    } finally {
      if (ksrc) fs.rmSync(ksrc, { recursive: true, force: true });
    }
    interrupted();
    // This run added to the cache: drop what no run has used for longest (prune.ts).
    if (!opts.dryRun && (!build.cached || !image.cached)) await pruneCache();

    const tests = testPlan(p, image, cfg.config, opts.exec !== null);
    const accel = handoff ? handoff.accel : await probeAccel(host, opts.dryRun ? undefined : path.join(build.dir, 'bzImage'));
    rec.accel = accel;
    if (rec.remote) {
      rec.remote.accel = accel;
      log(`${host.label}: accel ${accel}`);
    }
    const scale = timeoutScale(accel);
    const wallS = opts.timeoutS ?? (BOOT_ALLOWANCE_S + p.runsPerTest * (opts.exec !== null ? 600 : tests.guestSuites.reduce((a, s) => a + s.timeout, 0))) * scale;
    const job: Job = {
      scale,
      kernelVersion: src.version,
      cpus: opts.cpus,
      suites: tests.guestSuites.map((s) => s.name),
      skips: tests.skips,
      kmemleak: opts.kmemleak ?? false,
      features: p.features,
      exec: opts.exec !== null ? { command: opts.exec, timeoutS: wallS / p.runsPerTest } : null,
      repeat: opts.repeat ?? 1,
      retry: opts.retryFailed ?? 0,
      net: opts.exec === null && tests.guestSuites.some((s) => s.network) ? { role: 'a', pair: false } : null,
    };
    // Two-guest suites: guest b boots the same kernel and image beside a, runs only the
    // two-guest tests (the rest are a's), and writes into guest-b/ of the run.
    const pair = opts.exec === null && tests.guestSuites.some((s) => s.network === 'pair');
    const twoGuestList = tests.guestSuites.flatMap((s) => s.tests.filter((t) => twoGuest(s, t)).map((t) => `${s.name}/${t.name}`));
    const twoGuestTests = new Set(twoGuestList);
    const killers = tests.guestSuites.flatMap((s) => s.tests.filter((t) => t.killsPeer).map((t) => `${s.name}/${t.name}`));
    const dirB = path.join(dir, 'guest-b');
    const testsB: TestPlan = { ...tests, planned: tests.planned.filter((t) => twoGuestTests.has(`${t.suite}/${t.name}`)), preset: [] };
    const jobB: Job = {
      ...job,
      net: { role: 'b', pair: true },
      skips: [...tests.skips, ...tests.planned.filter((t) => !twoGuestTests.has(`${t.suite}/${t.name}`) && !tests.skips.some((k) => k.test === `${t.suite}/${t.name}`)).map((t) => ({ test: `${t.suite}/${t.name}`, reason: 'runs on guest a alone' }))],
    };
    if (pair) job.net = { role: 'a', pair: true };
    // A retry on one guest alone would leave the other waiting at the test's barriers:
    // two-guest tests run as often as --repeat says on both, and are never retried.
    if (pair) job.once = jobB.once = twoGuestList;
    if (handoff) {
      await handoff.take({
        rec,
        plan: p,
        tests,
        job,
        scale,
        wallS,
        bootAllowanceS: BOOT_ALLOWANCE_S,
        kernel: path.join(build.dir, 'bzImage'),
        config: cfg.config,
        extraCmdline: detectorCmdline(scale, job.kmemleak),
        writeInitrd: async (file, j) => void (await jobInitrd(r, build.dir, image.cpio, jobFiles(j), file)),
        known: knownFor(p.known, src.version),
        expected: loadExpected(tests.guestSuites, rec.base?.debian?.version ?? null),
      });
      return { record: rec, exitCode: 0 };
    }
    const initrd = path.join(dir, 'initrd.cpio');
    const initrdB = path.join(dirB, 'initrd.cpio');
    if (pair && !opts.dryRun) fs.mkdirSync(dirB, { recursive: true });
    const jobCpio = opts.dryRun ? new Uint8Array() : await jobInitrd(r, build.dir, image.cpio, jobFiles(job), initrd);
    const jobCpioB = opts.dryRun || !pair ? new Uint8Array() : await jobInitrd(r, build.dir, image.cpio, jobFiles(jobB), initrdB);
    let outcome: BootOutcome | null = null;
    let pairOutcome: PairOutcome | null = null;
    const limits = { wallS, silenceS: 30 * scale, testGraceS: 30 };
    try {
      const spec = { kernel: path.join(build.dir, 'bzImage'), initrd, initrdParts: { base: image.cpio, job: jobCpio }, accel, memoryMiB: opts.memoryMiB, cpus: opts.cpus, runDir: dir, extraCmdline: detectorCmdline(scale, job.kmemleak), ...(!pair && wantsDump(cfg.config) ? { dump: path.join(dir, 'vmcore') } : {}), ...(job.net ? { net: { mac: GUEST_NET.a.mac } } : {}) };
      if (pair) {
        pairOutcome = await timed(rec, 'boot', () => bootPair(r, { a: spec, b: { ...spec, initrd: initrdB, initrdParts: { base: image.cpio, job: jobCpioB }, runDir: dirB } }, limits, signal, killers));
        outcome = pairOutcome.first?.role === 'b' ? pairOutcome.b : pairOutcome.a;
      } else outcome = await timed(rec, 'boot', () => boot(r, spec, limits, signal, host));
    } finally {
      fs.rmSync(initrd, { force: true });
      fs.rmSync(initrdB, { force: true });
    }
    if (opts.dryRun) return { record: rec, exitCode: 0 };

    const resultsIn = { features: p.features, config: cfg.config, kmemleak: job.kmemleak, known: knownFor(p.known, src.version), expected: loadExpected(tests.guestSuites, rec.base?.debian?.version ?? null), failOnFlaky: opts.failOnFlaky ?? false };
    const results = await timed(rec, 'results', async () => {
      if (!pairOutcome) return resultsStage({ ...resultsIn, dir, tests, outcome });
      const a = resultsStage({ ...resultsIn, dir, tests, outcome: pairOutcome.a });
      const b = resultsStage({ ...resultsIn, dir: dirB, tests: testsB, outcome: pairOutcome.b });
      const killedB = pairOutcome.killedB;
      const merged = mergeGuests(a, b, twoGuestList, killedB);
      const done = agentFinished(fs.readFileSync(path.join(dir, 'status.raw'), 'utf8')) && (killedB !== undefined || agentFinished(fs.readFileSync(path.join(dirB, 'status.raw'), 'utf8')));
      const v = verdict(merged.tests, merged.crashes, outcome, done, opts.failOnFlaky ?? false);
      const first = pairOutcome.first;
      rec.guestB = { dir: 'guest-b', ended: killedB !== undefined ? `killed at guest a's request in ${killedB}` : pairOutcome.b.ended, ...(first ? { stoppedBy: `guest ${first.role} ended (${first.ended}) before its agent finished` } : {}) };
      const postmortem = a.postmortem ?? b.postmortem;
      return { ...merged, knownIssues: a.knownIssues.map((k, i) => ({ ...k, seen: k.seen || (b.knownIssues[i]?.seen ?? false) })), status: v.status, reason: first ? `guest ${first.role}: ${v.reason}` : v.reason, ...(postmortem ? { postmortem } : {}) };
    });
    Object.assign(rec, results);
    // A panicked guest's memory (--debug kernels): every task's stack, by drgn.
    const d = outcome?.dump;
    if (d && 'file' in d) rec.dump = await timed(rec, 'dump', () => dumpStage({ ...d, vmlinux: path.join(build.dir, 'vmlinux'), tree: patched.tree, runDir: dir, failed: rec.status !== 'pass' }));
    else if (d) rec.dump = { file: null, bytes: 0, seconds: 0, format: 'kdump-zlib', kept: `QEMU could not write it: ${d.error}`, vmlinux: path.join(build.dir, 'vmlinux'), analysis: null };
    // A kernel with line tables (--debug): file:line for each report, and whom to tell.
    if (rec.crashes.length > 0 && cfg.config.get('CONFIG_DEBUG_INFO') === 'y') {
      const s = await timed(rec, 'symbolize', () => symbolizeCrashes(rec.crashes, { vmlinux: path.join(build.dir, 'vmlinux'), tree: patched.tree, outDir: cfg.outDir }));
      if (s.error) log(`symbolizing the kernel reports: ${s.error}`);
    }

    if (opts.compareBaseline && p.sets.length > 0) {
      log('--compare-baseline: the same run on the unpatched base');
      // The same suites as the patched run, on exactly the same base version.
      const sameBase = rec.base?.debian ? { base: rec.base.debian.asked === 'installed' ? 'installed' : rec.base.debian.version } : {};
      const base = await runLab({ ...opts, ...sameBase, patch: [], suites: opts.exec === null ? (opts.suites ?? rec.suites) : null, compareBaseline: false, label: 'baseline' }, signal, path.join(dir, 'baseline'), host);
      rec.baseline = { runDir: base.record.dir, status: base.record.status, ...compareRuns(rec, base.record) };
    }
    writeReports(rec);
    return { record: rec, exitCode: exitCodeFor(rec.status) };
  } catch (err) {
    if (!opts.dryRun) recordFailure(rec, err, signal?.aborted ?? false);
    throw err;
  }
}
