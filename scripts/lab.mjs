#!/usr/bin/env node
// `npm run lab`: the harness's command line, started at plain node's speed.
//
// Run from its TypeScript sources through tsx, every one of the harness's modules goes
// through tsx's loader thread on each start: about a second before the first stage on
// this machine, paid on every run of the inner loop. Here the harness is bundled once
// (esbuild: our modules into one file, npm packages left as imports) and the bundle is
// kept under node_modules/.cache, named by the hash of every harness source and of where
// the checkout is; a changed source gets a new bundle at the next start, so what runs is
// always what is checked out. `npx tsx harness/cli.ts` runs the same code unbundled.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const harness = path.join(root, 'harness');
const cacheDir = path.join(root, 'node_modules', '.cache', 'kernel-lab-cli');

function sources(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out.sort();
}

const h = crypto.createHash('sha256').update(`${root}\0`);
for (const f of [...sources(harness), path.join(root, 'package-lock.json'), path.join(root, 'tsconfig.json')]) {
  h.update(`${path.relative(root, f)}\0`).update(fs.readFileSync(f)).update('\0');
}
const bundle = path.join(cacheDir, `cli-${h.digest('hex').slice(0, 16)}.mjs`);

if (!fs.existsSync(bundle)) {
  const { build } = await import('esbuild');
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${bundle}.tmp.${process.pid}`;
  await build({
    entryPoints: [path.join(harness, 'cli.ts')],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
    // paths.ts finds the checkout from its own file; the bundle lives elsewhere.
    define: { __KL_REPO_ROOT__: JSON.stringify(root) },
  });
  fs.renameSync(tmp, bundle); // atomic: a concurrent start sees the whole file or none
  // Bundles of earlier sources go once no start can still be about to load them.
  for (const old of fs.readdirSync(cacheDir)) {
    const p = path.join(cacheDir, old);
    if (old !== path.basename(bundle) && Date.now() - fs.statSync(p).mtimeMs > 3600_000) fs.rmSync(p, { force: true });
  }
}
// Not minified: a stack trace's lines are readable in the bundle.
await import(pathToFileURL(bundle).href);
