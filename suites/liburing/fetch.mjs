#!/usr/bin/env node
// Fetch the pinned Debian source package (source.json) into the lab cache, check every
// file's sha256, unpack it with dpkg-source (Debian's patches applied) and print the
// unpacked tree's path. Idempotent: a cached tree is printed without touching the network.
// Run by `make deps` and by the image stage before the suite is built; never in the guest.
// Exit 0: tree path on stdout; 3: could not fetch or unpack (the lab's fault, not a test's).
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const die = (msg) => {
  process.stderr.write(`liburing fetch: error: ${msg}\n`);
  process.exit(3);
};
const pin = JSON.parse(fs.readFileSync(path.join(here, 'source.json'), 'utf8'));
const cacheRoot = process.env.KERNEL_LAB_CACHE ?? path.join(os.homedir(), '.cache', 'kernel-lab');
const dir = path.join(cacheRoot, 'upstream', `${pin.package}_${pin.version}`);
const tree = path.join(dir, 'tree');
const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

if (fs.existsSync(path.join(tree, '.kl-unpacked'))) {
  process.stdout.write(`${tree}\n`);
  process.exit(0);
}
fs.mkdirSync(dir, { recursive: true });
const dsc = Object.keys(pin.files).find((f) => f.endsWith('.dsc'));
if (!dsc) die(`${path.join(here, 'source.json')}: no .dsc among files`);
for (const [name, want] of Object.entries(pin.files)) {
  const dest = path.join(dir, name);
  if (fs.existsSync(dest) && sha256(dest) === want) continue;
  let got = null;
  const tried = [];
  for (const mirror of pin.mirrors) {
    const url = `${mirror}/${pin.pool}/${name}`;
    const r = spawnSync('curl', ['-fsSL', '--retry', '2', '--max-time', '300', '-o', `${dest}.part`, url], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.error) die(`curl: ${r.error.message} (run \`make deps\`)`);
    if (r.status !== 0) {
      tried.push(`${url}: ${r.stderr.trim().split('\n').pop()}`);
      continue;
    }
    got = sha256(`${dest}.part`);
    if (got !== want) {
      tried.push(`${url}: sha256 ${got}, pinned ${want}`);
      fs.rmSync(`${dest}.part`, { force: true });
      continue;
    }
    fs.renameSync(`${dest}.part`, dest);
    break;
  }
  if (!fs.existsSync(dest)) die(`${pin.package} ${pin.version}: could not fetch ${name}: ${tried.join('; ')}`);
}
// The .dsc must list the same files and checksums as the pin (a pin edited by hand that
// disagrees with its own .dsc is caught here, not in dpkg-source).
const dscText = fs.readFileSync(path.join(dir, dsc), 'utf8');
const block = /^Checksums-Sha256:\n((?: .*\n)+)/m.exec(dscText);
if (!block) die(`${dsc}: no Checksums-Sha256 field`);
for (const line of block[1].trim().split('\n')) {
  const [sum, , name] = line.trim().split(/\s+/);
  if (name.endsWith('.asc')) continue; // the upstream signature: not needed to build
  if (pin.files[name] !== sum) die(`${dsc} lists ${name} with sha256 ${sum}; source.json pins ${pin.files[name] ?? 'nothing'}`);
}
const tmp = fs.mkdtempSync(path.join(dir, 'unpack-'));
const r = spawnSync('dpkg-source', ['--no-check', '-x', path.join(dir, dsc), path.join(tmp, 'tree')], { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
if (r.error || r.status !== 0) die(`dpkg-source -x ${dsc}: ${(r.error?.message ?? r.stderr).trim().split('\n').pop()} (dpkg-dev installed? run \`make deps\`)`);
fs.writeFileSync(path.join(tmp, 'tree', '.kl-unpacked'), `${pin.package} ${pin.version}\n`);
try {
  fs.renameSync(path.join(tmp, 'tree'), tree);
} catch (err) {
  // another run unpacked it first: theirs is as good as ours
  if (!fs.existsSync(path.join(tree, '.kl-unpacked'))) die(`cannot move the unpacked tree to ${tree}: ${err.message}`);
}
fs.rmSync(tmp, { recursive: true, force: true });
process.stdout.write(`${tree}\n`);
