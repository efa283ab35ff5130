// The run: source → patches → config → build → image → boot (guest agent) → crash →
// results → report. Each stage adds to one RunRecord; run.json is rewritten after each.
import fs from 'node:fs';
import path from 'node:path';
import { commonPin, parseBaseOption, type BaseRequest } from './base.ts';
import { loadPatchSet, loadSuite, unmetRequirement, type PatchSet, type Suite } from './catalog.ts';
import { detectCrashes } from './crash.ts';
import { InfraError, PatchFailure, UsageError, oneLine } from './errors.ts';
import { localHost, type Host } from './host.ts';
import { parseFragment, parseConfigItem } from './kconfig.ts';
import { parseKtap } from './ktap.ts';
import { benchTable, writePerf } from './perf.ts';
import { log } from './log.ts';
import { paths } from './paths.ts';
import { checkRemote, connectRemote, type RemoteTarget, type SshHost } from './remote.ts';
import { buildStage } from './stages/build.ts';
import { configStage, fragmentFiles, type FragmentInput } from './stages/config.ts';
import { imageStage, jobInitrd } from './stages/image.ts';
import { patchesStage } from './stages/patches.ts';
import { treeUseLock, withLock } from './lock.ts';
import { boot, probeAccel, timeoutScale, type BootOutcome } from './stages/qemu.ts';
import { compareRuns, createRunDir, exitCodeFor, judgeSkips, newRunId, splitKernelMessages, summaryMarkdown, verdict, writeJunit, writeRunJson } from './stages/results.ts';
import { checkKernelSrc, sourceStage } from './stages/source.ts';
import type { RunOptions, RunRecord, TestRecord } from './types.ts';

export const DEFAULT_SUITES = ['smoke', 'uring'];
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

export interface Plan {
  sets: PatchSet[];
  suites: Suite[];
  fragments: FragmentInput[];
  features: string[];
  remote: RemoteTarget | null;
  base: BaseRequest;
}

/** Parse and check all input before anything is built: bad input is a usage error. */
export function plan(opts: RunOptions): Plan {
  if (opts.patch.includes('none') && opts.patch.length > 1) throw new UsageError(`--patch none cannot be combined with other sets (${opts.patch.join(',')})`);
  const sets = opts.patch.filter((p) => p !== 'none').map(loadPatchSet);
  const names = sets.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`patch set '${dup}' is given twice`);
  if (opts.exec !== null && opts.suites !== null) throw new UsageError('--exec and --suite are exclusive', 'run the command, or the suites');
  if (opts.exec !== null && opts.exec.trim() === '') throw new UsageError('--exec needs a command');
  if (opts.kernelSrc !== null) checkKernelSrc(opts.kernelSrc);
  if (opts.base !== undefined && opts.kernelSrc !== null) throw new UsageError('--base and --kernel-src are exclusive', 'a --kernel-src tree is its own base');
  const base: BaseRequest = { pin: commonPin(sets), want: opts.base !== undefined ? parseBaseOption(opts.base) : { kind: 'pin' } };
  const remote = opts.remote !== undefined ? checkRemote(opts.remote, opts.remoteKey) : null;
  let suiteNames: string[] = [];
  if (opts.exec === null) {
    suiteNames = opts.suites ?? [...new Set([...DEFAULT_SUITES, ...sets.flatMap((s) => s.defaultSuites)])];
  }
  const suites = suiteNames.map(loadSuite);
  const fragments: FragmentInput[] = fragmentFiles({ debug: opts.debug, kmemleak: opts.kmemleak ?? false });
  for (const s of sets) {
    if (s.configFragment) fragments.push({ source: path.relative(paths.repoRoot, s.configFragment), text: fs.readFileSync(s.configFragment, 'utf8') });
  }
  const suiteItems = suites.flatMap((s) => [...s.requires.config, ...s.tests.flatMap((t) => t.requires?.config ?? [])]);
  if (suiteItems.length > 0) {
    fragments.push({ source: `suites (${suites.map((s) => s.name).join(',')})`, text: suiteItems.map((i) => (i.includes('=') ? i : `${i}=y`)).join('\n') });
  }
  for (const f of opts.configFragments) {
    if (!fs.existsSync(f)) throw new UsageError(`--config ${f}: no such file`);
    const text = fs.readFileSync(f, 'utf8');
    const { bad } = parseFragment(text, f);
    if (bad.length > 0) throw new UsageError(`--config ${f}:${bad[0]!.line}: '${bad[0]!.text}' is not a config item`, 'write CONFIG_X=y, CONFIG_X=value or # CONFIG_X is not set');
    fragments.push({ source: f, text });
  }
  if (opts.configItems.length > 0) {
    for (const item of opts.configItems) {
      if (!parseConfigItem(item, '--config-item')) throw new UsageError(`--config-item '${item}' is not a config item`, 'write CONFIG_X=y, CONFIG_X=m, CONFIG_X=n or CONFIG_X=value');
    }
    fragments.push({ source: '--config-item', text: opts.configItems.map((i) => (/=n$/.test(i) ? `# ${i.slice(0, -2)} is not set` : i)).join('\n') });
  }
  return { sets, suites, fragments, features: [...new Set(sets.flatMap((s) => s.features))], remote, base };
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

/**
 * One run. With --remote the connection is made (and the host checked for QEMU) before
 * anything is created, so an unreachable host costs seconds, not a kernel build; the
 * comparison run reuses it.
 */
export async function runLab(opts: RunOptions, signal?: AbortSignal, runDirOverride?: string, host?: Host): Promise<LabResult> {
  const p = plan(opts);
  if (host || !p.remote) return runPlanned(opts, p, host ?? localHost, signal, runDirOverride);
  const remote = await connectRemote(p.remote);
  log(`guest host: ${remote.label} (${remote.qemuVersion})`);
  try {
    return await runPlanned(opts, p, remote, signal, runDirOverride);
  } finally {
    await remote.close();
  }
}

async function runPlanned(opts: RunOptions, p: Plan, host: Host, signal: AbortSignal | undefined, runDirOverride: string | undefined): Promise<LabResult> {
  const id = newRunId(opts.label);
  const dir = opts.dryRun ? path.join(opts.resultsDir, id) : runDirOverride ? (fs.mkdirSync(runDirOverride, { recursive: true }), runDirOverride) : createRunDir(opts.resultsDir, id, true);
  const rec: RunRecord = {
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
  };
  if (host.remote) {
    const h = host as SshHost;
    rec.remote = { target: h.label, qemu: h.qemuVersion, hostKey: h.hostKey, knownHost: h.knownHost };
  }
  const r = { commands: rec.commands, dryRun: opts.dryRun };
  if (!opts.dryRun) {
    writeRunJson(rec);
    log(`run ${id}: results in ${dir}`);
  }
  try {
    const buildLog = path.join(dir, 'build.log');
    // Ctrl-C / SIGTERM before the guest runs: stop at the next stage boundary (make itself is killed).
    const interrupted = () => {
      if (signal?.aborted) throw new InfraError('interrupted before the guest ran');
    };

    const src = await timed(rec, 'source', () => sourceStage(r, opts.kernelSrc, p.base));
    rec.base = { desc: src.baseDesc, version: src.version, sha256: src.baseSha256, debian: src.debian };
    if (src.debian && !src.debian.pinned) log(`base ${src.debian.version} is not the pinned ${src.debian.pin.version} (${src.debian.pin.file})`);
    interrupted();
    const patched = await timed(rec, 'patches', () => patchesStage(r, src, p.sets));
    interrupted();
    // Config and build share the tree's out dirs: one run at a time per tree (another run
    // with other --config-item values would rewrite .config under this one's make).
    const { cfg, build } = await withLock(treeUseLock(patched.tree), async () => {
      const cfg = await timed(rec, 'config', () => configStage(r, patched.tree, { debug: opts.debug, kmemleak: opts.kmemleak ?? false }, p.fragments, undefined, `${src.baseTree}:${patched.stackHash}`));
      interrupted();
      if (!opts.dryRun) fs.copyFileSync(cfg.dotConfig, path.join(dir, 'config'));
      const build = await timed(rec, 'build', () =>
        buildStage(r, { tree: patched.tree, outDir: cfg.outDir, baseTree: src.baseTree, stackHash: patched.stackHash, configSha256: cfg.configSha256, configCommand: cfg.command, logFile: buildLog, signal }),
      );
      return { cfg, build };
    });
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
    };
    if (!opts.dryRun) fs.copyFileSync(path.join(build.dir, 'metadata.json'), path.join(dir, 'metadata.json'));
    const image = await timed(rec, 'image', () => imageStage(r, build.dir, build.key, buildLog));
    interrupted();

    // Which tests run, which skip (requirements) and which cannot (suite failed to build).
    const preset: TestRecord[] = [];
    const skipArgs: string[] = [];
    for (const s of p.suites) {
      if (!image.suitesBuilt.includes(s.name)) {
        // Against a patched kernel's uAPI a suite that does not compile is the patch's failure;
      // on the unpatched base it is ours (the lab's suite is broken).
      const patched = p.sets.length > 0;
      for (const t of s.tests) preset.push({ suite: s.name, name: t.name, status: patched ? 'fail' : 'error', durationS: 0, reason: `suite failed to build against ${patched ? 'the patched' : 'the base'} kernel's headers: ${image.suiteErrors[s.name] ?? 'unknown'}` });
        continue;
      }
      const suiteWhy = unmetRequirement(s.requires, cfg.config, p.features);
      for (const t of s.tests) {
        const why = suiteWhy ?? unmetRequirement(t.requires, cfg.config, p.features);
        if (why) skipArgs.push(`${s.name}/${t.name}=${why.replace(/[\s']/g, '+')}`);
      }
    }

    const accel = await probeAccel(host);
    rec.accel = accel;
    if (rec.remote) {
      rec.remote.accel = accel;
      log(`${host.label}: accel ${accel}`);
    }
    const scale = timeoutScale(accel);
    const guestSuites = p.suites.filter((s) => image.suitesBuilt.includes(s.name));
    const wallS = opts.timeoutS ?? (BOOT_ALLOWANCE_S + (opts.exec !== null ? 600 : guestSuites.reduce((a, s) => a + s.timeout, 0))) * scale;
    const initrd = path.join(dir, 'initrd.cpio');
    const jobEnv: Record<string, string> = {
      KL_SCALE: String(scale),
      KL_KERNEL_VERSION: src.version,
      KL_CPUS: String(opts.cpus),
      KL_SUITE_LIST: guestSuites.map((s) => s.name).join(' '),
      KL_SKIP: ` ${skipArgs.join(' ')} `,
      KL_KMEMLEAK: opts.kmemleak ? '1' : '0',
      KL_FEATURES: p.features.join(','),
    };
    if (opts.exec !== null) {
      jobEnv.KL_EXEC = Buffer.from(opts.exec).toString('base64');
      jobEnv.KL_EXEC_TIMEOUT = String(Math.max(1, Math.floor(wallS)));
    }
    const job = opts.dryRun ? new Uint8Array() : await jobInitrd(r, build.dir, image.cpio, jobEnv, initrd);
    let outcome: BootOutcome | null = null;
    try {
      outcome = await timed(rec, 'boot', () =>
        boot(r, { kernel: path.join(build.dir, 'bzImage'), initrd, initrdParts: { base: image.cpio, job }, accel, memoryMiB: opts.memoryMiB, cpus: opts.cpus, runDir: dir, extraCmdline: detectorCmdline(scale, opts.kmemleak ?? false) }, { wallS, silenceS: 30 * scale, testGraceS: 30 }, signal, host),
      );
    } finally {
      fs.rmSync(initrd, { force: true });
    }
    if (opts.dryRun) return { record: rec, exitCode: 0 };

    await timed(rec, 'results', async () => {
      const ktapText = fs.readFileSync(path.join(dir, 'ktap.raw'), 'utf8');
      fs.writeFileSync(path.join(dir, 'results.ktap'), ktapText);
      const consoleText = fs.readFileSync(path.join(dir, 'console.log'), 'utf8');
      const statusText = fs.readFileSync(path.join(dir, 'status.raw'), 'utf8');
      const agentDone = /^done \d+/m.test(statusText);
      const parsed = parseKtap(ktapText);
      rec.crashes = detectCrashes(consoleText);
      const tests: TestRecord[] = [...preset, ...parsed.tests];
      // Tests the guest never reported: the running one hung or died, the rest never ran.
      const planned = opts.exec !== null ? [{ suite: 'exec', name: 'command' }] : guestSuites.flatMap((s) => s.tests.map((t) => ({ suite: s.name, name: t.name })));
      for (const t of planned) {
        if (tests.some((x) => x.suite === t.suite && x.name === t.name)) continue;
        const full = `${t.suite}/${t.name}`;
        const crash = rec.crashes.find((c) => c.test === full);
        if (parsed.running === full) {
          const hung = outcome?.ended === 'wall-timeout' || outcome?.ended === 'test-timeout' || outcome?.ended === 'silence';
          tests.push({ ...t, status: hung && !crash ? 'timeout' : 'error', durationS: 0, reason: crash ? `kernel: ${crash.title}` : hung ? `still running when the guest was stopped (${outcome?.ended})` : 'guest stopped during this test' });
        } else tests.push({ ...t, status: 'error', durationS: 0, reason: 'not run: the guest stopped earlier' });
      }
      rec.tests = judgeSkips(tests, guestSuites, p.features, cfg.config);
      const v = verdict(rec.tests, rec.crashes, outcome, agentDone);
      rec.status = v.status;
      rec.reason = v.reason;
      const kdir = path.join(dir, 'kmsg');
      fs.mkdirSync(kdir, { recursive: true });
      // File names come from the host's own plan, never from what the guest printed: a
      // marker naming a test we did not plan (a patch under test wrote it) gets no file.
      const files = new Map<string, string>();
      for (const t of planned) files.set(`${t.suite}/${t.name}`, `${t.suite}__${t.name}.log`);
      if (opts.kmemleak) for (const s of guestSuites) files.set(`${s.name}/kmemleak-scan`, `${s.name}__kmemleak-scan.log`);
      for (const [test, lines] of splitKernelMessages(consoleText)) {
        const file = files.get(test);
        if (file) fs.writeFileSync(path.join(kdir, file), `${lines.join('\n')}\n`);
        else log(`console: a test marker for '${JSON.stringify(test).slice(1, 81)}', which the run did not plan: ignored`);
      }
    });

    if (opts.compareBaseline && p.sets.length > 0) {
      log('--compare-baseline: the same run on the unpatched base');
      // The same suites as the patched run, on exactly the same base version.
      const sameBase = rec.base?.debian ? { base: rec.base.debian.asked === 'installed' ? 'installed' : rec.base.debian.version } : {};
      const base = await runLab({ ...opts, ...sameBase, patch: [], suites: opts.exec === null ? rec.suites : null, compareBaseline: false, label: 'baseline' }, signal, path.join(dir, 'baseline'), host);
      rec.baseline = { runDir: base.record.dir, status: base.record.status, ...compareRuns(rec, base.record) };
    }

    rec.finishedAt = new Date().toISOString();
    writeJunit(rec);
    const perf = writePerf(dir, rec.tests);
    const perfMd = perf.length > 0 ? `\n## Performance (${rec.accel === 'tcg' ? 'TCG emulation: compare ratios, not absolutes' : 'KVM'})\n\n${benchTable(perf)}\n\nChart: perf.svg; data: perf.json\n` : '';
    fs.writeFileSync(path.join(dir, 'summary.md'), summaryMarkdown(rec) + perfMd);
    writeRunJson(rec);
    return { record: rec, exitCode: exitCodeFor(rec.status) };
  } catch (err) {
    // Every ending says why: run.json, summary.md and junit.xml are written even when a
    // stage throws (tuxmake writes its metadata in finally). Ctrl-C stays incomplete.
    if (!opts.dryRun) {
      rec.status = signal?.aborted ? 'incomplete' : err instanceof PatchFailure ? 'fail' : 'error';
      rec.reason = err instanceof PatchFailure ? oneLine(err) : `${err instanceof UsageError ? 'input' : err instanceof InfraError ? 'infrastructure' : 'internal'} error: ${oneLine(err)}`;
      rec.finishedAt = new Date().toISOString();
      try {
        writeRunJson(rec);
        writeJunit(rec);
        fs.writeFileSync(path.join(dir, 'summary.md'), summaryMarkdown(rec));
      } catch {
        // the disk may be what failed: the exit code and the error line still say why
      }
    }
    throw err;
  }
}
