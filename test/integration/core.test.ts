// The lab core end to end on the unpatched base: a real kernel built and booted in QEMU.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { DEFAULT_PIN_FILE, readPin, upstreamVersion } from '../../harness/base.ts';
import { errorLines, lab } from './helpers.ts';

test.serial('base kernel: smoke and uring pass, every result file is written', async (t) => {
  const r = await lab(['--patch', 'none', '--suite', 'smoke,uring']);
  t.is(r.exitCode, 0, `${r.stdout}\n${r.stderr.split('\n').slice(-20).join('\n')}`);
  const run = r.run!;
  t.is(run.status, 'pass');
  // The pinned base, fetched by the lab (never what /usr/src happens to hold).
  const pin = readPin(DEFAULT_PIN_FILE);
  t.is(run.kernel!.version, upstreamVersion(pin.version));
  t.like(run.base!.debian!, { package: pin.package, version: pin.version, sha256: pin.sha256, pinned: true, asked: 'pin' });
  t.regex(fs.readFileSync(path.join(r.dir!, 'summary.md'), 'utf8'), new RegExp(`base: ${pin.package} ${pin.version.replace(/[.+~]/g, '\\$&')}, sha256 ${pin.sha256}; the pinned base`));
  t.deepEqual(run.kernel!.patches, []);
  const names = run.tests.map((x) => `${x.suite}/${x.name}:${x.status}`);
  for (const want of ['smoke/io_uring_probe_reports_opcodes', 'smoke/ublk_control_present', 'uring/fixed_file_short_buffered_read_completes', 'uring/link_short_read_cancels_successor', 'uring/hardlink_short_read_runs_successor', 'uring/ublk_ctrl_add_start_stop_delete']) {
    t.true(names.includes(`${want}:pass`), `${want} passed (got ${names.join(', ')})`);
  }
  for (const f of ['run.json', 'results.ktap', 'junit.xml', 'console.log', 'build.log', 'config', 'metadata.json', 'summary.md']) {
    t.true(fs.existsSync(path.join(r.dir!, f)), `${f} written`);
  }
  t.true(fs.existsSync(path.join(r.dir!, 'kmsg', 'uring__ublk_ctrl_add_start_stop_delete.log')), 'per-test kernel messages');
  const meta = JSON.parse(fs.readFileSync(path.join(r.dir!, 'metadata.json'), 'utf8'));
  // the out dir it was built in: the base's own, or a --clean one (test/integration/loop.test.ts)
  t.regex(meta.reproducer.join('\n'), /make O=kl-out-(clean-default|default-[0-9a-f]{8}) ARCH=x86_64/);
  t.regex(fs.readFileSync(path.join(r.dir!, 'console.log'), 'utf8'), /^\[host\s+\d+\.\d+\] /m, 'console lines carry host timestamps');
});

test.serial('a second run with the same inputs reuses config, kernel and image: only the boot runs', async (t) => {
  const r = await lab(['--patch', 'none', '--suite', 'smoke,uring']);
  t.is(r.exitCode, 0);
  t.true(r.run!.kernel!.configCached, 'config from the cache');
  t.true(r.run!.kernel!.cached, 'kernel not rebuilt');
  // Checked from the commands the run recorded: no merge_config, no make, no compiler.
  // run.json holds each command as one line
  const ran = (r.run!.commands as unknown[]).map((c) => (Array.isArray(c) ? c.join(' ') : String(c)));
  t.deepEqual(ran.filter((c) => /merge_config|^make\b|\bmake |gcc|\bcc\b|clang/.test(c)), [], ran.join('\n'));
  t.true(ran.some((c) => c.startsWith('qemu-system-x86_64')), 'the guest booted');
  t.log(`warm command-to-verdict: ${r.seconds.toFixed(1)} s (accel ${r.run!.accel})`);
  t.true(r.seconds < 90, `warm run took ${r.seconds} s`);
});

test.serial('lkdtm BUG: exit 1, a BUG report charged to the command', async (t) => {
  const r = await lab(['--patch', 'none', '--exec', 'echo BUG > /sys/kernel/debug/provoke-crash/DIRECT']);
  t.is(r.exitCode, 1, r.stdout);
  t.is(r.run!.status, 'crash');
  const bug = r.run!.crashes.find((c) => c.type === 'BUG');
  t.truthy(bug, JSON.stringify(r.run!.crashes));
  t.is(bug!.title, 'kernel BUG in lkdtm_BUG');
  t.is(bug!.test, 'exec/command');
});

test.serial('lkdtm PANIC: the guest dies, the run ends with a fatal panic report, not a hang', async (t) => {
  const r = await lab(['--patch', 'none', '--exec', 'echo PANIC > /sys/kernel/debug/provoke-crash/DIRECT']);
  t.is(r.exitCode, 1, r.stdout);
  t.is(r.run!.status, 'crash');
  t.true(r.run!.crashes.some((c) => c.type === 'panic' && c.fatal), JSON.stringify(r.run!.crashes.map((c) => c.title)));
});

test.serial('a hanging guest command ends in timeout (exit 3) well within 2 minutes', async (t) => {
  const r = await lab(['--patch', 'none', '--exec', 'sleep 100000', '--timeout', '60']);
  t.is(r.exitCode, 3, r.stdout);
  t.is(r.run!.status, 'timeout');
  t.true(r.seconds < 120, `took ${r.seconds} s`);
  // The host's post-mortem ran (an NMI over QMP, the guest panicked on it); nothing was stuck
  // in D state, and the panic the host caused is not a kernel report of the run.
  t.like(r.run!.postmortem, { trigger: 'wall-timeout', nmi: true, panicked: true, tasks: [] });
  t.deepEqual(r.run!.crashes, []);
});

test.serial('a task stuck in D state: the host\'s post-mortem names where it sleeps, and the panic it causes is no kernel report', async (t) => {
  // lkdtm HUNG_TASK sleeps uninterruptibly for ever: the agent's SIGKILL cannot end it.
  const r = await lab(['--patch', 'none', '--exec', 'echo HUNG_TASK > /sys/kernel/debug/provoke-crash/DIRECT', '--timeout', '60']);
  t.is(r.exitCode, 3, r.stdout);
  t.is(r.run!.status, 'timeout');
  const pm = r.run!.postmortem!;
  t.like(pm, { trigger: 'wall-timeout', nmi: true, panicked: true });
  const stuck = pm.tasks.find((x) => x.where === 'lkdtm_HUNG_TASK');
  t.truthy(stuck, JSON.stringify(pm.tasks));
  t.is(stuck!.state, 'D');
  t.true(stuck!.frames.indexOf('lkdtm_HUNG_TASK') > stuck!.frames.indexOf('schedule'), stuck!.frames.join(' '));
  t.deepEqual(r.run!.crashes, [], 'the NMI panic is the host\'s doing');
  const summary = fs.readFileSync(path.join(r.dir!, 'summary.md'), 'utf8');
  t.regex(summary, /## Post-mortem of the hang \(wall-timeout\)/);
  t.regex(summary, new RegExp(`\\| ${stuck!.pid} \\| \\S+ \\| lkdtm_HUNG_TASK \\|`));
  t.regex(fs.readFileSync(path.join(r.dir!, 'postmortem.log'), 'utf8'), /Kernel panic - not syncing: NMI: Not continuing/);
});

test.serial('bad input exits 2 with one clear line and builds nothing', async (t) => {
  const dropped = await lab(['--patch', 'none', '--suite', 'smoke', '--config-item', 'CONFIG_RUNTIME_TESTING_MENU=n']);
  t.is(dropped.exitCode, 2);
  t.deepEqual(errorLines(dropped.stderr).length, 1);
  t.regex(errorLines(dropped.stderr)[0]!, /CONFIG_LKDTM=y .* was dropped.*RUNTIME_TESTING_MENU/);

  const unknown = await lab(['--patch', 'no-such-set']);
  t.is(unknown.exitCode, 2);
  t.regex(errorLines(unknown.stderr)[0]!, /unknown patch set 'no-such-set'/);

  const flag = await lab(['--patch', 'none', '--frobnicate']);
  t.is(flag.exitCode, 2);
  t.regex(errorLines(flag.stderr)[0]!, /unknown option '--frobnicate'/);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-badpatch-'));
  fs.writeFileSync(
    path.join(dir, '0001-bad.patch'),
    `From: kernel-lab developers <kernel-lab@example.com>\nSubject: [PATCH] io_uring: a patch for another tree\n\n---\ndiff --git a/io_uring/nop.c b/io_uring/nop.c\n--- a/io_uring/nop.c\n+++ b/io_uring/nop.c\n@@ -1,2 +1,2 @@\n-this line is not in 6.12\n+neither is this one\n context\n`,
  );
  const bad = await lab(['--patch', dir]);
  t.is(bad.exitCode, 2);
  t.is(errorLines(bad.stderr).length, 1);
  t.regex(errorLines(bad.stderr)[0]!, /patch .*0001-bad\.patch \("\[PATCH\] io_uring: a patch for another tree"\) does not apply .*io_uring\/nop\.c/);
  t.is(bad.run?.kernel, undefined, 'nothing built');
});

test.serial('an interrupted run stops QEMU, keeps its results as incomplete and exits 3', async (t) => {
  const { execa } = await import('execa');
  const { repoRoot } = await import('../../harness/paths.ts');
  const results = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-results-'));
  const proc = execa('node', [path.join(repoRoot, 'scripts', 'lab.mjs'), '--patch', 'none', '--exec', 'sleep 1000', '--results', results], { reject: false, cwd: repoRoot });
  // Wait until the guest runs the command, then interrupt as a CI runner would.
  const started = Date.now();
  while (Date.now() - started < 180_000) {
    const con = path.join(results, 'latest', 'console.log');
    if (fs.existsSync(con) && fs.readFileSync(con, 'utf8').includes('kl: test-start exec/command')) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  proc.kill('SIGTERM');
  const r = await proc;
  t.is(r.exitCode, 3, String(r.stderr));
  const run = JSON.parse(fs.readFileSync(path.join(results, 'latest', 'run.json'), 'utf8'));
  t.is(run.status, 'incomplete');
  t.true(fs.existsSync(path.join(results, 'latest', 'console.log')));
});

test.serial('a harness killed with SIGKILL mid-boot leaves no QEMU running', async (t) => {
  const { execa } = await import('execa');
  const { repoRoot } = await import('../../harness/paths.ts');
  const results = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-sigkill-'));
  const proc = execa('node', [path.join(repoRoot, 'scripts', 'lab.mjs'), '--patch', 'none', '--exec', 'sleep 1000', '--results', results], { reject: false, cwd: repoRoot });
  const qemus = () =>
    fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return cmd.startsWith('qemu-system-') || cmd.includes('\0qemu-system-') ? cmd.includes(results) : false;
      } catch {
        return false;
      }
    });
  const started = Date.now();
  while (Date.now() - started < 180_000) {
    const con = path.join(results, 'latest', 'console.log');
    if (fs.existsSync(con) && fs.readFileSync(con, 'utf8').includes('kl: test-start exec/command')) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  t.true(qemus().length > 0, 'QEMU runs the guest command');
  proc.kill('SIGKILL');
  await proc;
  const killedAt = Date.now();
  while (qemus().length > 0 && Date.now() - killedAt < 15_000) await new Promise((r) => setTimeout(r, 250));
  t.deepEqual(qemus(), [], 'no QEMU of this run is left');
});

test.serial('two runs with different --config-item on the same tree at once: each kernel has its own symbol', async (t) => {
  // LOCALVERSION changes few objects, so the second build is incremental in the shared out dir.
  // Values new to this invocation: with kernels already cached neither run would need the
  // tree for long, and the lock would go untested.
  const nonce = crypto.randomBytes(3).toString('hex');
  const versions = [`kla${nonce}`, `klb${nonce}`];
  const runs = await Promise.all(versions.map((v) => lab(['--patch', 'none', '--config-item', `CONFIG_LOCALVERSION="-${v}"`, '--exec', 'uname -r'])));
  for (const [i, v] of versions.entries()) {
    const r = runs[i]!;
    t.is(r.exitCode, 0, r.stderr.split('\n').slice(-10).join('\n'));
    t.regex(r.stdout, new RegExp(`^6\\.12\\.\\d+-${v}\\+?$`, 'm'), `run ${v} booted its own kernel`);
    t.regex(fs.readFileSync(path.join(r.dir!, 'config'), 'utf8'), new RegExp(`^CONFIG_LOCALVERSION="-${v}"$`, 'm'));
  }
  t.not(runs[0]!.run!.kernel!.buildKey, runs[1]!.run!.kernel!.buildKey);
  t.false(runs.some((r) => r.run!.kernel!.cached), 'both kernels were built by these runs');
  t.true(runs.some((r) => /waiting for use-\w+ \(held by pid \d+\)/.test(r.stderr)), 'one run waited for the other');
});
