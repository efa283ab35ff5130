import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { paths } from '../../harness/paths.ts';
import { loadSuiteFrom } from '../../harness/catalog.ts';
import { headersHash, suiteChangedSince, suiteSourceHash, withUsed } from '../../harness/stages/image.ts';

test('a suite\'s source hash covers the sibling suites its sources include, and only those', (t) => {
  const bench = { name: 'uring-bpf-bench', dir: path.join(paths.suites, 'uring-bpf-bench') };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-suitehash-'));
  // The same suite beside copies of what its make sees as ../ (common.mk, include/, the
  // sibling it includes) hashes the same; with its ../uring-bpf include pointed elsewhere, not.
  const copy = path.join(dir, 'uring-bpf-bench');
  const noOut = (s: string) => !s.includes(`${path.sep}out`);
  fs.cpSync(bench.dir, copy, { recursive: true, filter: noOut });
  for (const f of ['common.mk', 'include', 'uring-bpf']) fs.cpSync(path.join(paths.suites, f), path.join(dir, f), { recursive: true, filter: noOut });
  t.is(suiteSourceHash({ name: bench.name, dir: copy }), suiteSourceHash(bench), 'same files, same hash');
  const c = path.join(copy, 'chain_short_reads.c');
  const text = fs.readFileSync(c, 'utf8');
  fs.writeFileSync(c, text.replace('#include "../uring-bpf/ubpf.h"', '#include "../uring/ubpf.h"'));
  t.not(suiteSourceHash({ name: bench.name, dir: copy }), suiteSourceHash(bench));
  fs.rmSync(dir, { recursive: true });
});

test('a suite given as a directory hashes the ../common.mk and ../include its make resolves, not the lab\'s', (t) => {
  const smoke = { name: 'smoke', dir: path.join(paths.suites, 'smoke') };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-suitehash-'));
  const copy = { name: 'smoke', dir: path.join(dir, 'smoke') };
  fs.cpSync(smoke.dir, copy.dir, { recursive: true, filter: (s) => !s.includes(`${path.sep}out`) });
  const alone = suiteSourceHash(copy);
  t.not(alone, suiteSourceHash(smoke), 'without the files beside it, not the in-tree hash');
  fs.cpSync(path.join(paths.suites, 'common.mk'), path.join(dir, 'common.mk'));
  fs.cpSync(path.join(paths.suites, 'include'), path.join(dir, 'include'), { recursive: true });
  t.not(suiteSourceHash(copy), alone, 'a common.mk put beside it changes the hash');
  t.is(suiteSourceHash(copy), suiteSourceHash(smoke), 'the same files beside it: the in-tree hash');
  fs.appendFileSync(path.join(dir, 'common.mk'), '\n# edited\n');
  t.not(suiteSourceHash(copy), suiteSourceHash(smoke), 'its own common.mk edited');
  fs.rmSync(dir, { recursive: true });
});

test('a suite edited after the run read it is caught: a test added to its manifest, or a source changed', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-suitechg-'));
  const copy = path.join(dir, 'smoke');
  fs.cpSync(path.join(paths.suites, 'smoke'), copy, { recursive: true, filter: (s) => !s.includes(`${path.sep}out`) });
  const suite = loadSuiteFrom('smoke', copy);
  const sources = suiteSourceHash(suite);
  t.is(suiteChangedSince(suite, sources), null, 'untouched');
  const mf = path.join(copy, 'manifest.json');
  const m = JSON.parse(fs.readFileSync(mf, 'utf8'));
  m.tests.push({ name: 'added_later', cmd: 'true' });
  fs.writeFileSync(mf, JSON.stringify(m));
  t.is(suiteChangedSince(suite, sources), 'its files', 'the manifest is one of its files');
  t.is(suiteChangedSince(suite, suiteSourceHash(suite)), "its manifest's tests", 'same files as hashed now, but not the tests the run planned');
  fs.writeFileSync(mf, '{');
  t.is(suiteChangedSince(suite, suiteSourceHash(suite)), 'its manifest no longer loads');
  fs.rmSync(dir, { recursive: true });
});

test('a suite whose files are symlinks hashes what they point to: editing a linked source changes the hash', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-suitehash-'));
  const src = path.join(dir, 'src');
  const suite = { name: 'linked', dir: path.join(dir, 'linked') };
  fs.mkdirSync(src);
  fs.mkdirSync(suite.dir);
  fs.writeFileSync(path.join(src, 'prog.c'), 'int main(void) { return 0; }\n');
  fs.writeFileSync(path.join(suite.dir, 'manifest.json'), '{}\n');
  fs.symlinkSync(path.join(src, 'prog.c'), path.join(suite.dir, 'prog.c'));
  const before = suiteSourceHash(suite);
  fs.writeFileSync(path.join(src, 'prog.c'), 'int main(void) { return 1; }\n');
  t.not(suiteSourceHash(suite), before, 'the linked file\'s new bytes change the hash');
  fs.rmSync(path.join(src, 'prog.c'));
  t.notThrows(() => suiteSourceHash(suite), 'a dangling link is hashed as such, not an error');
  fs.rmSync(dir, { recursive: true });
});

test('the headers hash is by content and is kept beside the build', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-hdr-'));
  fs.mkdirSync(path.join(dir, 'headers', 'include', 'linux'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'headers', 'include', 'linux', 'io_uring.h'), '#define X 1\n');
  const h = headersHash(dir);
  t.is(fs.readFileSync(path.join(dir, 'headers.sha256'), 'utf8').trim(), h);
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-hdr-'));
  fs.mkdirSync(path.join(other, 'headers', 'include', 'linux'), { recursive: true });
  fs.writeFileSync(path.join(other, 'headers', 'include', 'linux', 'io_uring.h'), '#define X 2\n');
  t.not(headersHash(other), h);
  fs.rmSync(dir, { recursive: true });
  fs.rmSync(other, { recursive: true });
});

test('a suite that runs another suite\'s programs brings that suite into the image', (t) => {
  t.deepEqual(withUsed(['liburing-quick']), ['liburing', 'liburing-quick']);
  t.deepEqual(withUsed(['smoke']), ['smoke']);
});
