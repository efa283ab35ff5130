// suites/liburing/lu-run.sh: liburing's runner rules (runtests.sh) in the lab's exit codes,
// run here on the host with small stand-in programs (the real ones run in the guest:
// test/integration/liburing.test.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { loadSuite } from '../../harness/catalog.ts';
import { paths } from '../../harness/paths.ts';

const wrapper = path.join(paths.suites, 'liburing', 'lu-run.sh');

async function runWrapped(body: string, args: string[] = [], env: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-lu-'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-lu-tmp-'));
  fs.copyFileSync(wrapper, path.join(dir, 'lu-run.sh'));
  fs.chmodSync(path.join(dir, 'lu-run.sh'), 0o755);
  fs.writeFileSync(path.join(dir, 'probe.t'), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'exec-target.t'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  // LU_DISK: no disk to format here; the test runs in KL_TMP as it would without one.
  const r = await execa(path.join(dir, 'lu-run.sh'), ['probe', ...args], { reject: false, env: { KL_TMP: tmp, KL_SCALE: '1', LU_DISK: '/nonexistent', ...env } });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
  return { rc: r.exitCode, out: String(r.stdout) };
}

test('exit 0 passes, with the test output passed through', async (t) => {
  const r = await runWrapped('echo hello; exit 0');
  t.is(r.rc, 0);
  t.is(r.out, 'hello');
});

test("exit 77 (liburing's T_EXIT_SKIP) is the lab's skip (4), its last line the reason", async (t) => {
  const r = await runWrapped('echo "Skipping, no nvme device" >&2; echo; exit 77');
  t.is(r.rc, 4);
  t.regex(r.out, /^SKIP: Skipping, no nvme device$/m);
  const silent = await runWrapped('exit 77');
  t.is(silent.rc, 4);
  t.regex(silent.out, /^SKIP: liburing test skipped \(exit 77\)$/m);
});

test('any other exit fails with the code and the last line; a signal too', async (t) => {
  const r = await runWrapped('echo "cqe error: -95"; exit 1');
  t.is(r.rc, 1);
  t.regex(r.out, /^FAIL: exit 1: cqe error: -95$/m);
  const abort = await runWrapped('kill -ABRT $$');
  t.is(abort.rc, 1);
  t.regex(abort.out, /^FAIL: exit 134/m);
});

test("runtests.sh's timeout: SIGINT after TIMEOUT, reported as a timeout failure", async (t) => {
  const r = await runWrapped('trap "exit 130" INT; sleep 30 & wait', [], { LU_TIMEOUT_S: '1' });
  t.is(r.rc, 1);
  t.regex(r.out, /^FAIL: timed out after 1s \(liburing runtests\.sh: may not be a failure\)$/m);
});

test('the test runs in its own directory with exec-target.t beside it, and gets its arguments', async (t) => {
  const r = await runWrapped('test -x ./exec-target.t || exit 1; echo "args: $*"; exit 0', ['/dev/nvme0n1']);
  t.is(r.rc, 0, r.out);
  t.is(r.out, 'args: /dev/nvme0n1');
});

test('an unknown test is a failure naming it, not a skip', async (t) => {
  const r = await execa(wrapper, ['no-such-test'], { reject: false, env: { KL_TMP: os.tmpdir(), LU_DISK: '/nonexistent' } });
  t.is(r.exitCode, 2);
  t.regex(String(r.stdout), /^FAIL: .*no-such-test\.t is not in the image$/m);
});

test('liburing-quick runs only programs of the liburing suite, through its runner', (t) => {
  const full = new Set(loadSuite('liburing').tests.map((x) => x.name));
  const quick = loadSuite('liburing-quick');
  t.true(quick.tests.length >= 5);
  for (const x of quick.tests) {
    t.true(full.has(x.name), `${x.name} is a liburing test`);
    t.is(x.cmd, `$KL_SUITES/liburing/lu-run.sh ${x.name}`);
  }
});

// fetch.mjs on a small source package built here (dpkg-source -b), served from a file://
// mirror: the real script and checks, no network, whatever the cache holds.
async function sourcePackage(dir: string): Promise<Record<string, string>> {
  const src = path.join(dir, 'kltest-1.0');
  fs.mkdirSync(path.join(src, 'debian', 'source'), { recursive: true });
  fs.mkdirSync(path.join(src, 'test'));
  fs.writeFileSync(path.join(src, 'debian', 'source', 'format'), '3.0 (native)\n');
  fs.writeFileSync(path.join(src, 'debian', 'control'), 'Source: kltest\nMaintainer: Lab <lab@example.org>\nStandards-Version: 4.6.2\n\nPackage: kltest\nArchitecture: all\nDescription: test\n test\n');
  fs.writeFileSync(path.join(src, 'debian', 'changelog'), 'kltest (1.0) unstable; urgency=low\n\n  * test\n\n -- Lab <lab@example.org>  Thu, 01 Jan 2026 00:00:00 +0000\n');
  fs.writeFileSync(path.join(src, 'test', 'runtests.sh'), '#!/bin/sh\n');
  await execa('dpkg-source', ['-b', 'kltest-1.0'], { cwd: dir });
  const files: Record<string, string> = {};
  for (const f of ['kltest_1.0.dsc', 'kltest_1.0.tar.xz']) files[f] = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex');
  return files;
}

async function fetchWith(mutate: (pool: string) => void) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-fetch-'));
  const suite = path.join(root, 'suite');
  const pool = path.join(root, 'mirror', 'pool');
  fs.mkdirSync(suite);
  fs.mkdirSync(pool, { recursive: true });
  fs.copyFileSync(path.join(paths.suites, 'liburing', 'fetch.mjs'), path.join(suite, 'fetch.mjs'));
  const files = await sourcePackage(pool);
  mutate(pool);
  fs.writeFileSync(path.join(suite, 'source.json'), JSON.stringify({ package: 'kltest', version: '1.0', pool: 'pool', mirrors: [`file://${path.join(root, 'mirror')}`], files }));
  const cache = path.join(root, 'cache');
  const r = await execa(process.execPath, [path.join(suite, 'fetch.mjs')], { reject: false, env: { KERNEL_LAB_CACHE: cache } });
  return { root, cache, files, rc: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

test('fetch.mjs: checks every sha256, unpacks with dpkg-source, then serves the cache', async (t) => {
  const ok = await fetchWith(() => {});
  t.is(ok.rc, 0, ok.stderr);
  const tree = ok.stdout.trim();
  t.is(tree, path.join(ok.cache, 'upstream', 'kltest_1.0', 'tree'));
  t.true(fs.existsSync(path.join(tree, 'test', 'runtests.sh')));
  // A second call neither fetches nor unpacks (the mirror is gone).
  fs.rmSync(path.join(ok.root, 'mirror'), { recursive: true, force: true });
  const again = await execa(process.execPath, [path.join(ok.root, 'suite', 'fetch.mjs')], { reject: false, env: { KERNEL_LAB_CACHE: ok.cache } });
  t.is(again.exitCode, 0, String(again.stderr));
  t.is(String(again.stdout).trim(), tree);
  fs.rmSync(ok.root, { recursive: true, force: true });
});

test('fetch.mjs: a file whose sha256 is not the pin is refused, in one line, exit 3', async (t) => {
  const bad = await fetchWith((pool) => fs.appendFileSync(path.join(pool, 'kltest_1.0.tar.xz'), 'tampered'));
  t.is(bad.rc, 3);
  t.regex(bad.stderr, new RegExp(`^liburing fetch: error: kltest 1\\.0: could not fetch kltest_1\\.0\\.tar\\.xz: file://\\S+: sha256 [0-9a-f]{64}, pinned ${bad.files['kltest_1.0.tar.xz']}$`));
  t.false(fs.existsSync(path.join(bad.cache, 'upstream', 'kltest_1.0', 'tree')), 'nothing unpacked');
  fs.rmSync(bad.root, { recursive: true, force: true });
});

test('the liburing pin names a .dsc and the files it lists', (t) => {
  const pin = JSON.parse(fs.readFileSync(path.join(paths.suites, 'liburing', 'source.json'), 'utf8')) as { version: string; files: Record<string, string> };
  t.deepEqual(Object.keys(pin.files).sort(), [`liburing_${pin.version}.debian.tar.xz`, `liburing_${pin.version}.dsc`, `liburing_${pin.version.split('-')[0]}.orig.tar.gz`]);
  for (const sum of Object.values(pin.files)) t.regex(sum, /^[0-9a-f]{64}$/);
});
