#!/usr/bin/env node
// The nightly matrix, as before: now `npm run lab -- nightly [--shard i/n] [--results DIR]`,
// whose cells are harness/matrix.ts's (the one list plan --nightly and CI shards read too).
// Kept so `npx zx scripts/nightly.mjs` and `node scripts/nightly.mjs` still run it.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'lab.mjs'), 'nightly', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 3);
