// The contract between the host and the guest agent (images/base/init), in one place.
//
// Host → guest, all in the initramfs:
//   /kl/suites/<suite>/kl-plan           one test per line: name<TAB>timeout-s<TAB>command
//   /kl/suites/<suite>/kl-suite-timeout  the suite's own limit, seconds (KVM seconds: scaled)
//   /kl/job.env                          the run's job, appended per run: jobFiles below
//                                        (KL_NET_ADDR: eth0's address, when a suite asks for a NIC;
//                                        two guests: KL_ROLE a|b, KL_NET_PEER the other's address)
//   /kl/skip                             tests the host skips: suite/name<TAB>reason per line
// Guest → host:
//   virtio port kl.ktap    KTAP: one subtest per suite; before each test
//                          `# kl-start suite/name timeout=N`, after it `# kl-duration suite/name Ns
//                          exit=rc taint=T` (/proc/sys/kernel/tainted), once `# kl-taint-boot T`;
//                          under --repeat/--retry-failed one result line per run of a test
//   virtio port kl.status  "started", "hb" while a test runs, then "done <rc>"
//   virtio port kl.ctl     two guests only, both ways: the guest writes
//                          `barrier <suite/test> <tag>`, the host answers `go` once the other
//                          guest is at the same barrier, `gone` if it ended (qemu.ts: bootPair)
//   /dev/kmsg (console)    `kl: test-start suite/name` and `kl: test-end suite/name rc=N`
//                          around each test, so kernel reports are charged to the test
// A test exits 0 (pass), 4 (skip: the kernel lacks what it needs) or anything else (fail).
//
// What is trusted: nothing the guest prints. The patch under test runs in the guest and
// can write any marker to the console or the ports. Names the guest sends are only ever
// looked up in the host's own plan (plannedTests, testLogFiles); they never name a file.
import type { Suite } from './catalog.ts';

export const PORTS = { ktap: 'kl.ktap', status: 'kl.status', ctl: 'kl.ctl' } as const;
export const SKIP_EXIT = 4;

export interface PlannedTest {
  suite: string;
  name: string;
}

export interface Job {
  scale: number;
  kernelVersion: string;
  cpus: number;
  suites: string[];
  skips: { test: string; reason: string }[];
  kmemleak: boolean;
  features: string[];
  exec: { command: string; timeoutS: number } | null;
  repeat: number; // runs of each test
  retry: number; // further runs of a test whose last run failed
  /** tests run exactly --repeat times, never retried: two-guest tests, which both guests must run in step */
  once?: string[];
  /** a suite asked for a network: the agent sets up eth0 as this guest (GUEST_NET) */
  net: { role: Role; pair: boolean } | null;
}

export type Role = 'a' | 'b';
/** The other guest of a pair. */
export const peerOf = (r: Role): Role => (r === 'a' ? 'b' : 'a');
/**
 * The guests' NICs when a suite asks for a network: address (KL_ADDR in tests; the other
 * guest's is KL_PEER), MAC, MTU. A single guest is a.
 */
export const GUEST_NET = {
  prefix: 24,
  mtu: 9000,
  a: { addr: '10.77.0.1', mac: '52:54:00:4b:4c:01' },
  b: { addr: '10.77.0.2', mac: '52:54:00:4b:4c:02' },
} as const;

/** A test of a pair suite that needs both guests (the others run on guest a alone). */
export function twoGuest(suite: Suite, test: Suite['tests'][number]): boolean {
  return suite.network === 'pair' && test.guests === 2;
}

const oneField = (s: string) => s.replace(/[\t\r\n]+/g, ' ');

/** A suite manifest as the agent's plan file. */
export function planLines(suite: Suite): string {
  return suite.tests.map((t) => `${t.name}\t${Math.ceil(t.timeout ?? suite.testTimeout)}\t${oneField(t.cmd)}\n`).join('');
}

/** The files a built suite directory gets beside its programs. */
export function suitePlanFiles(suite: Suite): Record<string, string> {
  return { 'kl-plan': planLines(suite), 'kl-suite-timeout': `${Math.ceil(suite.timeout)}\n` };
}

/** The files of a run's job archive, by their path under /kl. */
export function jobFiles(job: Job): Record<string, string> {
  const env: Record<string, string> = {
    KL_SCALE: String(job.scale),
    KL_KERNEL_VERSION: job.kernelVersion,
    KL_CPUS: String(job.cpus),
    KL_SUITE_LIST: job.suites.join(' '),
    KL_KMEMLEAK: job.kmemleak ? '1' : '0',
    KL_FEATURES: job.features.join(','),
    KL_REPEAT: String(job.repeat),
    KL_RETRY: String(job.retry),
  };
  if (job.net) {
    const me = GUEST_NET[job.net.role];
    env.KL_NET_ADDR = `${me.addr}/${GUEST_NET.prefix}`;
    env.KL_NET_MTU = String(GUEST_NET.mtu);
    env.KL_ROLE = job.net.role;
    if (job.net.pair) env.KL_NET_PEER = GUEST_NET[peerOf(job.net.role)].addr;
  }
  if (job.exec) {
    env.KL_EXEC = Buffer.from(job.exec.command).toString('base64');
    env.KL_EXEC_TIMEOUT = String(Math.max(1, Math.floor(job.exec.timeoutS)));
  }
  return {
    'job.env': Object.entries(env).map(([k, v]) => `${k}='${v.replaceAll("'", `'\\''`)}'\n`).join(''),
    skip: job.skips.map((s) => `${s.test}\t${oneField(s.reason)}\n`).join(''),
    once: (job.once ?? []).map((t) => `${t}\n`).join(''),
  };
}

const KTAP_START = /# kl-start (\S+) timeout=(\d+)/g;
export const KTAP_START_LINE = /^# kl-start (\S+)/;
export const KTAP_DURATION_LINE = /^# kl-duration (\S+) (\d+)s(?: exit=(-?\d+))?(?: taint=(\d+))?/;
export const KTAP_BOOT_TAINT_LINE = /^# kl-taint-boot (\d+)/;
const KMSG_MARKER = /^kl: test-(start|end) (\S+)/;

/** The test the guest is running, from the KTAP stream so far (null between tests). */
export function currentTest(ktap: string): { name: string; timeout: number } | null {
  const starts = [...ktap.matchAll(KTAP_START)];
  const last = starts[starts.length - 1];
  if (!last) return null;
  const done = ktap.lastIndexOf(`# kl-duration ${last[1]} `) > last.index!;
  return done ? null : { name: last[1]!, timeout: Number(last[2]) };
}

/** A console line (prefixes stripped) that opens or closes a test, as the guest said it. */
export function testMarker(line: string): { kind: 'start' | 'end'; test: string } | null {
  const m = KMSG_MARKER.exec(line);
  return m ? { kind: m[1] as 'start' | 'end', test: m[2]! } : null;
}

/** The agent got to its end (it writes "done <rc>" on the status port after the last test). */
export function agentFinished(status: string): boolean {
  return /^done \d+/m.test(status);
}

/** What the guest must report: every test of every suite it runs, or the one --exec command. */
export function plannedTests(suites: Suite[], exec: boolean): PlannedTest[] {
  return exec ? [{ suite: 'exec', name: 'command' }] : suites.flatMap((s) => s.tests.map((t) => ({ suite: s.name, name: t.name })));
}

/** The per-test kernel-message files: names from the host's plan, keyed by the guest's marker text. */
export function testLogFiles(planned: PlannedTest[], kmemleakSuites: string[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const t of planned) files.set(`${t.suite}/${t.name}`, `${t.suite}__${t.name}.log`);
  for (const s of kmemleakSuites) files.set(`${s}/kmemleak-scan`, `${s}__kmemleak-scan.log`);
  return files;
}
