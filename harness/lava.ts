// LAVA, the distributed engine KernelCI and LKFT run across labs: a lab run as a LAVA job
// (export-lava) and a finished job back as the run directory a local run writes (import-lava).
//
// The job: device type qemu, the kernel and the initramfs deployed to tmpfs with their
// sha256, booted with the local run's kernel command line and QEMU options, one monitor
// test action. A LAVA worker's QEMU has none of our virtio result ports, so the exported
// kernel command line puts the guest agent in console mode (images/base/init, top): the
// KTAP and status streams arrive on the console as numbered, length-checked /dev/kmsg
// records under a per-run nonce, which decodeConsole() turns back into ktap.raw and
// status.raw. Everything else (crash triage, charging reports to tests, the verdict, the
// reports) is the results stage's, on the whole console log, as in a local run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { resolveSuite } from './catalog.ts';
import { stripPrefixes } from './crash.ts';
import { UsageError } from './errors.ts';
import { log } from './log.ts';
import { runLab, type Handoff } from './pipeline.ts';
import { plan, type TestPlan } from './plan.ts';
import { guestCmdline, QEMU, QEMU_MACHINE, qemuCpu, SCRATCH_MIB, scratchDrive } from './stages/qemu.ts';
import { createRunDir, exitCodeFor, newRunId, resultsStage, writeReports, writeRunJson } from './stages/results.ts';
import type { BootOutcome } from './stages/qemu.ts';
import type { KnownIssue, RunOptions, RunRecord } from './types.ts';
import type { Expectation } from './expected.ts';

/** What LAVA waits for: its boot prompt, the monitor's start and end, one line per test. */
export const LAVA_MARKS = {
  prompt: 'kl-agent: started',
  start: 'kl-agent: suites begin',
  end: 'kl-agent: done',
  pattern: 'kl-result (?P<test_case_id>[\\w.-]+) (?P<result>pass|fail|skip)',
} as const;

/** The kernel command-line words that put the agent in console mode for this run's nonce. */
export function consoleModeCmdline(nonce: string): string[] {
  return [`kl.console=${nonce}`, 'printk.devkmsg=on'];
}

// ---------------------------------------------------------------------------------------
// The console streams

export interface ConsoleStreams {
  ktap: string;
  status: string;
  records: number;
  /** records refused (damaged, duplicated or forged) and sequence numbers never seen */
  problems: string[];
}

const RECORD = /^klr (\S+) ([ks]) (\d+) (\d+)(\+?)(?: (.*))?$/;

/**
 * The agent's KTAP and status streams from a console log (untrusted: the guest and the
 * patch under test can print anything). A record counts only under this run's nonce, with
 * a sequence number past the last one of its stream and the length it declares; a gap is
 * named (a record lost on the way).
 */
export function decodeConsole(consoleText: string, nonce: string): ConsoleStreams {
  const streams = { k: { next: 1, out: [] as string[], part: '' }, s: { next: 1, out: [] as string[], part: '' } };
  const problems: string[] = [];
  let records = 0;
  consoleText.split('\n').forEach((raw, i) => {
    const m = RECORD.exec(stripPrefixes(raw).replace(/\r$/, ''));
    if (!m || m[1] !== nonce) return;
    const st = streams[m[2] as 'k' | 's'];
    const seq = Number(m[3]);
    const want = Number(m[4]);
    const text = m[6] ?? '';
    const chars = [...text].length;
    if (seq < st.next) return void problems.push(`console.log line ${i + 1}: ${m[2]} record ${seq} again (already had it)`);
    if (chars !== want) {
      st.next = seq + 1;
      return void problems.push(`console.log line ${i + 1}: ${m[2]} record ${seq} is ${chars} characters, not ${want}: dropped`);
    }
    if (seq > st.next) problems.push(`${m[2]} records ${st.next}..${seq - 1} never arrived`);
    st.next = seq + 1;
    records++;
    if (m[5] === '+') st.part += text;
    else {
      st.out.push(st.part + text);
      st.part = '';
    }
  });
  const join = (a: string[]) => (a.length > 0 ? `${a.join('\n')}\n` : '');
  return { ktap: join(streams.k.out), status: join(streams.s.out), records, problems };
}

// ---------------------------------------------------------------------------------------
// The job

export interface LavaJobInput {
  name: string;
  runId: string;
  kernelUrl: string;
  kernelSha256: string;
  initrdUrl: string;
  initrdSha256: string;
  /** the blank scratch disk, gzip-compressed (LAVA unpacks it): /dev/vda as in a local run */
  scratchUrl: string;
  scratchSha256: string;
  cmdline: string[];
  noKvm: boolean;
  memoryMiB: number;
  cpus: number;
  /** seconds: LAVA's boot action (to the agent's prompt) and test action (the suites) */
  bootS: number;
  testS: number;
  metadata: Record<string, string>;
}

/** QEMU options beyond what LAVA's qemu device type gives (-m, -nographic, its NIC, KVM or not). */
export function lavaExtraOptions(i: Pick<LavaJobInput, 'noKvm' | 'cpus'>): string[] {
  // -cpu max only under TCG: on KVM the device type adds -cpu host, and a later -cpu wins.
  // QEMU merges its -machine options: this one's type wins over the device type's default.
  return [`-machine ${QEMU_MACHINE}`, ...(i.noKvm ? [`-cpu ${qemuCpu('tcg')}`] : []), `-smp ${i.cpus}`, '-no-reboot', '-device virtio-rng-pci'];
}

const secs = (s: number) => ({ seconds: Math.ceil(s) });

/** The LAVA job (2023.01 vocabulary, which newer LAVA still takes) as an object. */
export function lavaJob(i: LavaJobInput): Record<string, unknown> {
  const deployS = 600;
  const finalS = 300;
  return {
    device_type: 'qemu',
    job_name: i.name,
    visibility: 'public',
    priority: 'medium',
    timeouts: {
      job: secs(deployS + i.bootS + i.testS + finalS),
      action: secs(Math.max(deployS, i.bootS)),
      actions: { 'auto-login-action': secs(i.bootS), 'lava-test-monitor': secs(i.testS) },
      connection: secs(300),
    },
    context: { arch: 'x86_64', no_kvm: i.noKvm, memory: i.memoryMiB, extra_options: lavaExtraOptions(i) },
    metadata: i.metadata,
    actions: [
      {
        deploy: {
          to: 'tmpfs',
          timeout: secs(deployS),
          images: {
            kernel: { url: i.kernelUrl, sha256sum: i.kernelSha256, image_arg: `-kernel {kernel} -append "${i.cmdline.join(' ')}"` },
            ramdisk: { url: i.initrdUrl, sha256sum: i.initrdSha256, image_arg: '-initrd {ramdisk}' },
            scratch: { url: i.scratchUrl, sha256sum: i.scratchSha256, compression: 'gz', image_arg: `-drive ${scratchDrive('{scratch}')}` },
          },
        },
      },
      { boot: { method: 'qemu', media: 'tmpfs', timeout: secs(i.bootS), prompts: [LAVA_MARKS.prompt] } },
      { test: { timeout: secs(i.testS), monitors: [{ name: 'kernel-lab', start: LAVA_MARKS.start, end: LAVA_MARKS.end, pattern: LAVA_MARKS.pattern }] } },
    ],
  };
}

/**
 * A device dictionary for running the job on this machine with lava-run (a LAVA server
 * renders one from its qemu device type and the job's context; lava-run alone does not):
 * what that device type gives a qemu job, written out for this job's context.
 */
export function lavaDevice(i: Pick<LavaJobInput, 'noKvm' | 'cpus' | 'memoryMiB'>): Record<string, unknown> {
  return {
    device_type: 'qemu',
    available_architectures: ['x86_64'],
    constants: {
      'kernel-start-message': 'Linux version [0-9]',
      'default-shell-prompt': 'lava-test: # ',
      'shutdown-message': 'The system is going down for reboot NOW',
      spawn_maxread: '4092',
      failure_retry: 1, // a lab run is not retried behind our back: a flaky boot is news
      boot_retry: 1,
      posix: { lava_test_sh_cmd: '/bin/sh', lava_test_results_dir: '/lava-%s', lava_test_shell_file: '~/.bashrc' },
    },
    commands: {},
    actions: {
      // a tmpfs deploy of images is LAVA's "image" method (the guest block is for overlays, unused here)
      deploy: { methods: { image: { parameters: { guest: { size: 512, interface: 'virtio', driveid: 'lavatest' } } } } },
      boot: {
        connections: { serial: null },
        methods: {
          qemu: {
            parameters: {
              command: QEMU,
              options: ['-nographic', '-net nic,model=virtio,macaddr=52:54:00:12:34:58 -net user', `-m ${i.memoryMiB}`, '-monitor none', ...(i.noKvm ? [] : ['-cpu host', '-enable-kvm'])],
              extra: lavaExtraOptions(i),
            },
          },
        },
      },
    },
    timeouts: { actions: {}, connections: {} },
  };
}

// ---------------------------------------------------------------------------------------
// export-lava

/** What import-lava needs of the run that exported the job (export.json). */
export interface ExportRecord {
  format: 'kernel-lab-lava-export/1';
  nonce: string;
  record: RunRecord; // as the run stood before the boot: options, base, kernel, series, suites
  tests: { suites: string[]; planned: TestPlan['planned']; preset: TestPlan['preset']; skips: TestPlan['skips'] };
  features: string[];
  config: [string, string][];
  kmemleak: boolean;
  known: KnownIssue[];
  expected: [string, Expectation][];
  noKvm: boolean;
  wallS: number;
}

export interface ExportOptions {
  out: string;
  artifactUrl: string | null;
  noKvm: boolean;
}

function checkExport(opts: RunOptions, e: ExportOptions): void {
  if (opts.remote !== undefined) throw new UsageError('export-lava: --remote does not apply (the LAVA lab boots the guest)');
  if (opts.compareBaseline) throw new UsageError('export-lava: --compare-baseline does not apply', 'export the base as a job of its own (--patch none)');
  if (opts.dryRun) throw new UsageError('export-lava: --dry-run does not apply', 'npm run lab -- --dry-run ... prints a local run\'s commands');
  if (e.artifactUrl !== null) {
    let u: URL | null = null;
    try {
      u = new URL(e.artifactUrl);
    } catch {
      u = null;
    }
    if (!u || !['http:', 'https:', 'file:'].includes(u.protocol)) throw new UsageError(`export-lava: --artifact-url '${e.artifactUrl}' is not an http(s):// or file:// URL`);
  }
  if (fs.existsSync(e.out) && (!fs.statSync(e.out).isDirectory() || fs.readdirSync(e.out).length > 0)) {
    throw new UsageError(`export-lava: ${e.out} exists and is not an empty directory`, 'give --out a new directory');
  }
  if (!fs.existsSync(path.dirname(path.resolve(e.out)))) throw new UsageError(`export-lava: ${path.dirname(path.resolve(e.out))} does not exist`);
  const pair = plan(opts).suites.find((s) => s.network === 'pair');
  if (pair) throw new UsageError(`export-lava: suite ${pair.name} boots two guests on one link, which a LAVA qemu job does not`, 'leave it out of --suite');
}

/** A blank disk of `mib` MiB, gzip-compressed (a few hundred KiB to ship instead of the whole). */
async function blankDiskGz(file: string, mib: number): Promise<void> {
  const zero = Buffer.alloc(1 << 20);
  async function* zeros() {
    for (let i = 0; i < mib; i++) yield zero;
  }
  await pipeline(Readable.from(zeros()), zlib.createGzip({ level: 9 }), fs.createWriteStream(file));
}

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/**
 * Build as a local run does, then write job.yaml, the artifacts it names, a device
 * dictionary for lava-run here and export.json into `out`. Written beside it first and
 * renamed into place: a failure leaves nothing in `out`.
 */
export async function exportLava(opts: RunOptions, e: ExportOptions, signal?: AbortSignal): Promise<{ dir: string; job: string }> {
  checkExport(opts, e);
  const out = path.resolve(e.out);
  const staging = path.join(path.dirname(out), `.${path.basename(out)}.partial-${process.pid}`);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging);
  try {
    await runLab(opts, signal, path.join(staging, 'build'), undefined, {
      accel: e.noKvm ? 'tcg' : 'kvm',
      take: async (h: Handoff) => writeExport(h, staging, out, e, opts),
    });
    fs.rmSync(path.join(staging, 'build', 'run.json'), { force: true });
    if (fs.existsSync(out)) fs.rmdirSync(out);
    fs.renameSync(staging, out);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  return { dir: out, job: path.join(out, 'job.yaml') };
}

async function writeExport(h: Handoff, dir: string, finalDir: string, e: ExportOptions, opts: RunOptions): Promise<void> {
  const nonce = crypto.randomBytes(8).toString('hex');
  fs.copyFileSync(h.kernel, path.join(dir, 'bzImage'));
  await h.writeInitrd(path.join(dir, 'initramfs.cpio'), h.job);
  await blankDiskGz(path.join(dir, 'scratch.img.gz'), SCRATCH_MIB);
  const base = e.artifactUrl ? (e.artifactUrl.endsWith('/') ? e.artifactUrl : `${e.artifactUrl}/`) : `file://${finalDir}/`;
  const k = h.rec.kernel;
  const sets = k && k.patches.length > 0 ? [...new Set(k.patches.map((x) => x.set))].join(',') : 'none';
  const input: LavaJobInput = {
    name: `kernel-lab ${sets} (${h.rec.base?.version ?? '?'}${opts.debug ? ', debug' : ''}): ${h.rec.suites.join(',') || 'exec'}`,
    runId: h.rec.id,
    kernelUrl: `${base}bzImage`,
    kernelSha256: sha256(path.join(dir, 'bzImage')),
    initrdUrl: `${base}initramfs.cpio`,
    initrdSha256: sha256(path.join(dir, 'initramfs.cpio')),
    scratchUrl: `${base}scratch.img.gz`,
    scratchSha256: sha256(path.join(dir, 'scratch.img.gz')),
    cmdline: guestCmdline([...h.extraCmdline, ...consoleModeCmdline(nonce)]),
    noKvm: e.noKvm,
    memoryMiB: opts.memoryMiB,
    cpus: opts.cpus,
    bootS: h.bootAllowanceS * h.scale,
    testS: Math.max(60, h.wallS - h.bootAllowanceS * h.scale),
    metadata: {
      'kernel-lab.run-id': h.rec.id,
      'kernel-lab.patch-sets': sets,
      'kernel-lab.build-key': k?.buildKey ?? '',
      'kernel-lab.nonce': nonce,
      ...(h.rec.series ? { 'kernel-lab.message-id': h.rec.series.messageId } : {}),
    },
  };
  const header = `# kernel-lab export-lava: run ${h.rec.id}; import the finished job with npm run lab -- import-lava\n`;
  fs.writeFileSync(path.join(dir, 'job.yaml'), header + toYaml(lavaJob(input), { lineWidth: 0 }));
  fs.writeFileSync(path.join(dir, 'device-qemu.yaml'), `# for lava-run on this machine only (a LAVA server renders its own)\n${toYaml(lavaDevice(input), { lineWidth: 0 })}`);
  const rec: ExportRecord = {
    format: 'kernel-lab-lava-export/1',
    nonce,
    record: { ...h.rec, commands: [], dir: '' },
    tests: { suites: h.tests.guestSuites.map((s) => s.name), planned: h.tests.planned, preset: h.tests.preset, skips: h.tests.skips },
    features: h.plan.features,
    config: [...h.config.entries()],
    kmemleak: h.job.kmemleak,
    known: h.known,
    expected: [...h.expected.entries()],
    noKvm: e.noKvm,
    wallS: h.wallS,
  };
  fs.writeFileSync(path.join(dir, 'export.json'), `${JSON.stringify(rec, null, 2)}\n`);
  log(`LAVA job for run ${h.rec.id}: ${path.join(finalDir, 'job.yaml')} (artifacts at ${base})`);
}

// ---------------------------------------------------------------------------------------
// import-lava

export interface LavaLog {
  /** the device's console, one entry per line, with LAVA's time stamps */
  target: { dt: string; msg: string }[];
  /** LAVA's own results (lvl: results): test cases, and its job record */
  results: Record<string, unknown>[];
  /** LAVA's verdict on the job: its error type and message when it did not finish */
  job: { result: string; errorType?: string; errorMsg?: string } | null;
}

/** A LAVA job log: lava-run's stderr, or a server's /api/v0.2/jobs/N/logs/ (a YAML list of the same maps). */
export function parseLavaLog(text: string, file: string): LavaLog {
  const out: LavaLog = { target: [], results: [], job: null };
  let entries = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/^- /, '').trim();
    if (!line.startsWith('{')) return;
    let e: unknown;
    try {
      e = parseYaml(line);
    } catch {
      throw new UsageError(`import-lava: ${file}:${i + 1}: not a LAVA log entry`);
    }
    if (!e || typeof e !== 'object') return;
    entries++;
    const { lvl, msg, dt } = e as { lvl?: string; msg?: unknown; dt?: string };
    // "feedback": console lines LAVA read after the test action (the guest powering off)
    if ((lvl === 'target' || lvl === 'feedback') && typeof msg === 'string') out.target.push({ dt: dt ?? '', msg });
    else if (lvl === 'results' && msg && typeof msg === 'object') {
      const r = msg as Record<string, unknown>;
      out.results.push(r);
      if (r.definition === 'lava' && r.case === 'job') {
        const extra = { ...r, ...((r.extra ?? {}) as Record<string, unknown>) };
        out.job = { result: String(r.result), ...(extra.error_type ? { errorType: String(extra.error_type) } : {}), ...(extra.error_msg ? { errorMsg: String(extra.error_msg) } : {}) };
      }
    }
  });
  if (entries === 0) throw new UsageError(`import-lava: ${file} holds no LAVA log entries`, 'give lava-run\'s stderr or the job\'s log from the server (/api/v0.2/jobs/N/logs/)');
  return out;
}

/** The console as a local run's console.log has it: each line stamped with its time since the first. */
export function consoleLog(target: LavaLog['target']): string {
  const t0 = target.length > 0 ? Date.parse(target[0]!.dt) : NaN;
  return target
    .flatMap((t) => t.msg.split('\n').map((m) => ({ dt: t.dt, m: m.replace(/\r$/, '') })))
    .map(({ dt, m }) => {
      const s = Number.isFinite(t0) && Number.isFinite(Date.parse(dt)) ? (Date.parse(dt) - t0) / 1000 : 0;
      return `[host ${s.toFixed(3).padStart(9)}] ${m}\n`;
    })
    .join('');
}

/** The job log and export.json named by import-lava's argument (and --export). */
function findInputs(input: string, exportDir: string | null): { logFile: string; exportFile: string } {
  if (!fs.existsSync(input)) throw new UsageError(`import-lava: ${input}: no such file or directory`);
  let logFile = input;
  if (fs.statSync(input).isDirectory()) {
    const found = ['job.log', 'lava.log', 'logs.yaml', 'output.yaml'].map((n) => path.join(input, n)).find((f) => fs.existsSync(f));
    if (!found) throw new UsageError(`import-lava: ${input} has no job log (job.log, lava.log, logs.yaml or output.yaml)`, 'save lava-run\'s stderr there as job.log, or give the log file');
    logFile = found;
  }
  const near = [exportDir, path.dirname(logFile), path.dirname(path.dirname(logFile))].filter((d): d is string => d !== null).map((d) => path.join(d, 'export.json'));
  const exportFile = near.find((f) => fs.existsSync(f));
  if (!exportFile) throw new UsageError(`import-lava: no export.json ${exportDir ? `in ${exportDir}` : `beside ${logFile} or its parent`}`, 'give the export-lava directory with --export DIR');
  return { logFile, exportFile };
}

export interface ImportOptions {
  input: string;
  exportDir: string | null;
  resultsDir: string;
  /** export-lava --lava-server: the server job the log came from */
  server?: LavaServerJob;
}

export type LavaServerJob = NonNullable<NonNullable<RunRecord['lava']>['server']>;

/**
 * A finished LAVA job as a run directory: console.log from the target lines, ktap.raw and
 * status.raw from the agent's console records, then the results stage and the reports as
 * a local run writes them. LAVA's own failure (error type Infrastructure, Job, ...) with no
 * result from the guest is the lab's, never the kernel's.
 */
export function importLava(o: ImportOptions): { record: RunRecord; exitCode: number } {
  const { logFile, exportFile } = findInputs(o.input, o.exportDir);
  let ex: ExportRecord;
  try {
    ex = JSON.parse(fs.readFileSync(exportFile, 'utf8')) as ExportRecord;
  } catch (err) {
    throw new UsageError(`import-lava: ${exportFile}: not JSON (${(err as Error).message})`);
  }
  if (ex.format !== 'kernel-lab-lava-export/1' || !/^[0-9a-f]+$/.test(ex.nonce ?? '')) throw new UsageError(`import-lava: ${exportFile} is not an export-lava record`);
  const lavaLog = parseLavaLog(fs.readFileSync(logFile, 'utf8'), logFile);
  // This checkout must have the suites the job ran (their manifests judge the results).
  const suites = ex.tests.suites.map((s) => resolveSuite(s));
  const id = newRunId('lava');
  const dir = createRunDir(o.resultsDir, id, true);
  const consoleText = consoleLog(lavaLog.target);
  fs.writeFileSync(path.join(dir, 'console.log'), consoleText);
  const streams = decodeConsole(consoleText, ex.nonce);
  fs.writeFileSync(path.join(dir, 'ktap.raw'), streams.ktap);
  fs.writeFileSync(path.join(dir, 'status.raw'), streams.status);
  for (const p of streams.problems.slice(0, 5)) log(`console records: ${p}`);
  const rec: RunRecord = {
    ...ex.record,
    id,
    dir,
    status: 'incomplete',
    startedAt: lavaLog.target[0]?.dt ? new Date(lavaLog.target[0].dt).toISOString() : ex.record.startedAt,
    tests: [],
    crashes: [],
    commands: [],
    accel: ex.noKvm ? 'tcg' : 'kvm',
    lava: { log: logFile, export: exportFile, job: lavaLog.job, records: streams.records, problems: streams.problems, ...(o.server ? { server: o.server } : {}) },
  };
  const durationS = consoleText.length > 0 ? Number(/\[host\s+([\d.]+)\]/.exec(consoleText.trimEnd().split('\n').pop() ?? '')?.[1] ?? 0) : 0;
  rec.timings = { ...rec.timings, boot: durationS };
  const done = /^done \d+/m.test(streams.status);
  // LAVA's job outcome in our terms: it ran to the end (poweroff), or its timeout stopped it.
  const lavaTimeout = /timed out|timeout/i.test(lavaLog.job?.errorMsg ?? '');
  const outcome: BootOutcome = { ended: done ? 'poweroff' : lavaTimeout ? 'wall-timeout' : 'killed', qemuExit: null, durationS };
  const results = resultsStage({
    dir,
    tests: { guestSuites: suites, planned: ex.tests.planned, preset: ex.tests.preset, skips: ex.tests.skips },
    features: ex.features,
    config: new Map(ex.config),
    outcome,
    kmemleak: ex.kmemleak,
    known: ex.known,
    expected: new Map(ex.expected),
    failOnFlaky: ex.record.options.failOnFlaky ?? false,
  });
  Object.assign(rec, results);
  // No word from the agent and LAVA says why: its error, typed as LAVA types it.
  if (!done && streams.records === 0 && lavaLog.job && lavaLog.job.result !== 'pass' && rec.status !== 'crash') {
    rec.status = 'error';
    rec.reason = `LAVA job did not run the guest to the end: ${lavaLog.job.errorType ?? 'error'}: ${lavaLog.job.errorMsg ?? 'no message'}`;
  }
  // LAVA stopped the guest (its timeout): say so in its words too.
  else if (!done && lavaLog.job?.errorMsg) rec.reason = `${rec.reason} (LAVA: ${lavaLog.job.errorType ?? 'error'}: ${lavaLog.job.errorMsg})`;
  writeReports(rec);
  return { record: rec, exitCode: exitCodeFor(rec.status) };
}

