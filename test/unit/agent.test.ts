import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { agentFinished, currentTest, jobFiles, testLogFiles, testMarker, type Job } from '../../harness/agent.ts';
import { paths } from '../../harness/paths.ts';

const job: Job = {
  scale: 4,
  kernelVersion: '6.12.0',
  cpus: 2,
  suites: ['smoke', 'fused'],
  skips: [
    { test: 'fused/probe', reason: "needs patch feature 'fused' (run with --patch fused)" },
    { test: 'fused/odd', reason: 'a\ttab and a\nnewline' },
  ],
  kmemleak: false,
  features: [],
  exec: { command: "echo 'hi' | cat", timeoutS: 12.7 },
  repeat: 3,
  retry: 1,
  net: null,
};

test('the job: env quoted for sh, the command in base64, eth0\'s address only with a NIC, the skip list one line per test with the reason kept whole', (t) => {
  const f = jobFiles(job);
  t.deepEqual(Object.keys(f).sort(), ['job.env', 'once', 'skip']);
  t.is(f.once, '', 'one guest: every test may be retried');
  t.is(jobFiles({ ...job, once: ['rdma/rping_pair_4k_rxe', 'rdma/write_bw_pair_64k_rxe'] }).once, 'rdma/rping_pair_4k_rxe\nrdma/write_bw_pair_64k_rxe\n', 'two-guest tests: never retried');
  t.regex(f['job.env']!, /^KL_SUITE_LIST='smoke fused'$/m);
  t.regex(f['job.env']!, /^KL_EXEC_TIMEOUT='12'$/m);
  const b64 = /^KL_EXEC='([^']*)'$/m.exec(f['job.env']!)![1]!;
  t.is(Buffer.from(b64, 'base64').toString(), job.exec!.command);
  t.notRegex(f['job.env']!, /KL_NET_ADDR/, 'no NIC asked for: no address');
  t.regex(jobFiles({ ...job, net: { role: 'a', pair: false } })['job.env']!, /^KL_NET_ADDR='10\.77\.0\.1\/24'$/m);
  t.notRegex(jobFiles({ ...job, net: { role: 'a', pair: false } })['job.env']!, /KL_NET_PEER/, 'one guest: no peer');
  const b = jobFiles({ ...job, net: { role: 'b', pair: true } })['job.env']!;
  t.regex(b, /^KL_NET_ADDR='10\.77\.0\.2\/24'$/m);
  t.regex(b, /^KL_NET_PEER='10\.77\.0\.1'$/m);
  t.regex(b, /^KL_ROLE='b'$/m);
  t.is(f.skip, "fused/probe\tneeds patch feature 'fused' (run with --patch fused)\nfused/odd\ta tab and a newline\n");
});

test("the agent's own skip lookup (images/base/init) reads the skip list back exactly", async (t) => {
  // The function from the real agent, run by busybox sh as in the guest.
  const init = fs.readFileSync(path.join(paths.images, 'base', 'init'), 'utf8');
  const fn = /^skip_reason\(\) \{[\s\S]*?^\}$/m.exec(init)![0].replaceAll('/kl/skip', '"$SKIPFILE"');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-agent-'));
  const file = path.join(dir, 'skip');
  fs.writeFileSync(file, jobFiles(job).skip!);
  const ask = async (name: string) => execa('busybox', ['sh', '-c', `${fn}\nskip_reason "$1"`, 'sh', name], { env: { SKIPFILE: file }, reject: false });
  const probe = await ask('fused/probe');
  t.is(probe.exitCode, 0);
  t.is(probe.stdout, "needs patch feature 'fused' (run with --patch fused)");
  t.is((await ask('fused/odd')).stdout, 'a tab and a newline');
  t.is((await ask('fused/pro')).exitCode, 1, 'a prefix of a planned name is not that test');
  t.is((await ask('smoke/boots')).exitCode, 1);
  fs.rmSync(dir, { recursive: true });
});

test('the running test is the last kl-start without its kl-duration', (t) => {
  t.is(currentTest(''), null);
  const a = '    # kl-start uring/nop timeout=120\n';
  t.deepEqual(currentTest(a), { name: 'uring/nop', timeout: 120 });
  t.is(currentTest(`${a}    # kl-duration uring/nop 1s exit=0\n    ok 1 nop\n`), null);
  t.deepEqual(currentTest(`${a}    # kl-duration uring/nop 1s exit=0\n    # kl-start uring/link timeout=8\n`), { name: 'uring/link', timeout: 8 });
});

test('markers, the done line, and per-test files named only from the plan', (t) => {
  t.deepEqual(testMarker('kl: test-start uring/nop'), { kind: 'start', test: 'uring/nop' });
  t.deepEqual(testMarker('kl: test-end uring/nop rc=0'), { kind: 'end', test: 'uring/nop' });
  t.is(testMarker('xkl: test-start uring/nop'), null);
  t.true(agentFinished('started\nhb\ndone 0\n'));
  t.false(agentFinished('started\nhb\n'));
  const files = testLogFiles([{ suite: 'uring', name: 'nop' }], ['uring']);
  t.deepEqual([...files], [['uring/nop', 'uring__nop.log'], ['uring/kmemleak-scan', 'uring__kmemleak-scan.log']]);
  t.is(files.get('x/../../../tmp/escape'), undefined);
});
