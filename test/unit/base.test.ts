// The base pin: data the sets carry, checked before anything is fetched or built.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { commonPin, DEFAULT_PIN_FILE, parseBaseOption, readPin, upstreamVersion } from '../../harness/base.ts';
import { listPatchSets, loadPatchSet } from '../../harness/catalog.ts';
import { UsageError } from '../../harness/errors.ts';
import { errorLines, lab } from '../integration/helpers.ts';

test('every set of ours pins a base, and the same one as --patch none, so they stack and compare', (t) => {
  const def = readPin(DEFAULT_PIN_FILE);
  t.regex(def.version, /^6\.12\.\d+-/);
  t.regex(def.sha256, /^[0-9a-f]{64}$/);
  const sets = listPatchSets();
  t.true(sets.length >= 3);
  for (const name of sets) {
    const b = loadPatchSet(name).base;
    t.truthy(b, `${name} has a base.json`);
    t.deepEqual({ ...b!, file: '' }, { ...def, file: '' }, `${name} pins ${def.version}`);
  }
  t.is(commonPin(sets.map(loadPatchSet)).version, def.version);
});

test('sets pinned to different bases do not stack: a usage error naming both', (t) => {
  const a = { name: 'a', base: { package: 'linux-source-6.12', version: '6.12.98-1~deb12u1', sha256: 'a'.repeat(64), file: 'a/base.json' } };
  const b = { name: 'b', base: { package: 'linux-source-6.12', version: '6.12.97-1~deb12u1', sha256: 'b'.repeat(64), file: 'b/base.json' } };
  const err = t.throws(() => commonPin([a, b]), { instanceOf: UsageError });
  t.regex(err!.message, /different bases: a \(6\.12\.98-1~deb12u1\), b \(6\.12\.97-1~deb12u1\)/);
  t.is(commonPin([a, { name: 'user', base: null }]).version, a.base.version, 'a series without a pin follows the others');
  t.is(commonPin([]).file, 'kernel-patches/base.json', 'no set: the default pin');
});

test('--base takes a Debian version, latest or installed; anything else is a usage error', (t) => {
  t.deepEqual(parseBaseOption('latest'), { kind: 'latest' });
  t.deepEqual(parseBaseOption('installed'), { kind: 'installed' });
  t.deepEqual(parseBaseOption('6.12.97-1~deb12u1'), { kind: 'version', version: '6.12.97-1~deb12u1' });
  t.throws(() => parseBaseOption('6.12; rm -rf /'), { instanceOf: UsageError, message: /is not a Debian version/ });
  t.is(upstreamVersion('6.12.98-1~deb12u1'), '6.12.98');
  t.is(upstreamVersion('1:6.12.9-2'), '6.12.9');
});

test('a malformed pin is named with its field', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-pin-'));
  const f = path.join(dir, 'base.json');
  fs.writeFileSync(f, JSON.stringify({ package: 'linux-source-6.12', version: '6.12.98-1~deb12u1', sha256: 'xyz' }));
  t.throws(() => readPin(f), { instanceOf: UsageError, message: /base\.json: sha256: 64 lowercase hex digits/ });
});

test('CLI: a stack of differently pinned sets, a bad --base, and --base with --kernel-src exit 2 with one line', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-oldset-'));
  fs.copyFileSync(loadPatchSet('uring-bpf').patches[0]!, path.join(dir, '0001.patch'));
  fs.writeFileSync(path.join(dir, 'base.json'), JSON.stringify({ package: 'linux-source-6.12', version: '6.12.87-1~deb12u1', sha256: 'c'.repeat(64) }));
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-tree-'));
  for (const f of ['Makefile', 'Kconfig']) fs.writeFileSync(path.join(tree, f), '');
  const cases: [string[], RegExp][] = [
    [['--patch', `fused,${dir}`], /different bases: fused \(\S+\), kl-oldset-\w+ \(6\.12\.87-1~deb12u1\)/],
    [['--patch', 'none', '--base', 'new est'], /--base 'new est' is not a Debian version/],
    [['--patch', 'none', '--base', 'latest', '--kernel-src', tree], /--base and --kernel-src are exclusive/],
    [['rebase-check', '--bogus'], /rebase-check: unknown option '--bogus'/],
  ];
  for (const [args, re] of cases) {
    const r = await lab(args);
    t.is(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
    t.deepEqual(errorLines(r.stderr).length, 1, args.join(' '));
    t.regex(errorLines(r.stderr)[0]!, re);
    t.is(r.run, null, 'no run directory');
  }
});
