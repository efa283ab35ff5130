// --remote: the guest boots on another machine over SSH. The other machine is this one,
// through a real sshd on 127.0.0.1 (own config, host key and authorized_keys in a temp dir).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa, type ResultPromise } from 'execa';
import { repoRoot } from '../../harness/paths.ts';
import { errorLines, lab } from './helpers.ts';

interface Sshd {
  port: number;
  dir: string;
  key: string; // the client's private key
  hostKeyPub: string; // "ssh-ed25519 AAAA..."
  proc: ResultPromise;
}

const daemons: Sshd[] = [];

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A real sshd on 127.0.0.1:<free port>, as root with key authentication only. */
async function startSshd(extraConfig: (dir: string) => string = () => '', sftp = 'internal-sftp'): Promise<Sshd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-sshd-'));
  for (const k of ['host_key', 'client_key']) await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `kernel-lab test ${k}`, '-f', path.join(dir, k)]);
  fs.copyFileSync(path.join(dir, 'client_key.pub'), path.join(dir, 'authorized_keys'));
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${dir}/host_key`,
      `PidFile ${dir}/sshd.pid`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no', // the key files live under /tmp, which is world-writable
      `Subsystem sftp ${sftp}`,
      extraConfig(dir),
      '',
    ].join('\n'),
  );
  // sshd started as root insists on its privilege separation directory (normally made by the service).
  if (process.getuid?.() === 0 && !fs.existsSync('/run/sshd')) fs.mkdirSync('/run/sshd', { mode: 0o755 });
  const proc = execa('/usr/sbin/sshd', ['-D', '-f', path.join(dir, 'sshd_config'), '-E', path.join(dir, 'sshd.log')], { reject: false });
  const d: Sshd = { port, dir, key: path.join(dir, 'client_key'), hostKeyPub: fs.readFileSync(path.join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' '), proc };
  daemons.push(d);
  for (let i = 0; i < 100 && !(await listening(port)); i++) {
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!(await listening(port))) throw new Error(`sshd did not start: ${fs.existsSync(path.join(dir, 'sshd.log')) ? fs.readFileSync(path.join(dir, 'sshd.log'), 'utf8') : ''}`);
  return d;
}

test.after.always(async () => {
  for (const d of daemons) {
    d.proc.kill('SIGTERM');
    await d.proc;
    fs.rmSync(d.dir, { recursive: true, force: true });
  }
});

/** The remote scratch directory a run logged ("uploaded ... to root@127.0.0.1:<port>:<dir> in"). */
function scratchDir(stderr: string): string | null {
  return /uploaded .* to \S+@127\.0\.0\.1:\d+:(\/\S+) in /.exec(stderr)?.[1] ?? null;
}

/** Processes whose command line mentions s (the remote QEMU's command line names its scratch dir). */
function processesMentioning(s: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(s)) out.push(`${pid}: ${cmd.slice(0, 120)}`);
    } catch {}
  }
  return out;
}

async function gone(dir: string, ms = 20_000): Promise<string[]> {
  const t0 = Date.now();
  let left = processesMentioning(dir);
  while (left.length > 0 && Date.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, 250));
    left = processesMentioning(dir);
  }
  return left;
}

let sshd: Sshd;
let knownHosts: string;
test.before(async () => {
  // These tests name their remote themselves.
  for (const v of ['KL_REMOTE', 'KL_REMOTE_KEY']) delete process.env[v];
  sshd = await startSshd();
  // The host is listed with its real key: the run must present (and match) it.
  knownHosts = path.join(sshd.dir, 'known_hosts');
  fs.writeFileSync(knownHosts, `# kernel-lab test\n[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
  process.env.KL_REMOTE_KNOWN_HOSTS = knownHosts;
});

const remoteArgs = () => ['--remote', `root@127.0.0.1:${sshd.port}`, '--remote-key', sshd.key];

test.serial('smoke on a remote host over SSH passes, and the run record says where it ran', async (t) => {
  const r = await lab(['--patch', 'none', '--suite', 'smoke', ...remoteArgs()]);
  t.is(r.exitCode, 0, `${r.stdout}\n${r.stderr.split('\n').slice(-25).join('\n')}`);
  const run = r.run!;
  t.is(run.status, 'pass');
  t.is(run.remote?.target, `root@127.0.0.1:${sshd.port}`);
  t.true(['kvm', 'tcg'].includes(run.remote!.accel!));
  t.is(run.remote!.accel, run.accel);
  t.regex(run.remote!.qemu, /QEMU emulator version/);
  t.true(run.remote!.knownHost, 'the host key matched known_hosts');
  t.true(run.tests.length > 0 && run.tests.every((x) => x.status === 'pass' || x.status === 'skip'), run.tests.map((x) => `${x.suite}/${x.name}:${x.status}`).join(', '));
  t.true(run.tests.some((x) => x.name === 'io_uring_probe_reports_opcodes' && x.status === 'pass'));
  t.regex(fs.readFileSync(path.join(r.dir!, 'summary.md'), 'utf8'), new RegExp(`guest host: root@127\\.0\\.0\\.1:${sshd.port} over SSH \\(accel (kvm|tcg)`));
  // The streams came back: KTAP for the tests, status with the agent's "done", the console with host timestamps.
  t.regex(fs.readFileSync(path.join(r.dir!, 'status.raw'), 'utf8'), /^done 0/m);
  t.regex(fs.readFileSync(path.join(r.dir!, 'results.ktap'), 'utf8'), /^ok \d+ /m);
  t.regex(fs.readFileSync(path.join(r.dir!, 'console.log'), 'utf8'), /^\[host\s+\d+\.\d+\] .*Linux version 6\.12/m);
  const dir = scratchDir(r.stderr);
  t.truthy(dir, 'the run logged its remote scratch directory');
  t.false(fs.existsSync(dir!), 'the remote scratch directory was removed');
  t.deepEqual(processesMentioning(dir!), [], 'no remote QEMU left');
  t.log(`remote smoke run: ${r.seconds.toFixed(1)} s (accel ${run.accel})`);
});

test.serial('the remote keeps kernels and images in its cache: booting them again uploads only the job archive', async (t) => {
  // The smoke run above put this bzImage and initramfs in the remote's cache.
  const r = await lab(['--patch', 'none', '--suite', 'smoke', ...remoteArgs()]);
  t.is(r.exitCode, 0, r.stdout);
  const line = /uploaded (.*) \(([\d.]+) MiB\) to .*; (.*) from its cache (\/\S+)/.exec(r.stderr);
  t.truthy(line, r.stderr.split('\n').filter((l) => l.includes('uploaded')).join('\n'));
  t.is(line![1], 'job archive');
  t.true(Number(line![2]) < 1, `uploaded ${line![2]} MiB`);
  t.is(line![3], 'bzImage and initramfs');
  const cached = fs.readdirSync(line![4]!);
  t.true(cached.some((f) => f.endsWith('-bzImage')) && !cached.some((f) => f.endsWith('.part')), cached.join(', '));
});

test.serial('the run\'s time limit kills the remote QEMU and removes its scratch directory', async (t) => {
  const r = await lab(['--patch', 'none', '--exec', 'sleep 100000', '--timeout', '30', ...remoteArgs()]);
  t.is(r.exitCode, 3, r.stdout);
  t.is(r.run!.status, 'timeout');
  t.true(r.seconds < 120, `took ${r.seconds} s`);
  const dir = scratchDir(r.stderr)!;
  t.truthy(dir);
  t.deepEqual(await gone(dir), [], 'no remote QEMU left');
  t.false(fs.existsSync(dir), 'scratch directory removed');
});

/** Start a remote run of a guest command that never ends; resolves once the guest runs it. */
async function startHangingRun(t: { log: (s: string) => void }, remote = remoteArgs(), env: Record<string, string> = {}) {
  const results = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-results-'));
  const proc = execa('node', [path.join(repoRoot, 'scripts', 'lab.mjs'), '--patch', 'none', '--exec', 'sleep 1000', '--results', results, ...remote], { reject: false, cwd: repoRoot, env });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const started = Date.now();
  while (Date.now() - started < 180_000) {
    const con = path.join(results, 'latest', 'console.log');
    if (fs.existsSync(con) && fs.readFileSync(con, 'utf8').includes('kl: test-start exec/command')) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const dir = scratchDir(stderr);
  t.log(`remote scratch dir ${dir}, after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { proc, results, dir };
}

test.serial('SIGINT stops the remote QEMU, removes its scratch directory, keeps the results as incomplete and exits 3', async (t) => {
  const { proc, results, dir } = await startHangingRun(t);
  t.truthy(dir);
  t.true(processesMentioning(dir!).length > 0, 'the remote QEMU was running');
  proc.kill('SIGINT');
  const r = await proc;
  t.is(r.exitCode, 3, String(r.stderr));
  const run = JSON.parse(fs.readFileSync(path.join(results, 'latest', 'run.json'), 'utf8'));
  t.is(run.status, 'incomplete');
  t.is(run.remote.target, `root@127.0.0.1:${sshd.port}`);
  t.deepEqual(await gone(dir!), [], 'no remote QEMU left');
  t.false(fs.existsSync(dir!), 'scratch directory removed');
});

test.serial('a harness killed outright (SIGKILL) still takes the remote QEMU with it', async (t) => {
  const { proc, dir } = await startHangingRun(t);
  t.truthy(dir);
  t.true(processesMentioning(dir!).length > 0, 'the remote QEMU was running');
  proc.kill('SIGKILL');
  await proc;
  // Nothing of ours ran to clean up: the session's end (the TCP connection closing) must kill QEMU.
  t.deepEqual(await gone(dir!), [], 'no remote QEMU left');
  fs.rmSync(dir!, { recursive: true, force: true }); // only the files can remain, by design
});

/** Processes below pid (children, grandchildren...) whose executable is named comm. */
function descendants(pid: number, comm: string): number[] {
  const parent = new Map<number, number>();
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      parent.set(Number(p), Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))![1]));
    } catch {}
  }
  const below = (p: number): boolean => {
    for (let q = parent.get(p); q !== undefined && q > 1; q = parent.get(q)) if (q === pid) return true;
    return false;
  };
  return [...parent.keys()].filter((p) => {
    try {
      return below(p) && fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm;
    } catch {
      return false;
    }
  });
}

test.serial('an SFTP server that stops answering mid-run: the watchdog still fires, exit 3 naming the stuck read, no QEMU left', async (t) => {
  // A host whose sftp-server is a process of its own (the usual setup), so it alone can be frozen.
  const d = await startSshd(() => '', '/usr/lib/openssh/sftp-server');
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${d.port} ${d.hostKeyPub}\n`, { flag: 'a' });
  const { proc, results, dir } = await startHangingRun(t, ['--remote', `root@127.0.0.1:${d.port}`, '--remote-key', d.key], { KL_STREAM_STUCK_S: '10' });
  t.truthy(dir);
  t.true(processesMentioning(dir!).length > 0, 'the remote QEMU was running');
  const frozen = descendants(d.proc.pid!, 'sftp-server');
  t.is(frozen.length, 1, 'one SFTP server for the run');
  for (const p of frozen) process.kill(p, 'SIGSTOP');
  const t0 = Date.now();
  try {
    const r = await proc;
    const secs = (Date.now() - t0) / 1000;
    t.is(r.exitCode, 3, String(r.stderr));
    const lines = errorLines(String(r.stderr));
    t.is(lines.length, 1, String(r.stderr));
    t.regex(lines[0]!, new RegExp(`infrastructure error: could not read the guest's result streams on root@127\\.0\\.0\\.1:${d.port}: a read has not returned for \\d+ s`));
    // 10 s stuck + the kill, far from the 1000 s the guest command would take or any test timeout
    t.true(secs < 90, `ended ${secs.toFixed(0)} s after the SFTP server froze`);
    const run = JSON.parse(fs.readFileSync(path.join(results, 'latest', 'run.json'), 'utf8'));
    t.is(run.status, 'error', 'the lab\'s fault, not a timeout of the test');
    t.deepEqual(await gone(dir!), [], 'no remote QEMU left');
  } finally {
    for (const p of frozen) {
      try {
        process.kill(p, 'SIGKILL');
        process.kill(p, 'SIGCONT');
      } catch {}
    }
    fs.rmSync(dir!, { recursive: true, force: true });
  }
});

test.serial('a remote that refuses the connection: exit 3, one clear line, nothing created', async (t) => {
  const port = await freePort();
  const r = await lab(['--patch', 'none', '--suite', 'smoke', '--remote', `root@127.0.0.1:${port}`, '--remote-key', sshd.key]);
  t.is(r.exitCode, 3, r.stderr);
  t.deepEqual(errorLines(r.stderr).length, 1, r.stderr);
  t.regex(errorLines(r.stderr)[0]!, new RegExp(`infrastructure error: cannot connect to root@127\\.0\\.0\\.1:${port}: connection refused`));
  t.is(r.dir, null, 'no run directory: the host is checked before anything is built');
  t.true(r.seconds < 60, `took ${r.seconds} s`);
});

test.serial('a host key that does not match known_hosts is refused (exit 3)', async (t) => {
  const other = fs.readFileSync(path.join(sshd.dir, 'client_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  const file = path.join(sshd.dir, 'known_hosts.wrong');
  fs.writeFileSync(file, `[127.0.0.1]:${sshd.port} ${other}\n`);
  process.env.KL_REMOTE_KNOWN_HOSTS = file;
  try {
    const r = await lab(['--patch', 'none', '--suite', 'smoke', ...remoteArgs()]);
    t.is(r.exitCode, 3, r.stderr);
    t.regex(errorLines(r.stderr)[0]!, /host key SHA256:\S+ does not match .*known_hosts\.wrong \(possible man-in-the-middle\)/);
    t.is(r.dir, null);
  } finally {
    process.env.KL_REMOTE_KNOWN_HOSTS = knownHosts;
  }
});

test.serial('a remote without qemu-system-x86_64: exit 3 naming it', async (t) => {
  // Every command runs with a PATH holding only sh and cat.
  const bare = await startSshd((dir) => {
    fs.mkdirSync(path.join(dir, 'bin'));
    for (const tool of ['sh', 'cat']) fs.symlinkSync(fs.realpathSync(`/bin/${tool}`), path.join(dir, 'bin', tool));
    return `ForceCommand PATH=${dir}/bin exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"`;
  });
  const r = await lab(['--patch', 'none', '--suite', 'smoke', '--remote', `root@127.0.0.1:${bare.port}`, '--remote-key', bare.key]);
  t.is(r.exitCode, 3, r.stderr);
  t.is(errorLines(r.stderr).length, 1, r.stderr);
  t.regex(errorLines(r.stderr)[0]!, new RegExp(`root@127\\.0\\.0\\.1:${bare.port} has no qemu-system-x86_64 on its PATH`));
  t.is(r.dir, null);
});

test('bad --remote input exits 2 with one line and creates nothing', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--remote', 'root@'], /--remote 'root@' is not user@host\[:port\]/],
    [['--remote', '127.0.0.1:22'], /--remote '127\.0\.0\.1:22' is not user@host\[:port\]/],
    [['--remote', 'root@host:0'], /is not user@host\[:port\]/],
    [['--remote', 'root@127.0.0.1', '--remote-key', '/no/such/key'], /--remote-key \/no\/such\/key: cannot read it \(ENOENT\)/],
    [['--remote', 'root@127.0.0.1', '--remote-key', path.join(repoRoot, 'package.json')], /not a usable private key/],
    [['--remote-key', '/no/such/key'], /--remote-key needs --remote/],
  ];
  for (const [args, re] of cases) {
    const r = await lab(['--patch', 'none', '--suite', 'smoke', ...args]);
    t.is(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
    t.is(errorLines(r.stderr).length, 1, `${args.join(' ')}: one line`);
    t.regex(errorLines(r.stderr)[0]!, re);
    t.is(r.dir, null, 'no run directory');
  }
});
