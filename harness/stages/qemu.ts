// Stage 6: boot in QEMU. KVM only if a probe guest really runs code; else TCG -cpu max.
// The console goes to console.log with host timestamps; results arrive on virtio-serial
// ports (KTAP + status). Watchdogs: whole run, no output, per test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { execa } from 'execa';
import { InfraError } from '../errors.ts';
import { shellQuote, type Recorder } from '../exec.ts';
import { parseKtap } from '../ktap.ts';
import { log } from '../log.ts';
import type { Accel } from '../types.ts';

const QEMU = 'qemu-system-x86_64';
let probed: Accel | null = null;

/**
 * Boot a 512-byte guest that writes to the isa-debug-exit port: QEMU exits 0x63 only if
 * the guest really executed under KVM with the CPU model real boots use. Opening /dev/kvm proves nothing on hosts without
 * vmx/svm, where KVM_RUN fails.
 */
export async function probeAccel(): Promise<Accel> {
  if (probed) return probed;
  if (process.env.KERNEL_LAB_ACCEL === 'tcg' || process.env.KERNEL_LAB_ACCEL === 'kvm') return (probed = process.env.KERNEL_LAB_ACCEL);
  if (!fs.existsSync('/dev/kvm')) return (probed = 'tcg');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-kvm-'));
  try {
    const boot = Buffer.alloc(512);
    Buffer.from([0xb0, 0x31, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]).copy(boot); // mov al,0x31; out 0xf4,al; hlt; jmp $-1
    boot[510] = 0x55;
    boot[511] = 0xaa;
    fs.writeFileSync(path.join(dir, 'boot.bin'), boot);
    // The same CPU model a real boot uses: on some hosts a default-CPU guest runs under
    // KVM while -cpu host aborts in QEMU's MSR setup.
    const r = await execa(QEMU, ['-accel', 'kvm', '-cpu', 'host', '-display', 'none', '-nodefaults', '-no-reboot', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-drive', `file=${path.join(dir, 'boot.bin')},format=raw,if=ide`], { reject: false, timeout: 20_000 });
    probed = r.exitCode === 0x63 ? 'kvm' : 'tcg';
  } catch {
    probed = 'tcg';
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return probed;
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
}

export function qemuArgv(b: BootSpec): string[] {
  const cmdline = [
    'console=ttyS0,115200',
    'panic=-1',
    'loglevel=7',
    'printk.time=1',
    'rdinit=/init',
    'hung_task_panic=0',
    'softlockup_panic=0',
    ...(b.extraCmdline ?? []),
  ];
  return [
    QEMU,
    '-accel', b.accel,
    '-cpu', b.accel === 'kvm' ? 'host' : 'max',
    '-m', String(b.memoryMiB),
    '-smp', String(b.cpus),
    '-nodefaults', '-no-reboot', '-display', 'none', '-monitor', 'none',
    '-kernel', b.kernel,
    '-initrd', b.initrd,
    '-append', cmdline.join(' '),
    '-serial', 'stdio',
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', `file,id=klktap,path=${path.join(b.runDir, 'ktap.raw')}`,
    '-device', 'virtserialport,bus=vser0.0,chardev=klktap,name=kl.ktap',
    '-chardev', `file,id=klstatus,path=${path.join(b.runDir, 'status.raw')}`,
    '-device', 'virtserialport,bus=vser0.0,chardev=klstatus,name=kl.status',
    '-drive', `file=${path.join(b.runDir, 'scratch.img')},format=raw,if=virtio,cache=unsafe`,
    '-device', 'virtio-rng-pci',
  ];
}

export interface BootLimits {
  wallS: number; // whole boot, from start to power-off
  silenceS: number; // no byte on console, KTAP or status for this long = dead guest
  testGraceS: number; // a test may exceed its own timeout by this much before the host steps in
}

export interface BootOutcome {
  ended: 'poweroff' | 'wall-timeout' | 'silence' | 'test-timeout' | 'killed' | 'qemu-error';
  qemuExit: number | null;
  detail?: string;
  durationS: number;
  hungTest?: string;
}

/** The test the guest is running, from `# kl-start suite/name timeout=N` lines in the KTAP stream. */
function currentTest(text: string): { name: string; timeout: number } | null {
  const starts = [...text.matchAll(/# kl-start (\S+) timeout=(\d+)/g)];
  const last = starts[starts.length - 1];
  if (!last) return null;
  const done = text.lastIndexOf(`# kl-duration ${last[1]} `) > last.index!;
  return done ? null : { name: last[1]!, timeout: Number(last[2]) };
}

/** Log each test result as the guest reports it; returns how many were seen. */
function reportProgress(text: string, already: number): number {
  const { tests } = parseKtap(text);
  for (const t of tests.slice(already)) log(`  ${t.suite}/${t.name}: ${t.status}${t.reason ? ` (${t.reason})` : ''}`);
  return tests.length;
}

export async function boot(rec: Recorder, spec: BootSpec, limits: BootLimits, signal?: AbortSignal): Promise<BootOutcome> {
  const argv = qemuArgv(spec);
  rec.commands.push(argv);
  if (rec.dryRun) {
    process.stdout.write(`${shellQuote(argv)}\n`);
    return { ended: 'poweroff', qemuExit: 0, durationS: 0 };
  }
  fs.writeFileSync(path.join(spec.runDir, 'ktap.raw'), '');
  fs.writeFileSync(path.join(spec.runDir, 'status.raw'), '');
  const scratch = path.join(spec.runDir, 'scratch.img');
  fs.writeFileSync(scratch, '');
  fs.truncateSync(scratch, 256 << 20);
  const consoleOut = fs.createWriteStream(path.join(spec.runDir, 'console.log'));
  const t0 = Date.now();
  let lastOutput = Date.now();
  let sizes = '';
  const proc = execa(argv[0]!, argv.slice(1), { reject: false, stdin: 'ignore', buffer: false, cleanup: true, forceKillAfterDelay: 3000 });
  const rl = readline.createInterface({ input: proc.stdout! });
  rl.on('line', (line) => {
    lastOutput = Date.now();
    const secs = ((Date.now() - t0) / 1000).toFixed(3);
    consoleOut.write(`[host ${secs.padStart(9)}] ${line.replace(/\r$/, '')}\n`);
  });
  const errChunks: string[] = [];
  proc.stderr?.on('data', (d: Buffer) => errChunks.push(d.toString()));

  let ended: BootOutcome['ended'] | null = null;
  let hungTest: string | undefined;
  let testSeen: { name: string; at: number } | null = null;
  const stop = (why: BootOutcome['ended']) => {
    if (ended) return;
    ended = why;
    proc.kill('SIGKILL');
  };
  const onAbort = () => stop('killed');
  signal?.addEventListener('abort', onAbort);
  let reported = 0;
  let ktapText = '';
  const timer = setInterval(() => {
    const now = Date.now();
    const s = ['ktap.raw', 'status.raw'].map((f) => fs.statSync(path.join(spec.runDir, f)).size).join(',');
    const grew = s !== sizes;
    if (grew) {
      sizes = s;
      lastOutput = now;
      ktapText = fs.readFileSync(path.join(spec.runDir, 'ktap.raw'), 'utf8');
      reported = reportProgress(ktapText, reported);
    }
    if (now - t0 > limits.wallS * 1000) return stop('wall-timeout');
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
  }, 1000);
  const r = await proc;
  clearInterval(timer);
  signal?.removeEventListener('abort', onAbort);
  rl.close();
  await new Promise((res) => consoleOut.end(res));
  fs.rmSync(scratch, { force: true });
  const durationS = (Date.now() - t0) / 1000;
  if (!ended) {
    // -no-reboot: the guest's reboot (or a panic with panic=-1) makes QEMU exit 0.
    if (r.exitCode !== 0) {
      const err = errChunks.join('').trim().split('\n').slice(-1)[0] ?? '';
      throw new InfraError(`QEMU exited with ${r.exitCode}: ${err}`, 'see console.log in the run directory');
    }
    ended = 'poweroff';
  }
  log(`guest ended (${ended}) after ${durationS.toFixed(1)} s`);
  return { ended, qemuExit: r.exitCode ?? null, durationS, hungTest, detail: errChunks.join('').trim() || undefined };
}
