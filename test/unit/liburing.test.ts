// suites/liburing/lu-run.sh: liburing's runner rules (runtests.sh) in the lab's exit codes,
// run here on the host with small stand-in programs (the real ones run in the guest:
// test/integration/liburing.test.ts).
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

// fetch.mjs against a file:// mirror made from the cached package (make deps fetched it):
// no network, the real files and checks.
const pinned = JSON.parse(fs.readFileSync(path.join(paths.suites, 'liburing', 'source.json'), 'utf8')) as { package: string; version: string; files: Record<string, string> };
const cachedPkg = path.join(paths.cacheRoot, 'upstream', `${pinned.package}_${pinned.version}`);

async function fetchWith(mutate: (mirror: string) => void) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-fetch-'));
  const suite = path.join(root, 'suite');
  const mirror = path.join(root, 'mirror');
  fs.mkdirSync(suite);
  fs.mkdirSync(path.join(mirror, 'pool'), { recursive: true });
  fs.copyFileSync(path.join(paths.suites, 'liburing', 'fetch.mjs'), path.join(suite, 'fetch.mjs'));
  for (const f of Object.keys(pinned.files)) fs.copyFileSync(path.join(cachedPkg, f), path.join(mirror, 'pool', f));
  fs.writeFileSync(path.join(suite, 'source.json'), JSON.stringify({ ...pinned, pool: 'pool', mirrors: [`file://${mirror}`] }));
  mutate(path.join(mirror, 'pool'));
  const cache = path.join(root, 'cache');
  const r = await execa(process.execPath, [path.join(suite, 'fetch.mjs')], { reject: false, env: { KERNEL_LAB_CACHE: cache } });
  return { root, cache, rc: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

test('fetch.mjs: checks every sha256, unpacks with Debian patches, then serves the cache', async (t) => {
  if (!fs.existsSync(path.join(cachedPkg, 'tree', '.kl-unpacked'))) return t.fail(`${cachedPkg} missing: run \`make deps\``);
  const ok = await fetchWith(() => {});
  t.is(ok.rc, 0, ok.stderr);
  const tree = ok.stdout.trim();
  t.is(tree, path.join(ok.cache, 'upstream', `${pinned.package}_${pinned.version}`, 'tree'));
  t.true(fs.existsSync(path.join(tree, 'test', 'runtests.sh')));
  t.regex(fs.readFileSync(path.join(tree, 'debian', 'changelog'), 'utf8'), new RegExp(`^liburing \\(${pinned.version}\\)`));
  // A second call neither fetches nor unpacks (the mirror is gone).
  const again = await execa(process.execPath, [path.join(ok.root, 'suite', 'fetch.mjs')], { reject: false, env: { KERNEL_LAB_CACHE: ok.cache } });
  fs.rmSync(path.join(ok.root, 'mirror'), { recursive: true, force: true });
  t.is(again.exitCode, 0);
  t.is(String(again.stdout).trim(), tree);
  fs.rmSync(ok.root, { recursive: true, force: true });
});

test('fetch.mjs: a file whose sha256 is not the pin is refused, in one line, exit 3', async (t) => {
  if (!fs.existsSync(path.join(cachedPkg, 'tree', '.kl-unpacked'))) return t.fail(`${cachedPkg} missing: run \`make deps\``);
  const orig = Object.keys(pinned.files).find((f) => f.includes('.orig.'))!;
  const bad = await fetchWith((pool) => fs.appendFileSync(path.join(pool, orig), 'tampered'));
  t.is(bad.rc, 3);
  t.regex(bad.stderr, new RegExp(`^liburing fetch: error: liburing ${pinned.version}: could not fetch ${orig.replace(/[.]/g, '\\.')}: file://\\S+: sha256 [0-9a-f]{64}, pinned ${pinned.files[orig]}$`));
  t.false(fs.existsSync(path.join(bad.cache, 'upstream', `${pinned.package}_${pinned.version}`, 'tree')), 'nothing unpacked');
  fs.rmSync(bad.root, { recursive: true, force: true });
});
