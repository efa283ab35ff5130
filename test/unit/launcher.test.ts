// `npm run lab` runs a bundle of the harness (scripts/lab.mjs): it must run what is
// checked out, from where it is checked out.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { repoRoot } from '../../harness/paths.ts';

test('the launcher bundles the checked-out sources, a new bundle for an edited source, and the bundle finds the checkout it started from', async (t) => {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-launcher-'));
  t.teardown(() => fs.rmSync(copy, { recursive: true, force: true }));
  for (const f of ['harness', 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json']) fs.cpSync(path.join(repoRoot, f), path.join(copy, f), { recursive: true });
  fs.mkdirSync(path.join(copy, 'node_modules'));
  for (const e of fs.readdirSync(path.join(repoRoot, 'node_modules'))) {
    if (e !== '.cache') fs.symlinkSync(path.join(repoRoot, 'node_modules', e), path.join(copy, 'node_modules', e));
  }
  fs.mkdirSync(path.join(copy, 'suites', 'only-here'), { recursive: true });
  fs.writeFileSync(path.join(copy, 'suites', 'only-here', 'manifest.json'), JSON.stringify({ description: 'a suite only the copy has', requires: {}, tests: [{ name: 't', cmd: 'true' }] }));
  const bundles = () => fs.readdirSync(path.join(copy, 'node_modules', '.cache', 'kernel-lab-cli')).filter((f) => f.endsWith('.mjs')).sort();
  const list = async () => {
    const r = await execa('node', [path.join(copy, 'scripts', 'lab.mjs'), 'list', '--json'], { cwd: copy, reject: false });
    t.is(r.exitCode, 0, r.stderr);
    return JSON.parse(r.stdout) as { suites: { name: string }[] };
  };
  const first = await list();
  t.deepEqual(first.suites.map((s) => s.name), ['only-here'], 'suites come from the checkout the launcher is in');
  const [b1] = bundles();
  t.truthy(b1);
  await list();
  t.deepEqual(bundles(), [b1!], 'an unchanged checkout starts the same bundle');
  fs.appendFileSync(path.join(copy, 'harness', 'log.ts'), '\n// an edit\n');
  await list();
  t.is(bundles().length, 2, 'an edited source is bundled anew');
  t.true(bundles().includes(b1!), 'the earlier bundle stays for a start that may be loading it');
});
