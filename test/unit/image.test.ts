import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { paths } from '../../harness/paths.ts';
import { headersHash, suiteSourceHash, withUsed } from '../../harness/stages/image.ts';

test('a suite\'s source hash covers the sibling suites its sources include, and only those', (t) => {
  const bench = { name: 'uring-bpf-bench', dir: path.join(paths.suites, 'uring-bpf-bench') };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-suitehash-'));
  // The same suite with its ../uring-bpf include pointed elsewhere hashes differently.
  const copy = path.join(dir, 'uring-bpf-bench');
  fs.cpSync(bench.dir, copy, { recursive: true, filter: (s) => !s.includes(`${path.sep}out`) });
  t.is(suiteSourceHash({ name: bench.name, dir: copy }), suiteSourceHash(bench), 'same files, same hash');
  const c = path.join(copy, 'chain_short_reads.c');
  fs.writeFileSync(c, fs.readFileSync(c, 'utf8').replace('#include "../uring-bpf/ubpf.h"', '#include "../uring/ubpf.h"'));
  t.not(suiteSourceHash({ name: bench.name, dir: copy }), suiteSourceHash(bench));
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
