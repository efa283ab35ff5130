// Stage 6: boot in QEMU. KVM only if a probe guest really runs code; else TCG -cpu max.
// The console goes to console.log with host timestamps; results arrive on virtio-serial
// ports (KTAP + status). Watchdogs: whole run, no output, per test.
// QEMU runs on a Host: this machine, or (--remote) a KVM machine over SSH, where the
// probe runs too and the KTAP and status streams are copied back as they grow.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { openLog } from '../logfile.ts';
import { InfraError, oneLine } from '../errors.ts';
import { shellQuote, type Recorder } from '../exec.ts';
import { currentTest, PORTS } from '../agent.ts';
import { cachedPut, remoteCache } from '../hostCache.ts';
import { localHost, type Host } from '../host.ts';
import { parseKtap } from '../ktap.ts';
import { log } from '../log.ts';
import { paths } from '../paths.ts';
import { openQmp, type QmpEvent, type QmpMonitor } from '../qmp.ts';
import { POSTMORTEM_MARK } from '../postmortem.ts';
import type { Accel } from '../types.ts';

export const QEMU = 'qemu-system-x86_64';
const probed = new Map<string, Accel>(); // by host label

/** The local host's answer, kept for as long as the host stays up (its boot_id). */
const ACCEL_RECORD = path.join(paths.cacheRoot, 'accel-local.json');
const PROBE_VERSION = 2; // 2: a Linux kernel must print under KVM, not only a boot sector run

function bootId(): string | null {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

function recordedAccel(): Accel | null {
  try {
    const r = JSON.parse(fs.readFileSync(ACCEL_RECORD, 'utf8')) as { bootId?: string; version?: number; accel?: string };
    const id = bootId();
    return id && r.bootId === id && r.version === PROBE_VERSION && (r.accel === 'kvm' || r.accel === 'tcg') ? r.accel : null;
  } catch {
    return null;
  }
}

function recordAccel(accel: Accel, why: string): void {
  const id = bootId();
  if (!id) return;
  try {
    fs.mkdirSync(path.dirname(ACCEL_RECORD), { recursive: true });
    fs.writeFileSync(ACCEL_RECORD, JSON.stringify({ bootId: id, version: PROBE_VERSION, accel, why }) + '\n');
  } catch (err) {
    log(`could not record the accel probe in ${ACCEL_RECORD}: ${oneLine(err)}`);
  }
}

/**
 * KVM only if guests really run under it with the CPU model real boots use. Two probes, both
 * by booting. First a 512-byte guest that writes to the isa-debug-exit port: QEMU exits 0x63
 * only if it executed under KVM (opening /dev/kvm proves nothing on hosts without vmx/svm,
 * where KVM_RUN fails). Then, with @kernel, that kernel without an initrd: it must print its
 * banner on the serial console within 20 s (a second or two under working KVM; it panics
 * for want of a root file system and QEMU exits). Some hosts pass the first and not the
 * second: a KVM module that runs the BIOS and a boot sector but never a Linux kernel
 * (kvm-pvm without a PVM guest kernel was seen here: SeaBIOS, then silence). On this machine
 * the answer is kept in the cache for as long as the host stays up (its boot_id).
 */
export async function probeAccel(host: Host = localHost, kernel?: string): Promise<Accel> {
  const known = probed.get(host.label);
  if (known) return known;
  const set = (a: Accel) => (probed.set(host.label, a), a);
  if (process.env.KERNEL_LAB_ACCEL === 'tcg' || process.env.KERNEL_LAB_ACCEL === 'kvm') return set(process.env.KERNEL_LAB_ACCEL);
  if (!host.remote) {
    const r = recordedAccel();
    if (r) return set(r);
  }
  if (!(await host.exists('/dev/kvm'))) return set('tcg');
  const dir = await host.mkdtemp('kl-kvm-');
  const decided = (a: Accel, why: string) => {
    if (a === 'tcg') log(`${host.label}: TCG, not KVM: ${why}`);
    if (!host.remote) recordAccel(a, why);
    return set(a);
  };
  try {
    const boot = Buffer.alloc(512);
    Buffer.from([0xb0, 0x31, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]).copy(boot); // mov al,0x31; out 0xf4,al; hlt; jmp $-1
    boot[510] = 0x55;
    boot[511] = 0xaa;
    await host.writeFile(path.join(dir, 'boot.bin'), boot);
    // The same CPU model a real boot uses: on some hosts a default-CPU guest runs under
    // KVM while -cpu host aborts in QEMU's MSR setup.
    const kvm = [QEMU, '-accel', 'kvm', '-cpu', 'host', '-display', 'none', '-nodefaults', '-no-reboot'];
    const r = await host.run([...kvm, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-drive', `file=${path.join(dir, 'boot.bin')},format=raw,if=ide`], { timeoutMs: 20_000 });
    if (r.exitCode !== 0x63) return decided('tcg', `the KVM probe guest did not run (QEMU exit ${r.exitCode}: ${oneLine(r.stderr).slice(0, 200)})`);
    if (!kernel) return set('kvm'); // not recorded: the kernel probe has not run
    const k = path.join(dir, 'bzImage');
    await host.putFile(kernel, k);
    const t0 = Date.now();
    const l = await host.run([...kvm, '-m', '256', '-serial', 'stdio', '-kernel', k, '-append', 'console=ttyS0 panic=-1'], { timeoutMs: 20_000 });
    if (!/Linux version/.test(l.stdout)) return decided('tcg', `a boot sector runs under KVM here but the kernel printed nothing on its console in ${((Date.now() - t0) / 1000).toFixed(0)} s under it (KERNEL_LAB_ACCEL=kvm forces KVM)`);
    return decided('kvm', `the kernel printed its banner under KVM in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    return decided('tcg', `the KVM probe failed: ${oneLine(err)}`);
  } finally {
    await host.removeDir(dir).catch(() => {});
  }
}

/** Timeouts in manifests are KVM seconds; TCG runs the same work several times slower. */
export function timeoutScale(accel: Accel): number {
  return accel === 'kvm' ? 1 : 4;
}

export interface BootSpec {
  kernel: string;
  initrd: string;
  accel: Accel;
  memoryMiB: number;
  cpus: number;
  runDir: string; // console.log, ktap.raw, status.raw, scratch.img land here
  extraCmdline?: string[];
  /** initrd is base + job: a remote host keeps base in its cache and gets only job */
  initrdParts?: { base: string; job: Uint8Array };
  /** QMP socket (local boots): the host's way in for the post-mortem of a hang */
  qmp?: string;
  /**
   * Where to write a dump of the guest's memory when it panics (local boots of kernels with
   * pvpanic): QEMU pauses the panicking guest, the host dumps it over QMP, then lets it go on.
   */
  dump?: string;
  /**
   * A NIC (virtio-net) when a suite asks for a network: on a QEMU hub of its own, which no
   * host network and no other guest is on, so nothing the guest sends leaves QEMU.
   */
  net?: { mac: string; link?: { local: string; remote: string } };
  /** two guests: the host end of the kl.ctl port (a UNIX socket QEMU listens on) */
  ctl?: string;
  /** told the boot's QMP connection once it is open (two guests: set_link for a test) */
  onQmp?: (m: QmpMonitor) => void;
}

/** The blank scratch disk every guest gets (/dev/vda: suites that need a block device, e.g. liburing's). */
export const SCRATCH_MIB = 256;
/** How QEMU attaches it: `file` is the image's path (commas doubled by the caller if needed). */
export const scratchDrive = (file: string): string => `file=${file},format=raw,if=virtio,cache=unsafe`;

/** A value inside a QEMU option list (`path=...,server=on`): its commas doubled, as QEMU reads them. */
export function qemuOptValue(v: string): string {
  return v.replace(/,/g, ',,');
}

/** The guest kernel's command line: the same for a local boot and an exported LAVA job. */
export function guestCmdline(extra: string[] = []): string[] {
  return [
    'console=ttyS0,115200',
    'panic=-1',
    'loglevel=7',
    'printk.time=1',
    'rdinit=/init',
    'hung_task_panic=0',
    'softlockup_panic=0',
    // An NMI nobody claims (the host's inject-nmi when the guest hangs) panics, and the
    // panic prints every task stuck in D state (0x80) and, on lockdep kernels, every held
    // lock (0x08): the post-mortem of a hang, on the console.
    'unknown_nmi_panic',
    'panic_print=0x88',
    // The IO-APIC timer check counts ticks over a busy-wait; a TCG guest on a loaded host
    // misses them and panics ("IO-APIC + timer doesn't work!", seen in CI with two builds
    // running): the lab's fault, never the kernel's. Virtual machines skip the check.
    'no_timer_check',
    ...extra,
  ];
}

/**
 * The guest's machine: q35, not QEMU's default i440FX ("pc"). i440FX's DSDT builds the 128
 * entries of its PCI interrupt routing (_PRT) in an AML While loop, run once for each PCI
 * device the kernel enables. A --debug kernel (KASAN, lockdep, UBSAN) under TCG took 25-30 s
 * per run, with no preemption point, against ACPICA's 30 s loop limit, while the TSC
 * clocksource switch's stop_machine() spun on the other CPU the whole time (soft lockup).
 * Measured with the two guests of a pair booted together: each guest past the limit 2 of 4
 * times ("PCI INT A: no GSI") in one pair, at the root mount after 125 s; 4 of 4 in the
 * next, and both hung after virtio_blk's probe, as the --debug runs that died before init
 * did. On q35 _PRT returns a package: the same pair at the root mount in 10 s, 0.3 s per
 * link. tuxrun boots its x86_64 guests on q35 too.
 */
export const QEMU_MACHINE = 'q35';

/** QEMU's CPU model: the host's under KVM, every feature TCG emulates otherwise. */
export const qemuCpu = (accel: Accel): string => (accel === 'kvm' ? 'host' : 'max');

export function qemuArgv(b: BootSpec): string[] {
  const q = qemuOptValue;
  const cmdline = guestCmdline(b.extraCmdline);
  return [
    QEMU,
    '-machine', QEMU_MACHINE,
    '-accel', b.accel,
    '-cpu', qemuCpu(b.accel),
    '-m', String(b.memoryMiB),
    '-smp', String(b.cpus),
    '-nodefaults', '-no-reboot', '-display', 'none', '-monitor', 'none',
    '-kernel', b.kernel,
    '-initrd', b.initrd,
    '-append', cmdline.join(' '),
    '-serial', 'stdio',
    '-device', 'virtio-serial-pci,id=vser0',
    // A run directory may have a comma in its path (--results /tmp/res-fused,ublk-zc).
    '-chardev', `file,id=klktap,path=${q(path.join(b.runDir, 'ktap.raw'))}`,
    '-device', `virtserialport,bus=vser0.0,chardev=klktap,name=${PORTS.ktap}`,
    '-chardev', `file,id=klstatus,path=${q(path.join(b.runDir, 'status.raw'))}`,
    '-device', `virtserialport,bus=vser0.0,chardev=klstatus,name=${PORTS.status}`,
    '-drive', scratchDrive(q(path.join(b.runDir, 'scratch.img'))),
    '-device', 'virtio-rng-pci',
    // One guest: a hub of its own. Two: one private link, a datagram socket each way
    // (either guest may start first), which no host network is on either.
    ...(b.net
      ? [
          '-netdev',
          b.net.link ? `dgram,id=n0,local.type=unix,local.path=${q(b.net.link.local)},remote.type=unix,remote.path=${q(b.net.link.remote)}` : 'hubport,id=n0,hubid=0',
          '-device',
          `virtio-net-pci,netdev=n0,mac=${b.net.mac}`,
        ]
      : []),
    ...(b.ctl ? ['-chardev', `socket,id=klctl,path=${q(b.ctl)},server=on,wait=off`, '-device', `virtserialport,bus=vser0.0,chardev=klctl,name=${PORTS.ctl}`] : []),
    ...(b.qmp ? ['-qmp', `unix:${q(b.qmp)},server=on,wait=off`] : []),
    // pvpanic tells QEMU of the panic, which pauses the guest (not reset: -no-reboot would
    // end QEMU) so that its memory can be dumped; vmcoreinfo tells the dump's reader where
    // the kernel is.
    ...(b.qmp && b.dump ? ['-device', 'pvpanic', '-device', 'vmcoreinfo', '-action', 'panic=pause'] : []),
  ];
}

/** A read of the guest's KTAP/status streams that has not returned after this long is the lab's fault. */
const STREAM_STUCK_S = Number(process.env.KL_STREAM_STUCK_S ?? 60);

export interface BootLimits {
  wallS: number; // whole boot, from start to power-off
  silenceS: number; // no byte on console, KTAP or status for this long = dead guest
  testGraceS: number; // a test may exceed its own timeout by this much before the host steps in
  /** true while the host keeps the guest stopped on purpose (QMP stop): not silence */
  paused?: () => boolean;
}

export interface BootOutcome {
  ended: 'poweroff' | 'wall-timeout' | 'silence' | 'test-timeout' | 'killed' | 'qemu-error' | 'stream-stuck';
  qemuExit: number | null;
  detail?: string;
  durationS: number;
  hungTest?: string;
  /** the guest panicked with a dump asked for: the dump written, or why not */
  dump?: { file: string; bytes: number; seconds: number } | { error: string };
}

/** Log each test result as the guest reports it; returns how many were seen. */
function reportProgress(text: string, already: number): number {
  const { tests } = parseKtap(text);
  for (const t of tests.slice(already)) log(`  ${t.suite}/${t.name}: ${t.status}${t.reason ? ` (${t.reason})` : ''}`);
  return tests.length;
}

/**
 * Where QEMU's files are on a remote host: a scratch directory (mktemp -d) holding the
 * uploaded kernel and initramfs, the KTAP and status streams and the scratch disk.
 */
function remoteSpec(spec: BootSpec, dir: string): BootSpec {
  return { ...spec, kernel: path.join(dir, 'bzImage'), initrd: path.join(dir, 'initrd.cpio'), runDir: dir };
}

export async function boot(rec: Recorder, spec: BootSpec, limits: BootLimits, signal?: AbortSignal, host: Host = localHost): Promise<BootOutcome> {
  if (rec.dryRun) {
    const argv = qemuArgv(host.remote ? remoteSpec(spec, '/tmp/kl-boot.XXXXXX') : spec);
    rec.commands.push(argv);
    if (host.remote) process.stdout.write(`# on ${host.label}, in a scratch directory (mktemp -d) holding bzImage and initrd.cpio:\n`);
    process.stdout.write(`${shellQuote(argv)}\n`);
    return { ended: 'poweroff', qemuExit: 0, durationS: 0 };
  }
  if (!host.remote) return bootOn(rec, localHost, spec, spec, limits, signal);
  const dir = await host.mkdtemp('kl-boot.');
  try {
    const remote = remoteSpec(spec, dir);
    const t0 = Date.now();
    const cache = await remoteCache(host);
    const sent: string[] = [];
    const reused: string[] = [];
    let bytes = 0;
    const put = async (local: string, name: string): Promise<string> => {
      const r = await cachedPut(host, cache, local);
      (r.uploaded ? sent : reused).push(name);
      if (r.uploaded) bytes += r.size;
      return r.file;
    };
    remote.kernel = await put(spec.kernel, 'bzImage');
    if (spec.initrdParts) {
      const base = await put(spec.initrdParts.base, 'initramfs');
      const job = path.join(dir, 'job.cpio');
      await host.writeFile(job, spec.initrdParts.job);
      sent.push('job archive');
      bytes += spec.initrdParts.job.length;
      const cat = await host.run(['sh', '-c', `cat ${shellQuote([base, job])} > ${shellQuote([remote.initrd])}`]);
      if (cat.exitCode !== 0) throw new InfraError(`${host.label}: cannot assemble the initramfs in ${dir}: ${cat.stderr.trim().split('\n').pop() ?? ''}`);
    } else {
      remote.initrd = await put(spec.initrd, 'initramfs');
    }
    log(
      `uploaded ${sent.join(', ') || 'nothing'} (${(bytes / (1 << 20)).toFixed(1)} MiB) to ${host.label}:${dir} in ${((Date.now() - t0) / 1000).toFixed(1)} s` +
        (reused.length ? `; ${reused.join(' and ')} from its cache ${cache}` : ''),
    );
    if (signal?.aborted) throw new InfraError(`interrupted before the guest started on ${host.label}`);
    return await bootOn(rec, host, spec, remote, limits, signal);
  } finally {
    // Bounded: after a lost link the scratch directory is left (named) rather than the run hung.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      host.removeDir(dir).catch((err) => log(`could not remove ${host.label}:${dir}: ${oneLine(err)}`)),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          log(`left ${host.label}:${dir} behind (removing it did not finish within 60 s)`);
          resolve();
        }, 60_000);
      }),
    ]);
    clearTimeout(timer);
  }
}

/** How long the post-mortem of a hung guest may take (NMI, panic, the stuck tasks printed). */
const POSTMORTEM_S = Number(process.env.KL_POSTMORTEM_S ?? 30);
/** How long QEMU may take to write the dump of a panicked guest (kdump-zlib, zero pages left out). */
const DUMP_S = Number(process.env.KL_DUMP_S ?? 180);
const HANGS: BootOutcome['ended'][] = ['silence', 'test-timeout', 'wall-timeout'];

/**
 * Run QEMU on host with its files where `on` says (the run directory locally; the scratch
 * directory on a remote host, whose KTAP and status streams are mirrored into
 * spec.runDir as they grow). console.log is always written here, with this machine's timestamps.
 */
async function bootOn(rec: Recorder, host: Host, spec: BootSpec, on: BootSpec, limits: BootLimits, signal?: AbortSignal): Promise<BootOutcome> {
  // Locally QEMU gets a QMP socket (short path: UNIX socket names are limited to 108 bytes).
  const qmpDir = host.remote ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'kl-qmp-'));
  if (qmpDir) on = { ...on, qmp: path.join(qmpDir, 'qmp') };
  try {
    return await bootWith(rec, host, spec, on, limits, signal);
  } finally {
    if (qmpDir) fs.rmSync(qmpDir, { recursive: true, force: true });
  }
}

async function bootWith(rec: Recorder, host: Host, spec: BootSpec, on: BootSpec, limits: BootLimits, signal?: AbortSignal): Promise<BootOutcome> {
  const argv = qemuArgv(on);
  rec.commands.push(argv);
  const ktapFile = path.join(on.runDir, 'ktap.raw');
  const statusFile = path.join(on.runDir, 'status.raw');
  await host.writeFile(ktapFile, '');
  await host.writeFile(statusFile, '');
  const scratch = path.join(on.runDir, 'scratch.img');
  await host.writeFile(scratch, '');
  await host.truncate(scratch, SCRATCH_MIB << 20);
  if (host.remote) {
    fs.writeFileSync(path.join(spec.runDir, 'ktap.raw'), '');
    fs.writeFileSync(path.join(spec.runDir, 'status.raw'), '');
  }
  let proc: Awaited<ReturnType<Host['spawn']>> | null = null;
  const consoleFile = path.join(spec.runDir, 'console.log');
  const consoleOut = openLog(consoleFile, 'w', () => proc?.kill()); // no console, no verdict: stop the guest
  const t0 = Date.now();
  let lastOutput = Date.now();
  let sizes = '';
  if (signal?.aborted) throw new InfraError('interrupted before the guest started');
  proc = await host.spawn(argv);
  const rl = readline.createInterface({ input: proc.stdout });
  const hostStamp = () => `[host ${((Date.now() - t0) / 1000).toFixed(3).padStart(9)}] `;
  rl.on('line', (line) => {
    lastOutput = Date.now();
    consoleOut.write(`${hostStamp()}${line.replace(/\r$/, '')}\n`);
  });
  let qemuGone = false;
  void proc.exited.then(() => (qemuGone = true), () => (qemuGone = true));
  const errChunks: string[] = [];
  proc.stderr.on('data', (d: Buffer) => errChunks.push(d.toString()));

  let ended: BootOutcome['ended'] | null = null;
  let exited = false;
  let hungTest: string | undefined;
  let testSeen: { name: string; at: number } | null = null;
  // A kill that does not end the process (a remote host whose SSH link hangs) must not
  // hang the run: 15 s after stop() the boot ends without it.
  let killedLongAgo: () => void = () => {};
  let giveUpTimer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<{ exitCode: number | null; lost?: string }>((resolve) => {
    killedLongAgo = () => resolve({ exitCode: null, lost: `QEMU on ${host.label} did not end within 15 s of being killed` });
  });
  const kill = () => {
    proc?.kill();
    giveUpTimer ??= setTimeout(killedLongAgo, 15_000);
  };
  // The boot's one QMP connection (QEMU serves one client): the NMI of a post-mortem, and
  // the panic event that asks for a dump.
  let dumping: Promise<void> | null = null;
  let dump: BootOutcome['dump'];
  let qmpError = 'no QMP socket';
  const takeDump = async (m: QmpMonitor, file: string) => {
    consoleOut.write(`${hostStamp()}kl-host: the guest panicked; dumping its memory (${path.basename(file)})\n`);
    log(`guest panicked: dumping its memory over QMP (up to ${DUMP_S} s)`);
    const t = Date.now();
    try {
      await m.command('dump-guest-memory', { paging: false, protocol: `file:${file}`, format: 'kdump-zlib' }, DUMP_S * 1000);
      dump = { file, bytes: fs.statSync(file).size, seconds: (Date.now() - t) / 1000 };
      log(`memory dump: ${(dump.bytes / 2 ** 20).toFixed(1)} MiB in ${dump.seconds.toFixed(1)} s`);
    } catch (err) {
      dump = { error: oneLine(err) };
      fs.rmSync(file, { force: true });
      log(`no memory dump: ${dump.error}`);
    }
    lastOutput = Date.now();
    // Let the panic go on (the stuck tasks of panic_print, then the reboot that ends QEMU).
    await m.command('cont').catch(() => kill());
  };
  let qmpMon: QmpMonitor | null = null;
  const onQmpEvent = (e: QmpEvent) => {
    if (e.event !== 'GUEST_PANICKED' || !on.dump || dumping || dump || !qmpMon) return;
    dumping = takeDump(qmpMon, on.dump).finally(() => (dumping = null));
  };
  const qmpReady: Promise<QmpMonitor | null> = on.qmp
    ? openQmp(on.qmp, onQmpEvent, () => qemuGone).then(
        (m) => {
          qmpMon = m;
          on.onQmp?.(m);
          return m;
        },
        (err) => ((qmpError = oneLine(err)), null),
      )
    : Promise.resolve(null);
  /**
   * The guest hung: before QEMU is killed, the host injects an NMI over QMP. With
   * unknown_nmi_panic the guest panics and prints its stuck tasks (panic_print), which
   * console.log keeps after the POSTMORTEM_MARK line; then it powers off (panic=-1).
   */
  const postMortem = async (why: BootOutcome['ended']) => {
    consoleOut.write(`${hostStamp()}${POSTMORTEM_MARK} the guest hung (${why}); injecting an NMI for its stuck tasks\n`);
    log(`guest hung (${why}): post-mortem (NMI over QMP, up to ${POSTMORTEM_S} s)`);
    try {
      const m = await qmpReady;
      if (!m) throw new Error(qmpError);
      await m.command('inject-nmi');
    } catch (err) {
      consoleOut.write(`${hostStamp()}${POSTMORTEM_MARK} no NMI: ${oneLine(err)}\n`);
      return;
    }
    // The NMI's panic may bring a dump (pvpanic): the wait stretches while QEMU writes it.
    const until = Date.now() + POSTMORTEM_S * 1000;
    while (!qemuGone && (Date.now() < until || dumping) && !signal?.aborted) await new Promise((r) => setTimeout(r, 200));
  };
  const stop = (why: BootOutcome['ended']) => {
    if (ended || exited) return;
    ended = why;
    if (on.qmp && HANGS.includes(why)) {
      void postMortem(why).finally(() => {
        if (!qemuGone) kill();
      });
      return;
    }
    kill();
  };
  const onAbort = () => (ended ? kill() : stop('killed'));
  signal?.addEventListener('abort', onAbort);
  let reported = 0;
  let ktapBytes = Buffer.alloc(0);
  let ktapText = '';
  // What of each stream has been read (and, remotely, copied into the run directory).
  const streams = [
    { file: ktapFile, local: path.join(spec.runDir, 'ktap.raw'), have: 0 },
    { file: statusFile, local: path.join(spec.runDir, 'status.raw'), have: 0 },
  ];
  /** Stat both streams; if either grew, read what is new (the KTAP stream once). True if they grew. */
  const pull = async (): Promise<boolean> => {
    const now = await Promise.all(streams.map((x) => host.size(x.file)));
    const s = now.join(',');
    if (s === sizes) return false;
    sizes = s;
    for (const [i, x] of streams.entries()) {
      if (now[i]! <= x.have || (!host.remote && x.file === statusFile)) continue;
      const chunk = await host.read(x.file, x.have, now[i]!);
      x.have += chunk.length;
      if (host.remote) fs.appendFileSync(x.local, chunk);
      if (x.file === ktapFile) ktapBytes = Buffer.concat([ktapBytes, chunk]);
    }
    ktapText = ktapBytes.toString('utf8');
    return true;
  };
  let pullFailed = false;
  // Reading the streams (an SFTP read on a remote host) runs beside the watchdogs, never in
  // their way: a read that does not return leaves the checks below running, and after
  // STREAM_STUCK_S it ends the run as the lab's fault (it would otherwise look like a hung
  // test or a silent guest, and blame the kernel).
  let pulling: Promise<void> | null = null;
  let pullSince = 0;
  let stuckS = 0;
  const startPull = () => {
    if (pulling) return;
    pullSince = Date.now();
    pulling = pull()
      .then(
        (grew) => {
          if (grew && !exited) {
            lastOutput = Date.now();
            reported = reportProgress(ktapText, reported);
          }
        },
        (err) => {
          if (!pullFailed && !exited) log(`could not read the guest's KTAP/status streams on ${host.label}: ${oneLine(err)}`);
          pullFailed = true;
        },
      )
      .finally(() => (pulling = null));
  };
  const tick = () => {
    const now = Date.now();
    startPull();
    if (exited) return;
    if (pulling && now - pullSince > STREAM_STUCK_S * 1000) {
      stuckS = Math.round((now - pullSince) / 1000);
      return stop('stream-stuck');
    }
    if (dumping) return; // the guest is paused for its dump, which has its own bound
    if (now - t0 > limits.wallS * 1000) return stop('wall-timeout');
    if (limits.paused?.()) lastOutput = now;
    if (now - lastOutput > limits.silenceS * 1000) return stop('silence');
    const cur = currentTest(ktapText);
    if (!cur) {
      testSeen = null;
      return;
    }
    if (!testSeen || testSeen.name !== cur.name) testSeen = { name: cur.name, at: now };
    if (now - testSeen.at > (cur.timeout + limits.testGraceS) * 1000) {
      hungTest = cur.name;
      stop('test-timeout');
    }
  };
  // The checks run every second; a slow remote stat or read skips pulls, not checks.
  const timer = setInterval(tick, 1000);
  const r = await Promise.race([proc.exited, gaveUp]);
  clearTimeout(giveUpTimer);
  if (r.lost && ended) log(r.lost);
  exited = true;
  clearInterval(timer);
  if (dumping) await dumping;
  void qmpReady.then((m) => m?.close());
  signal?.removeEventListener('abort', onAbort);
  const bounded = async (p: Promise<unknown>) => {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([p, new Promise((resolve) => (t = setTimeout(resolve, STREAM_STUCK_S * 1000)))]);
    clearTimeout(t);
  };
  if (ended === 'stream-stuck') {
    rl.close();
    await consoleOut.end();
    throw new InfraError(
      `could not read the guest's result streams on ${host.label}: a read has not returned for ${stuckS} s; the guest was stopped`,
      'the lab lost its link to the guest (SSH/SFTP): see console.log in the run directory, then run again',
    );
  }
  await bounded(pulling ?? Promise.resolve());
  // The last bytes (the agent's "done", a test's result) may have come after the last tick.
  if (host.remote) await bounded(pull().catch((err) => log(`could not read the guest's final KTAP/status bytes on ${host.label}: ${oneLine(err)}`)));
  rl.close();
  await consoleOut.end();
  if (consoleOut.error) throw new InfraError(`writing ${consoleFile} failed: ${consoleOut.error.message}`, 'free disk space in the results directory');
  if (!host.remote) fs.rmSync(scratch, { force: true }); // a remote scratch directory goes as a whole
  const durationS = (Date.now() - t0) / 1000;
  if (!ended) {
    if (r.lost) throw new InfraError(`lost ${host.label} while the guest ran: ${r.lost}`, 'see console.log in the run directory');
    // -no-reboot: the guest's reboot (or a panic with panic=-1) makes QEMU exit 0.
    if (r.exitCode !== 0) {
      const err = errChunks.join('').trim().split('\n').slice(-1)[0] ?? '';
      throw new InfraError(`QEMU exited with ${r.exitCode}: ${err}`, 'see console.log in the run directory');
    }
    ended = 'poweroff';
  }
  log(`guest ended (${ended}) after ${durationS.toFixed(1)} s`);
  return { ended, qemuExit: r.exitCode ?? null, durationS, hungTest, detail: errChunks.join('').trim() || undefined, ...(dump ? { dump } : {}) };
}
