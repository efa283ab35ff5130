#!/usr/bin/env zx
// The inner loop against its limits, measured in one run on this machine (issue: "the
// developer's inner loop at the speed of make"). Prints min/median/max over N runs of:
//   1. warm no-change run, command to verdict / the guest's own boot-to-poweroff (the limit)
//   2. one-line change in a patch → verdict / (plain incremental make of the same change
//      in the same tree + the same boot)
//   3. (--cold) cold --patch none on an empty cache / plain make -j$(nproc) bzImage of the
//      same .config in a freshly extracted tree
//   4. virtme-ng booting the same kernel, where it is installed
// Timings are noisy: compare the ratios, each measured within the same run.
//   npm run bench:loop [-- --runs N] [--cold | --cold-only]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

$.nothrow = true;
$.verbose = false;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
cd(root);
const args = process.argv.slice(process.argv.findIndex((a) => a.endsWith('bench-loop.mjs')) + 1);
const runsAt = args.indexOf('--runs');
const N = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
const coldOnly = args.includes('--cold-only'); // case 3 alone (it takes about 20 min)
const cold = coldOnly || args.includes('--cold');
const results = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-bench-loop-'));

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
};
const fmt = (xs, unit = '') => {
  const s = stats(xs);
  return `${s.median.toFixed(2)}${unit} (min ${s.min.toFixed(2)}, max ${s.max.toFixed(2)})`;
};

async function lab(argv, env = {}) {
  const t0 = Date.now();
  const p = await $({ env: { ...process.env, ...env } })`npm run -s lab -- ${argv} --results ${results}`;
  const wall = (Date.now() - t0) / 1000;
  const run = JSON.parse(fs.readFileSync(path.join(results, 'latest', 'run.json'), 'utf8'));
  if (p.exitCode !== 0) throw new Error(`lab ${argv.join(' ')}: exit ${p.exitCode}: ${run.reason}`);
  return { wall, run };
}

const rows = [];

const warm = [];
if (!coldOnly) {
  // 1. Nothing changed.
  await lab(['--patch', 'none', '--suite', 'smoke']);

  for (let i = 0; i < N; i++) {
    const { wall, run } = await lab(['--patch', 'none', '--suite', 'smoke']);
    warm.push({ wall, boot: run.timings.boot, ratio: wall / run.timings.boot });
  }
  rows.push(['1. warm, nothing changed', fmt(warm.map((x) => x.wall), ' s'), `boot ${fmt(warm.map((x) => x.boot), ' s')}`, fmt(warm.map((x) => x.ratio)), '≤ 1.5']);

  // 2. One line of one patch changed.
  const series = path.join(os.tmpdir(), 'kl-bench-loop-series');
  fs.mkdirSync(series, { recursive: true });
  const fixture = path.join(root, 'test', 'fixtures', 'nop-comment');
  const name = fs.readdirSync(fixture).find((f) => f.endsWith('.patch'));
  const v1 = fs.readFileSync(path.join(fixture, name), 'utf8');
  // Warm-up with a revision no run has built: the build cache cannot serve it, so make runs
  // in the series' tree and its out dir is warm for the measured edits.
  fs.writeFileSync(path.join(series, name), v1.replace('fixture revision 1', `fixture revision bench-warm-${Date.now()}`));
  await lab(['--patch', series, '--suite', 'smoke']);
  const edit = [];
  for (let i = 0; i < N; i++) {
    fs.writeFileSync(path.join(series, name), v1.replace('fixture revision 1', `fixture revision bench-${Date.now()}`));
    const { wall, run } = await lab(['--patch', series, '--suite', 'smoke']);
    // The same change by hand in the same tree, then the same make the lab ran there (its
    // reproducer in metadata.json: same variables, so kbuild rebuilds only what changed).
    const meta = JSON.parse(fs.readFileSync(path.join(run.dir, 'metadata.json'), 'utf8'));
    const tree = meta.tree;
    const makeLine = meta.reproducer.find((l) => /\bmake O=/.test(l));
    const file = path.join(tree, 'io_uring', 'nop.c');
    const before = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, before.replace(/fixture revision \S+/, `fixture revision plain-${Date.now()}`));
    const t0 = Date.now();
    const m = await $`sh -c ${`cd ${tree} && ${makeLine}`}`;
    const make = (Date.now() - t0) / 1000;
    fs.writeFileSync(file, before);
    await $`sh -c ${`cd ${tree} && ${makeLine}`}`; // objects match the tree again
    if (m.exitCode !== 0) throw new Error(`plain make failed: ${m.stderr.split('\n').slice(-3).join(' ')}`);
    edit.push({ wall, make, boot: run.timings.boot, ratio: wall / (make + run.timings.boot) });
  }
  rows.push(['2. one-line patch edit', fmt(edit.map((x) => x.wall), ' s'), `make ${fmt(edit.map((x) => x.make), ' s')} + boot`, fmt(edit.map((x) => x.ratio)), '≤ 1.3']);
} else rows.push(['1. warm, nothing changed', '(not run: --cold-only)', '', '', '≤ 1.5'], ['2. one-line patch edit', '(not run: --cold-only)', '', '', '≤ 1.3']);

// 3. Cold.
if (cold) {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-bench-cold-'));
  const { wall, run } = await lab(['--patch', 'none', '--suite', 'smoke'], { KERNEL_LAB_CACHE: cache });
  const plainDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-bench-plain-'));
  // The same tarball, fetched as the lab fetches it (the lab keeps only the extracted
  // tree); the fetch is not timed, the extraction is.
  const pin = JSON.parse(fs.readFileSync(path.join(root, 'kernel-patches', 'base.json'), 'utf8'));
  const deb = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-bench-deb-'));
  const got = await $({ cwd: deb })`apt-get download ${`${pin.package}=${pin.version}`}`;
  if (got.exitCode !== 0) throw new Error(`apt-get download ${pin.package}=${pin.version}: ${got.stderr.trim().split('\n').pop()}`);
  await $`dpkg-deb -x ${path.join(deb, fs.readdirSync(deb).find((f) => f.endsWith('.deb')))} ${path.join(deb, 'x')}`;
  const tarball = (await $`find ${path.join(deb, 'x')} -name 'linux-source-*.tar.xz'`).stdout.trim().split('\n')[0];
  if (!tarball) throw new Error(`no linux-source tarball in ${pin.package} ${pin.version}`);
  const t0 = Date.now();
  await $`tar -C ${plainDir} -xf ${tarball}`;
  const src = path.join(plainDir, fs.readdirSync(plainDir)[0]);
  fs.copyFileSync(path.join(run.dir, 'config'), path.join(src, '.config'));
  const m = await $`make -C ${src} ARCH=x86_64 -j${os.availableParallelism()} olddefconfig bzImage`;
  const plain = (Date.now() - t0) / 1000;
  // Where the lab's time went, beside the limit's one make.
  const tm = run.timings ?? {};
  const parts = ['source', 'patches', 'config', 'build', 'image', 'boot'].filter((k) => tm[k] !== undefined).map((k) => `${k} ${tm[k].toFixed(0)}`);
  rows.push(['3. cold, empty cache', `${wall.toFixed(0)} s (${parts.join(', ')})`, `extract + make ${plain.toFixed(0)} s${m.exitCode ? ' (make failed)' : ''}`, (wall / plain).toFixed(2), '≤ 1.15']);
  fs.rmSync(cache, { recursive: true, force: true });
  fs.rmSync(plainDir, { recursive: true, force: true });
  fs.rmSync(deb, { recursive: true, force: true });
} else rows.push(['3. cold, empty cache', '(not run: --cold)', '', '', '≤ 1.15']);

// 4. virtme-ng.
const vng = await $`command -v vng`;
if (vng.exitCode === 0) {
  const bz = path.join(warm.length ? JSON.parse(fs.readFileSync(path.join(results, 'latest', 'run.json'), 'utf8')).kernel.buildDir : '', 'bzImage');
  const t0 = Date.now();
  const r = await $`vng --disable-kvm -r ${bz} -- true`;
  rows.push(['4. virtme-ng boot of the same kernel', `${((Date.now() - t0) / 1000).toFixed(1)} s`, r.exitCode === 0 ? '' : `failed: ${r.stderr.trim().split('\n').pop()}`, '', '']);
} else rows.push(['4. virtme-ng', 'not installed here (not packaged in Debian bookworm; PyPI is out of reach)', '', '', '']);

echo(`inner loop, ${N} runs each (TCG; timings are this machine's; compare the ratios)\n`);
echo('| case | lab, command to verdict | limit | ratio | target |\n|---|---|---|---|---|');
for (const r of rows) echo(`| ${r.join(' | ')} |`);
fs.rmSync(results, { recursive: true, force: true });
