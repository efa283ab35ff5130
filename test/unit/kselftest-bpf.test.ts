// suites/kselftest-bpf/tv-run.sh: test_verifier's result lines told as KTAP, run here on
// the host with a stand-in test_verifier printing lines the real one printed on the base
// (the real one runs in the guest: test/integration/kselftest-bpf.test.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { parseSubtests } from '../../harness/ktap.ts';
import { paths } from '../../harness/paths.ts';

const wrapper = path.join(paths.suites, 'kselftest-bpf', 'tv-run.sh');

async function runWrapped(stdout: string[], stderr: string[] = [], exit = 0) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-tv-'));
  fs.copyFileSync(wrapper, path.join(dir, 'tv-run.sh'));
  fs.chmodSync(path.join(dir, 'tv-run.sh'), 0o755);
  fs.writeFileSync(path.join(dir, 'out.txt'), stdout.map((l) => `${l}\n`).join(''));
  fs.writeFileSync(path.join(dir, 'err.txt'), stderr.map((l) => `${l}\n`).join(''));
  fs.writeFileSync(path.join(dir, 'test_verifier'), `#!/bin/sh\ncat "${dir}/err.txt" >&2\ncat "${dir}/out.txt"\nexit ${exit}\n`, { mode: 0o755 });
  const r = await execa(path.join(dir, 'tv-run.sh'), [], { reject: false, env: { KL_TMP: dir } });
  fs.rmSync(dir, { recursive: true, force: true });
  const out = String(r.stdout).split('\n');
  return { rc: r.exitCode, out, subtests: parseSubtests(out) };
}

test('OK, SKIP and "Did not run" lines are passes and skips with their reasons, numbered 1..N', async (t) => {
  const r = await runWrapped([
    '#0/u invalid and of negative number OK',
    '#0/p invalid and of negative number OK',
    '#1/u calls: check_ids() across call boundary SKIP',
    '#2/p perf_event sample period SKIP (unsupported program type 7)',
    '#3/p ld_abs: vlan + abs, test 1 Did not run the program (not supported) OK',
    '#4/p jit: various mul tests 2 cases OK',
    'Summary: 4 PASSED, 2 SKIPPED, 0 FAILED',
  ]);
  t.is(r.rc, 0);
  t.deepEqual(r.subtests.map((s) => [s.n, s.name, s.status, s.reason]), [
    [1, '0/u invalid and of negative number', 'pass', undefined],
    [2, '0/p invalid and of negative number', 'pass', undefined],
    [3, '1/u calls: check_ids() across call boundary', 'skip', 'test_verifier skipped it'],
    [4, '2/p perf_event sample period', 'skip', 'unsupported program type 7'],
    [5, '3/p ld_abs: vlan + abs, test 1', 'pass', 'Did not run the program (not supported), OK'],
    [6, '4/p jit: various mul tests', 'pass', undefined],
  ]);
  t.true(r.out.includes('1..6'));
});

test("a failure keeps its reason and log as comments before it; a fixup's complaint is moved off the name; the last line lists the failures", async (t) => {
  const r = await runWrapped([
    '#211/p valid 1,2,4,8-byte reads from bpf_sk_lookup FAIL',
    "Failed to load prog 'Invalid argument'!",
    'bpf verifier is misconfigured',
    "#472/p map_kptr: BPF_ST imm != 0 Failed to load BTF spec: 'Invalid argument'",
    'FAIL',
    'Unexpected verifier log!',
    "#486/p map_kptr: ref: reference state created and released on xchg Failed to load BTF spec: 'Invalid argument'",
    'SKIP (program uses an unsupported feature)',
    'Summary: 0 PASSED, 1 SKIPPED, 2 FAILED',
  ], ['libbpf: kernel BTF is missing', 'libbpf: kernel BTF is missing'], 1);
  t.is(r.rc, 1);
  t.deepEqual(r.subtests.map((s) => [s.name, s.status]), [
    ['211/p valid 1,2,4,8-byte reads from bpf_sk_lookup', 'fail'],
    ['472/p map_kptr: BPF_ST imm != 0', 'fail'],
    ['486/p map_kptr: ref: reference state created and released on xchg', 'skip'],
  ]);
  t.is(r.subtests[0]!.reason, "FAIL: Failed to load prog 'Invalid argument'!");
  t.is(r.subtests[0]!.context, "Failed to load prog 'Invalid argument'!");
  t.true(r.out.includes('# bpf verifier is misconfigured'));
  t.is(r.subtests[1]!.reason, "FAIL: Unexpected verifier log! (Failed to load BTF spec: 'Invalid argument')");
  t.is(r.subtests[2]!.reason, "program uses an unsupported feature (Failed to load BTF spec: 'Invalid argument')");
  t.true(r.out.includes('# stderr, 2 times: libbpf: kernel BTF is missing'), 'stderr apart, once per line');
  t.is(r.out.filter((l) => l.startsWith('FAIL: ')).at(-1), 'FAIL: 2 of 3 failed: 211/p 472/p');
});

test('KTAP that disagrees with the summary, or no summary, fails the test with tv-run: as the reason', async (t) => {
  const off = await runWrapped(['#0/p a OK', 'Summary: 2 PASSED, 0 SKIPPED, 0 FAILED']);
  t.is(off.rc, 1);
  t.regex(off.out.at(-1)!, /^FAIL: tv-run: KTAP says 1 passed, 0 skipped, 0 failed; test_verifier: 2, 0, 0$/);
  const died = await runWrapped(['#0/p a OK', '#1/p b '], [], 139);
  t.is(died.rc, 1);
  t.is(died.subtests.at(-1)!.status, 'fail');
  t.regex(died.out.at(-1)!, /^FAIL: tv-run: test_verifier printed no summary \(exit 139\)$/);
});
