import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import test from 'ava';
import { Barriers, mergeGuests } from '../../harness/pair.ts';
import { loadSuite, loadSuiteFrom } from '../../harness/catalog.ts';
import { killerLast } from '../../harness/plan.ts';
import type { CrashRecord, TestRecord } from '../../harness/types.ts';

/** A guest's end of its kl.ctl port: a real UNIX socket pair through a listening server. */
async function ctlPair(dir: string, name: string): Promise<{ host: net.Socket; guest: net.Socket; lines: string[] }> {
  const file = path.join(dir, name);
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(file, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const guest = net.createConnection(file);
  const host = await accepted;
  server.close();
  const lines: string[] = [];
  readline.createInterface({ input: guest }).on('line', (l) => lines.push(l));
  return { host, guest, lines };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

/** Host-side barriers with guests a and b attached over real sockets in a fresh dir. */
async function attachedPair(): Promise<{ dir: string; b: Barriers; ga: Awaited<ReturnType<typeof ctlPair>>; gb: Awaited<ReturnType<typeof ctlPair>> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-pair-'));
  const b = new Barriers();
  const ga = await ctlPair(dir, 'a');
  const gb = await ctlPair(dir, 'b');
  b.attach('a', ga.host);
  b.attach('b', gb.host);
  return { dir, b, ga, gb };
}

test('barriers: both guests hear go only once both are there; a guest that ended or left the test makes the other hear gone; other lines are ignored', async (t) => {
  const { dir, b, ga, gb } = await attachedPair();
  ga.guest.write('barrier rdma/x listening\n');
  await settle();
  t.deepEqual(ga.lines, [], 'a waits alone: no answer yet');
  gb.guest.write('barrier rdma/x other-tag\n'); // not the same barrier
  await settle();
  t.deepEqual(ga.lines, []);
  gb.guest.write('barrier rdma/x listening\n');
  await settle();
  t.deepEqual(ga.lines, ['go rdma/x listening']);
  t.deepEqual(gb.lines, ['go rdma/x listening']);
  gb.guest.write('rm -rf /\nbarrier ../../etc passwd extra\n');
  await settle();
  t.is(b.log.filter((l) => l.includes('ignored')).length, 2, 'lines that are not barriers are ignored');
  // b still waits at other-tag; a ends: b hears gone for it, and a's later barrier from b is answered gone at once
  b.end('a');
  await settle();
  t.deepEqual(gb.lines.slice(1), ['gone rdma/x other-tag']);
  gb.guest.write('barrier rdma/y start\n');
  await settle();
  t.deepEqual(gb.lines.slice(2), ['gone rdma/y start']);
  // a's test ends (it failed before its barrier): b waiting in it hears gone now, and later
  const gc = await ctlPair(dir, 'c');
  const gd = await ctlPair(dir, 'd');
  const b2 = new Barriers();
  b2.attach('a', gc.host);
  b2.attach('b', gd.host);
  gd.guest.write('barrier rdma/z done\n');
  await settle();
  gc.guest.write('leave rdma/z\n');
  await settle();
  t.deepEqual(gd.lines, ['gone rdma/z done']);
  gd.guest.write('barrier rdma/z again\n');
  await settle();
  t.deepEqual(gd.lines, ['gone rdma/z done', 'gone rdma/z again']);
  b2.close();
  gc.guest.destroy();
  gd.guest.destroy();
  b.close();
  ga.guest.destroy();
  gb.guest.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

const rec = (name: string, status: TestRecord['status'], reason?: string): TestRecord => ({ suite: 'rdma', name, status, durationS: 1, ...(reason ? { reason } : {}) });

test('two guests merge: a two-guest test takes the worse status and says it was guest b; b\'s one-guest skips are dropped; b\'s reports are marked b\'s', (t) => {
  const crashB = { type: 'BUG', title: 'BUG: KASAN in rxe_x', test: 'rdma/pair_bad', fatal: false, corrupted: false, report: '', line: 1, count: 1 } as CrashRecord;
  const m = mergeGuests(
    { tests: [rec('pair_ok', 'pass'), rec('pair_bad', 'pass'), rec('alone', 'pass')], crashes: [] },
    { tests: [rec('pair_ok', 'pass'), rec('pair_bad', 'fail', 'rping server exited 1'), rec('alone', 'skip', 'runs on guest a alone')], crashes: [crashB] },
    ['rdma/pair_ok', 'rdma/pair_bad'],
  );
  const by = Object.fromEntries(m.tests.map((x) => [x.name, x]));
  t.is(m.tests.length, 3);
  t.like(by.pair_ok, { status: 'pass', guests: { a: 'pass', b: 'pass' } });
  t.like(by.pair_bad, { status: 'fail', reason: 'guest b: rping server exited 1', guests: { a: 'pass', b: 'fail' } });
  t.like(by.alone, { status: 'pass' });
  t.is(by.alone!.guests, undefined);
  t.is(m.crashes.length, 1);
  t.is(m.crashes[0]!.guest, 'b');
  t.is(m.crashes[0]!.test, 'rdma/pair_bad');
  // b killed at a's request in pair_bad: b's results from there on are not counted
  const k = mergeGuests({ tests: [rec('pair_ok', 'pass'), rec('pair_bad', 'pass')], crashes: [] }, { tests: [rec('pair_ok', 'pass'), rec('pair_bad', 'error', 'guest stopped during this test')], crashes: [] }, ['rdma/pair_ok', 'rdma/pair_bad'], 'rdma/pair_bad');
  t.like(k.tests[1], { status: 'pass', guests: { a: 'pass', b: 'killed' } });
  t.like(k.tests[0], { status: 'pass', guests: { a: 'pass', b: 'pass' } });
});

test('a pair suite lists its two-guest tests first; a two-guest test needs "network": "pair"', (t) => {
  const s = loadSuite('rdma');
  t.is(s.network, 'pair');
  const firstOne = s.tests.findIndex((x) => x.guests !== 2);
  t.true(firstOne > 0, 'the rdma suite has two-guest tests, first');
  t.false(s.tests.slice(firstOne).some((x) => x.guests === 2));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-suite-'));
  const name = 'pairish';
  try {
    const base = { description: 'x', requires: { config: [], features: [] }, tests: [] as unknown[] };
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...base, network: 'pair', tests: [{ name: 'one', cmd: 'true' }, { name: 'two', cmd: 'true', guests: 2 }] }));
    t.throws(() => loadSuiteFrom(name, dir), { message: /two-guest test 'two' comes after one-guest test 'one'/ });
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...base, tests: [{ name: 'two', cmd: 'true', guests: 2 }] }));
    t.throws(() => loadSuiteFrom(name, dir), { message: /asks for two guests, the suite has no "network": "pair"/ });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('control port: link down|up, kill-peer and freeze|thaw-peer reach the host actions with the asking guest, and are answered ok or with the error; leave reaches them too; a line over 64 KiB closes the port', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-pair-'));
  const calls: string[] = [];
  const b = new Barriers({
    setLink: async (role, up) => void calls.push(`${role} link ${up ? 'up' : 'down'}`),
    killPeer: async (role, test) => {
      calls.push(`${role} kill-peer ${test}`);
      throw new Error('guest b is not running');
    },
    freezePeer: async (role, test, frozen) => {
      calls.push(`${role} ${frozen ? 'freeze' : 'thaw'} ${test}`);
      if (!frozen) throw new Error('guest b is not stopped');
    },
    left: (role, test) => void calls.push(`${role} left ${test}`),
  });
  const ga = await ctlPair(dir, 'a');
  const gb = await ctlPair(dir, 'b');
  b.attach('a', ga.host);
  b.attach('b', gb.host);
  ga.guest.write('link down rdma/flap\nlink up rdma/flap\nkill-peer rdma/kill\nfreeze-peer rdma/lost\nthaw-peer rdma/lost\nfreeze-peer  rdma/x\nleave rdma/lost\n');
  await settle();
  t.deepEqual(calls, ['a link down', 'a link up', 'a kill-peer rdma/kill', 'a freeze rdma/lost', 'a thaw rdma/lost', 'a left rdma/lost']);
  t.deepEqual(ga.lines, ['link down rdma/flap ok', 'link up rdma/flap ok', 'kill-peer rdma/kill error guest b is not running', 'freeze-peer rdma/lost ok', 'thaw-peer rdma/lost error guest b is not stopped']);
  t.deepEqual(gb.lines, [], 'the other guest hears nothing of it');
  const closed = new Promise((r) => gb.guest.once('close', r));
  gb.guest.write('x'.repeat(70_000));
  await closed;
  t.true(b.log.some((l) => l.includes('b: a line over 64 KiB')));
  b.close();
  ga.guest.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('barriers under --repeat: a guest\'s n-th run of a test meets the other\'s n-th run; a leave of an earlier run never answers a later run gone', async (t) => {
  const { dir, b, ga, gb } = await attachedPair();
  // run 1 on both guests; a is done first and starts run 2 while b is still in run 1
  ga.guest.write('barrier rdma/x listening\n');
  gb.guest.write('barrier rdma/x listening\n');
  await settle();
  t.deepEqual(ga.lines, ['go rdma/x listening']);
  ga.guest.write('leave rdma/x\nbarrier rdma/x listening\n');
  await settle();
  t.deepEqual(ga.lines, ['go rdma/x listening'], 'a\'s second run waits for b\'s second run');
  gb.guest.write('leave rdma/x\n'); // b leaves its first run now
  await settle();
  t.deepEqual(ga.lines, ['go rdma/x listening'], 'b leaving its first run does not end a\'s second');
  gb.guest.write('barrier rdma/x listening\n');
  await settle();
  t.deepEqual(ga.lines, ['go rdma/x listening', 'go rdma/x listening']);
  t.deepEqual(gb.lines, ['go rdma/x listening', 'go rdma/x listening']);
  // b fails its second run before the next barrier: a, waiting in its second run, hears gone
  ga.guest.write('barrier rdma/x done\n');
  await settle();
  gb.guest.write('leave rdma/x\n');
  await settle();
  t.deepEqual(ga.lines.slice(2), ['gone rdma/x done']);
  b.close();
  ga.guest.destroy();
  gb.guest.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a test that kills guest b is its suite\'s last two-guest test, and its suite runs after every other one; two such suites are refused', (t) => {
  const rdma = loadSuite('rdma');
  const bzc = loadSuite('rdma-bzc');
  const killer = rdma.tests.findIndex((x) => x.killsPeer);
  t.true(killer >= 0, 'the rdma suite declares its kill_peer test');
  t.false(rdma.tests.slice(killer + 1).some((x) => x.guests === 2));
  t.deepEqual(killerLast([rdma, bzc]).map((s) => s.name), ['rdma-bzc', 'rdma']);
  t.deepEqual(killerLast([bzc, rdma]).map((s) => s.name), ['rdma-bzc', 'rdma']);
  t.deepEqual(killerLast([bzc]).map((s) => s.name), ['rdma-bzc']);
  t.throws(() => killerLast([rdma, bzc, { ...rdma, name: 'rdma2' }]), { message: /suites rdma \(kill_peer_pair_siw\) and rdma2 \(kill_peer_pair_siw\) each kill guest b/ });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-suite-'));
  try {
    const base = { description: 'x', network: 'pair', requires: { config: [], features: [] } };
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...base, tests: [{ name: 'kill', cmd: 'true', guests: 2, killsPeer: true }, { name: 'after', cmd: 'true', guests: 2 }] }));
    t.throws(() => loadSuiteFrom('k', dir), { message: /two-guest test 'after' comes after 'kill', which kills guest b/ });
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...base, tests: [{ name: 'kill', cmd: 'true', killsPeer: true }] }));
    t.throws(() => loadSuiteFrom('k', dir), { message: /test 'kill' kills guest b but does not run on two guests/ });
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...base, tests: [{ name: 'two', cmd: 'true', guests: 2 }, { name: 'kill', cmd: 'true', guests: 2, killsPeer: true }, { name: 'one', cmd: 'true' }] }));
    t.is(loadSuiteFrom('k', dir).tests.length, 3);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
