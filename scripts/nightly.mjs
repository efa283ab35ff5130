#!/usr/bin/env node
// The nightly matrix, as before: now `npm run lab -- nightly [--shard i/n] [--results DIR]`,
// whose cells are harness/matrix.ts's (the one list plan --nightly and CI shards read too).
// Kept so `npx zx scripts/nightly.mjs` and `node scripts/nightly.mjs` still run it.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), '..');
// under zx, argv holds zx's own path and this script's before the arguments
const args = process.argv.slice(2).filter((a) => path.resolve(a) !== self);
const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'lab.mjs'), 'nightly', ...args], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 3);
