// Two guests of one kernel and one image on one private link (suites with "network": "pair"):
// two QEMU processes joined by unix datagram sockets, each with its own run directory
// (console.log, KTAP and status streams), and a control port each (kl.ctl) through which
// the host holds the barriers of two-guest tests. A guest that ends before its agent is
// done (panic, hang, QEMU gone) ends the other: the run gets a verdict, never a wait.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { agentFinished, GUEST_NET, peerOf, type Role } from './agent.ts';
import { oneLine } from './errors.ts';
import type { Recorder } from './exec.ts';
import { log } from './log.ts';
import { connectUnix, type QmpMonitor } from './qmp.ts';
import { boot, type BootLimits, type BootOutcome, type BootSpec } from './stages/qemu.ts';
import type { CrashRecord, TestRecord, TestStatus } from './types.ts';

const BARRIER_LINE = /^barrier (\S{1,200}) (\S{1,64})$/;
const LINK_LINE = /^link (down|up) (\S{1,200})$/;
const KILL_LINE = /^kill-peer (\S{1,200})$/;
const FREEZE_LINE = /^(freeze|thaw)-peer (\S{1,200})$/;
const LEAVE_LINE = /^leave (\S{1,200})$/;

/** What the host does for a guest's request: its own link, or the other guest's QEMU. */
export interface PairActions {
  setLink(role: Role, up: boolean): Promise<void>;
  killPeer(role: Role, test: string): Promise<void>;
  /** stop (true) or continue the other guest's QEMU */
  freezePeer(role: Role, test: string, frozen: boolean): Promise<void>;
  /** the guest left a test (its `leave` line) */
  left?(role: Role, test: string): void;
}

/**
 * The control port of two-guest tests (kl.ctl). Lines are untrusted: anything else is
 * ignored, and names are only compared, never used as file names.
 * - `barrier <suite/test> <tag>`: once the other guest has written the same line, both get
 *   `go <suite/test> <tag>`; a guest whose peer has ended gets `gone ...`. The guest bounds
 *   its own wait. The agent itself meets the other guest at `barrier <suite/test> kl-start`
 *   before each run of a two-guest test (images/base/init), waiting as long as the other
 *   guest lives: the tests' own bounded barriers then measure the test, not the one-guest
 *   suites guest a ran before it.
 * - `link down|up <suite/test>`: the host takes this guest's link down or up (QMP set_link,
 *   as a pulled cable); answered `link down|up <suite/test> ok` or `... error <why>`.
 * - `kill-peer <suite/test>`: the host kills the other guest's QEMU (a machine lost mid-test);
 *   answered `kill-peer <suite/test> ok` once it is gone.
 * - `freeze-peer|thaw-peer <suite/test>`: the host stops the other guest's QEMU (QMP stop: a
 *   machine lost without a word on the wire, yet one that can come back; frames sent to it
 *   are dropped, not held back) or lets it go on;
 *   answered `... ok` or `... error <why>`. A stopped guest is not silent to the watchdog,
 *   and is let go on when the guest that stopped it leaves the test or ends.
 * - `leave <suite/test>`: the guest's test ended (passed or not): the other guest's barriers
 *   of that test are answered `gone` from now on, so a failure on one side fails the other
 *   at once instead of at its barrier's timeout.
 */
export class Barriers {
  private socks: Partial<Record<Role, net.Socket>> = {};
  private waiting = new Map<string, { who: Role; key: string }>(); // by `${key} #${run}`
  private ended = new Set<Role>();
  // How often each guest left each test (`${role} ${test}`): under --repeat a two-guest test
  // runs several times on both guests, and a guest's barriers in its n-th run meet the other
  // guest's n-th run, never a run that has already left.
  private left = new Map<string, number>();
  private runOf = (role: Role, test: string) => this.left.get(`${role} ${test}`) ?? 0;
  readonly log: string[] = [];

  constructor(private readonly actions?: PairActions) {}

  attach(role: Role, sock: net.Socket): void {
    this.socks[role] = sock;
    sock.on('error', () => {});
    // The guest's lines, bounded: a guest that sends 64 KiB without a newline is cut off.
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.line(role, buf.slice(0, nl).replace(/\r$/, ''));
        buf = buf.slice(nl + 1);
      }
      if (buf.length > 1 << 16) {
        this.note(`${role}: a line over 64 KiB: control port closed`);
        sock.destroy();
      }
    });
  }

  line(role: Role, line: string): void {
    const l = LINK_LINE.exec(line);
    const k = KILL_LINE.exec(line);
    const f = FREEZE_LINE.exec(line);
    if ((l || k || f) && this.actions) {
      this.note(`${role}: ${line}`);
      const act = l
        ? this.actions.setLink(role, l[1] === 'up')
        : k
          ? this.actions.killPeer(role, k[1]!)
          : this.actions.freezePeer(role, f![2]!, f![1] === 'freeze');
      void act.then(
        () => this.send(role, `${line} ok`),
        (err: unknown) => this.send(role, `${line} error ${oneLine(err).slice(0, 200)}`),
      );
      return;
    }
    const lv = LEAVE_LINE.exec(line);
    if (lv) {
      const run = this.runOf(role, lv[1]!);
      this.note(`${role}: left ${lv[1]}${run > 0 ? ` (run ${run + 1})` : ''}`);
      this.left.set(`${role} ${lv[1]}`, run + 1);
      this.actions?.left?.(role, lv[1]!);
      for (const [slot, { who, key }] of this.waiting) {
        if (who === role || !key.startsWith(`${lv[1]} `) || !slot.endsWith(` #${run}`)) continue;
        this.waiting.delete(slot);
        this.send(who, `gone ${key}`);
      }
      return;
    }
    const m = BARRIER_LINE.exec(line);
    if (!m) {
      this.note(`${role}: ignored ${JSON.stringify(line.slice(0, 80))}`);
      return;
    }
    const key = `${m[1]} ${m[2]}`;
    const other = peerOf(role);
    const run = this.runOf(role, m[1]!);
    const slot = `${key} #${run}`;
    this.note(`${role}: at ${key}${run > 0 ? ` (run ${run + 1})` : ''}`);
    if (this.ended.has(other) || this.runOf(other, m[1]!) > run) return this.send(role, `gone ${key}`);
    if (this.waiting.get(slot)?.who === other) {
      this.waiting.delete(slot);
      this.send('a', `go ${key}`);
      this.send('b', `go ${key}`);
    } else this.waiting.set(slot, { who: role, key });
  }

  /** A guest ended: whoever waits for it hears so now. */
  end(role: Role): void {
    this.ended.add(role);
    for (const [slot, { who, key }] of this.waiting) {
      if (who === role) continue;
      this.waiting.delete(slot);
      this.send(who, `gone ${key}`);
    }
  }

  private send(role: Role, line: string): void {
    this.note(`-> ${role}: ${line}`);
    const s = this.socks[role];
    if (s && !s.destroyed) s.write(`${line}\n`);
  }

  private note(s: string): void {
    if (this.log.length < 10_000) this.log.push(s);
  }

  close(): void {
    for (const s of Object.values(this.socks)) s?.destroy();
  }
}

export interface PairOutcome {
  a: BootOutcome;
  b: BootOutcome;
  /** the guest whose early end stopped the other, and how it ended */
  first?: { role: Role; ended: BootOutcome['ended'] };
  /** guest b was killed at a's request (kill-peer) in this test */
  killedB?: string;
}

/**
 * Boot guest a and guest b (their specs differ in run directory and job), on one link.
 * Sockets go in a short private directory (UNIX socket paths are limited to 108 bytes).
 */
export async function bootPair(rec: Recorder, specs: Record<Role, BootSpec>, limits: BootLimits, signal?: AbortSignal, killers?: string[]): Promise<PairOutcome> {
  const dir = rec.dryRun ? '/tmp/kl-pair.XXXXXX' : fs.mkdtempSync(path.join(os.tmpdir(), 'kl-pair-'));
  const full = (role: Role): BootSpec => ({
    ...specs[role],
    net: { mac: GUEST_NET[role].mac, link: { local: linkOf(role), remote: linkOf(peerOf(role)) } },
    ctl: path.join(dir, `${role}.ctl`),
    onQmp: (m) => (qmp[role] = m),
  });
  const stops: Record<Role, AbortController> = { a: new AbortController(), b: new AbortController() };
  const qmp: Partial<Record<Role, QmpMonitor>> = {};
  const ended: Partial<Record<Role, Promise<unknown>>> = {};
  let killedB: string | undefined; // b killed at a's request, in that test (only a may ask)
  // a guest stopped (QMP stop) at the other's request, and in which test
  const frozen: Partial<Record<Role, string>> = {};
  // A stopped QEMU reads nothing from its link socket, and a datagram to a full UNIX socket
  // waits: the other guest's frames were held back in its own QEMU, their buffers in its
  // kernel (rxe keeps a QP reference per packet sent until the buffer is freed: destroying
  // the QP then waited 50 s and warned), where a wire to a dead machine drops them. While a
  // guest is stopped its socket's name is moved aside, so its peer's QEMU, which sends to the
  // name, drops each frame (ENOENT) as the wire would; it is put back before the guest goes on.
  const linkOf = (role: Role) => path.join(dir, `${role}.link`);
  const frozenLink = (role: Role) => `${linkOf(role)}.frozen`;
  const thaw = async (role: Role) => {
    if (frozen[role] === undefined) return;
    delete frozen[role];
    log(`guest ${role}: let go on (QMP cont)`);
    if (fs.existsSync(frozenLink(role))) fs.renameSync(frozenLink(role), linkOf(role));
    await qmp[role]?.command('cont');
  };
  const barriers = new Barriers({
    setLink: async (role, up) => {
      const m = qmp[role];
      if (!m) throw new Error('no QMP connection to this guest');
      await m.command('set_link', { name: 'n0', up });
    },
    killPeer: async (role, test) => {
      // b's results stop where it was killed; a's carry the run on
      if (role !== 'a') throw new Error('only guest a may ask for its peer to be killed');
      // undeclared, a later suite's two-guest tests would run without b (harness/plan.ts)
      if (killers && !killers.includes(test)) throw new Error(`${test} does not say "killsPeer": true in its manifest`);
      if (!running.b) throw new Error('guest b is not running');
      killedB = test;
      log(`guest a asked, in ${test}, for guest b to be killed: killing its QEMU`);
      stops.b.abort();
      await ended.b;
    },
    freezePeer: async (role, test, freeze) => {
      const other = peerOf(role);
      const m = qmp[other];
      if (!m || !running[other]) throw new Error(`guest ${other} is not running`);
      if (!freeze) {
        if (frozen[other] === undefined) throw new Error(`guest ${other} is not stopped`);
        return thaw(other);
      }
      if (frozen[other] !== undefined) throw new Error(`guest ${other} is stopped already`);
      frozen[other] = test;
      log(`guest ${role} asked, in ${test}, for guest ${other} to be stopped (QMP stop; its link drops frames)`);
      await m.command('stop');
      fs.renameSync(linkOf(other), frozenLink(other));
    },
    // the guest that stopped the other left that test: the other goes on
    left: (role, test) => {
      const other = peerOf(role);
      if (frozen[other] === test) void thaw(other).catch((err: unknown) => log(`guest ${other}: QMP cont: ${oneLine(err)}`));
    },
  });
  const onAbort = () => (stops.a.abort(), stops.b.abort());
  signal?.addEventListener('abort', onAbort);
  let first: PairOutcome['first'];
  const running: Record<Role, boolean> = { a: true, b: true };
  try {
    const one = async (role: Role): Promise<BootOutcome> => {
      const other = peerOf(role);
      const killed = () => role === 'b' && killedB !== undefined;
      const spec = full(role);
      const ctl = rec.dryRun
        ? Promise.resolve()
        : connectUnix(spec.ctl!, () => !running[role], 30_000).then(
            (s) => barriers.attach(role, s),
            (err: unknown) => log(`guest ${role}: no control connection (kl.ctl: ${oneLine(err)}); its barriers will time out`),
          );
      try {
        const booting = boot(rec, spec, { ...limits, paused: () => frozen[role] !== undefined }, stops[role].signal);
        ended[role] = booting.catch(() => {});
        const o = await booting;
        const done = rec.dryRun || agentFinished(readOr(path.join(spec.runDir, 'status.raw')));
        if (!done && running[other] && !first && !killed()) {
          first = { role, ended: o.ended };
          log(`guest ${role} ended (${o.ended}) before its agent finished: stopping guest ${other}`);
          stops[other].abort();
        }
        return o;
      } catch (err) {
        if (running[other] && !first && !killed()) {
          first = { role, ended: 'qemu-error' };
          log(`guest ${role} failed (${oneLine(err)}): stopping guest ${other}`);
          stops[other].abort();
        }
        throw err;
      } finally {
        running[role] = false;
        // a stopped guest goes on once the guest that stopped it is gone
        await thaw(other).catch(() => {});
        barriers.end(role);
        await ctl.catch(() => {});
      }
    };
    const [a, b] = await Promise.all([one('a'), one('b')]);
    if (!rec.dryRun) fs.writeFileSync(path.join(specs.a.runDir, 'barriers.log'), `${barriers.log.join('\n')}\n`);
    return { a, b, ...(first ? { first } : {}), ...(killedB !== undefined ? { killedB } : {}) };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    barriers.close();
    if (!rec.dryRun) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const WORST: TestStatus[] = ['fail', 'timeout', 'error', 'flaky', 'skip', 'pass'];

/**
 * One record per test from both guests' results: a two-guest test takes the worse of its
 * two statuses (its reason names guest b when b's was worse); guest b's kernel reports are
 * marked as b's and charged to b's test.
 */
export function mergeGuests(a: { tests: TestRecord[]; crashes: CrashRecord[] }, b: { tests: TestRecord[]; crashes: CrashRecord[] }, twoGuestTests: string[], killedB?: string): { tests: TestRecord[]; crashes: CrashRecord[] } {
  // guest b killed at a's request (kill-peer) in a test: its results from that test on are
  // what the test did to it, not a verdict on it
  const from = killedB ? twoGuestTests.indexOf(killedB) : -1;
  const counted = new Set(from >= 0 ? twoGuestTests.slice(0, from) : twoGuestTests);
  const fromB = new Map(b.tests.filter((t) => counted.has(`${t.suite}/${t.name}`)).map((t) => [`${t.suite}/${t.name}`, t]));
  const tests = a.tests.map((t) => {
    const other = fromB.get(`${t.suite}/${t.name}`);
    if (!other) return killedB === `${t.suite}/${t.name}` ? { ...t, guests: { a: t.status, b: 'killed' as const } } : t;
    const merged: TestRecord = { ...t, guests: { a: t.status, b: other.status, ...(t.reason ? { aReason: t.reason } : {}), ...(other.reason ? { bReason: other.reason } : {}) } };
    if (WORST.indexOf(other.status) < WORST.indexOf(t.status)) {
      merged.status = other.status;
      merged.reason = `guest b: ${other.reason ?? other.status}`;
    }
    return merged;
  });
  return { tests, crashes: [...a.crashes, ...b.crashes.map((c) => ({ ...c, guest: 'b' as const }))] };
}
