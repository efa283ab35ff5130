import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { consoleLog, consoleModeCmdline, decodeConsole, lavaDevice, lavaJob, LAVA_MARKS, parseLavaLog, type LavaJobInput } from '../../harness/lava.ts';
import { paths } from '../../harness/paths.ts';
import { errorLines, lab } from '../integration/helpers.ts';

// the kernel version a log names: the pinned base's (kernel-patches/base.json), not a fixed one
const KVER = (JSON.parse(fs.readFileSync(path.join(paths.patchSets, 'base.json'), 'utf8')).version as string).replace(/-.*$/, '');

const NONCE = '16ff43447f5906c3';

/**
 * The agent's own frame() (images/base/init), run by busybox sh on this machine with its
 * /dev/kmsg writes going to a file: the records a guest in console mode prints, one a line.
 */
async function framed(stream: 'k' | 's', input: string): Promise<string[]> {
  const init = fs.readFileSync(path.join(paths.repoRoot, 'images', 'base', 'init'), 'utf8');
  const fn = /^frame\(\) \{\n[\s\S]*?\n\}\n/m.exec(init)?.[0];
  if (!fn) throw new Error('no frame() in images/base/init');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-frame-'));
  try {
    const out = path.join(dir, 'kmsg');
    fs.writeFileSync(out, '');
    // each > /dev/kmsg opens, writes one line and closes: the file gets them in order (>>)
    const script = `KL_CONSOLE=${NONCE}\n${fn.replaceAll('> /dev/kmsg', `>> ${out}`)}frame ${stream}\n`;
    await execa('busybox', ['sh', '-c', script], { input });
    return fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Records as the console shows them: printk's time and caller before each. */
const onConsole = (records: string[], caller = 'T58') => records.map((r, i) => `[    3.${String(i).padStart(6, '0')}][  ${caller}] ${r}`);

test('console mode: the agent\'s own framing decodes to the very lines it was given, long lines in pieces, heartbeats left out', async (t) => {
  const long = `# ${'x'.repeat(950)} end`;
  const ktap = ['KTAP version 1', '1..1', '    # Subtest: smoke', '    ok 1 boots_to_agent', '    # with  two  spaces and a\ttab', long, '', 'ok 1 smoke'];
  const recs = await framed('k', `${ktap.join('\n')}\n`);
  t.is(recs.length, ktap.length + 2, 'the 956-character line is three records');
  t.regex(recs[5]!, /^klr 16ff43447f5906c3 k 6 400\+ # x/);
  const status = await framed('s', 'started\nhb\nhb\ndone 0\n');
  t.deepEqual(status, [`klr ${NONCE} s 1 7 started`, `klr ${NONCE} s 2 6 done 0`]);
  const d = decodeConsole(`${[...onConsole(recs), ...onConsole(status, 'T59')].join('\n')}\n`, NONCE);
  t.is(d.ktap, `${ktap.join('\n')}\n`);
  t.is(d.status, 'started\ndone 0\n');
  t.deepEqual(d.problems, []);
});

test('console mode: kernel messages between records, another run\'s nonce, a forged or damaged record and a lost one are told apart', async (t) => {
  const recs = await framed('k', 'KTAP version 1\n1..1\nok 1 smoke\n');
  const lines = [
    '[host     1.000] [    2.100000][    T1] kl: test-start smoke/boots_to_agent',
    `[host     1.001] [    2.100100][   T58] ${recs[0]}`,
    '[host     1.002] [    2.200000][  T120] ------------[ cut here ]------------',
    `[host     1.003] [    2.200100][   T58] klr 0123456789abcdef k 2 4 1..9`, // another run's
    `[host     1.004] [    2.200200][  T666] klr ${NONCE} k 1 14 KTAP version 1`, // a replay: seq 1 again
    `[host     1.005] [    2.300000][   T58] ${recs[1]!.replace('1..1', '1..12')}`, // damaged: 5 characters, not 4
    `[host     1.006] [    2.400000][   T58] ${recs[2]}`,
  ];
  const d = decodeConsole(`${lines.join('\n')}\n`, NONCE);
  t.is(d.ktap, 'KTAP version 1\nok 1 smoke\n', 'only what came whole, in order, under this nonce');
  t.is(d.records, 2);
  t.is(d.problems.length, 2);
  t.regex(d.problems[0]!, /line 5: k record 1 again/);
  t.regex(d.problems[1]!, /line 6: k record 2 is 5 characters, not 4: dropped/);
  const gap = decodeConsole(`${recs[0]}\n${recs[2]}\n`, NONCE);
  t.deepEqual(gap.problems, ['k records 2..2 never arrived']);
});

test('a LAVA job log: console lines (target and feedback) with their times, LAVA\'s verdict on the job with its error type', (t) => {
  const log = [
    '{"dt": "2026-12-04T16:39:24.100000", "lvl": "info", "msg": "start: 1 deployimages"}',
    `{"dt": "2026-12-04T16:39:25.000000", "lvl": "target", "msg": "[    0.000000][    T0] Linux version ${KVER}"}`,
    '- {"dt": "2026-12-04T16:39:27.500000", "lvl": "feedback", "msg": "reboot: Restarting system"}',
    '{"dt": "2026-12-04T16:39:28.000000", "lvl": "results", "msg": {"case": "smoke_boots_to_agent", "definition": "kernel-lab", "result": "pass"}}',
    '{"dt": "2026-12-04T16:39:28.100000", "lvl": "results", "msg": {"case": "job", "definition": "lava", "error_msg": "lava-test-monitor timed out after 480 seconds", "error_type": "Test", "result": "fail"}}',
  ].join('\n');
  const l = parseLavaLog(log, 'job.log');
  t.is(l.target.length, 2);
  t.is(l.results.length, 2);
  t.deepEqual(l.job, { result: 'fail', errorType: 'Test', errorMsg: 'lava-test-monitor timed out after 480 seconds' });
  t.is(consoleLog(l.target), `[host     0.000] [    0.000000][    T0] Linux version ${KVER}\n[host     2.500] reboot: Restarting system\n`);
  t.throws(() => parseLavaLog('just text\n', 'x.log'), { message: /x\.log holds no LAVA log entries/ });
});

const input: LavaJobInput = {
  name: `kernel-lab none (${KVER}): smoke`,
  runId: 'r',
  kernelUrl: 'https://artifacts.example.org/kl/r/bzImage',
  kernelSha256: 'a'.repeat(64),
  initrdUrl: 'https://artifacts.example.org/kl/r/initramfs.cpio',
  initrdSha256: 'b'.repeat(64),
  scratchUrl: 'https://artifacts.example.org/kl/r/scratch.img.gz',
  scratchSha256: 'c'.repeat(64),
  cmdline: ['console=ttyS0,115200', ...consoleModeCmdline(NONCE)],
  noKvm: true,
  memoryMiB: 2048,
  cpus: 2,
  bootS: 240,
  testS: 480,
  metadata: { 'kernel-lab.run-id': 'r' },
};

test('the job: the console-mode switch on the kernel command line, each timeout inside the job\'s, KVM only when asked, the same CPUs in job and device', (t) => {
  const job = lavaJob(input) as { timeouts: Record<string, { seconds: number } | Record<string, { seconds: number }>>; context: { extra_options: string[]; no_kvm: boolean }; actions: Record<string, any>[] };
  const deploy = job.actions[0]!.deploy;
  t.regex(deploy.images.kernel.image_arg, new RegExp(`-append ".*kl\\.console=${NONCE} printk\\.devkmsg=on"$`));
  const jobS = (job.timeouts.job as { seconds: number }).seconds;
  for (const a of job.actions) t.true(Object.values(a)[0].timeout.seconds <= jobS);
  t.is(jobS, 600 + 240 + 480 + 300);
  t.deepEqual(job.context.extra_options, ['-machine q35', '-cpu max', '-smp 2', '-no-reboot', '-device virtio-rng-pci']);
  const kvm = lavaJob({ ...input, noKvm: false }) as { context: { extra_options: string[]; no_kvm: boolean } };
  t.false(kvm.context.no_kvm);
  t.false(kvm.context.extra_options.some((o) => o.startsWith('-cpu')), 'on KVM the device type\'s -cpu host stands');
  const dev = lavaDevice(input) as { actions: { boot: { methods: { qemu: { parameters: { options: string[]; extra: string[] } } } } } };
  t.deepEqual(dev.actions.boot.methods.qemu.parameters.extra, job.context.extra_options);
  t.false(dev.actions.boot.methods.qemu.parameters.options.includes('-enable-kvm'));
  t.is(job.actions[2]!.test.monitors[0].end, LAVA_MARKS.end);
});

test('import-lava bad input: one line, exit 2, no run directory (no such path, no job log, no export.json, not an export, not a LAVA log)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-import-bad-'));
  try {
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    const lone = path.join(dir, 'lone');
    fs.mkdirSync(lone);
    fs.writeFileSync(path.join(lone, 'job.log'), '{"dt": "2026-12-04T16:39:25.000000", "lvl": "target", "msg": "x"}\n');
    const bogus = path.join(dir, 'bogus');
    fs.mkdirSync(bogus);
    fs.writeFileSync(path.join(bogus, 'export.json'), '{"format": "something else"}\n');
    fs.writeFileSync(path.join(bogus, 'job.log'), '{"dt": "2026-12-04T16:39:25.000000", "lvl": "target", "msg": "x"}\n');
    const text = path.join(dir, 'text');
    fs.mkdirSync(text);
    fs.writeFileSync(path.join(text, 'export.json'), JSON.stringify({ format: 'kernel-lab-lava-export/1', nonce: 'ab' }));
    fs.writeFileSync(path.join(text, 'job.log'), 'Job finished correctly\n');
    const cases: [string[], RegExp][] = [
      [['import-lava', path.join(dir, 'nosuch')], /import-lava: .*nosuch: no such file or directory/],
      [['import-lava', empty], /has no job log \(job\.log/],
      [['import-lava', lone], /no export\.json beside .*job\.log or its parent/],
      [['import-lava', bogus], /export\.json is not an export-lava record/],
      [['import-lava', text], /job\.log holds no LAVA log entries/],
      [['import-lava'], /import-lava: missing required argument 'input'/],
    ];
    for (const [args, re] of cases) {
      const r = await lab(args);
      t.is(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
      t.is(errorLines(r.stderr).length, 1, r.stderr);
      t.regex(errorLines(r.stderr)[0]!, re);
      t.is(r.dir, null, 'no run directory');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
