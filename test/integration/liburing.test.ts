// liburing's own tests (Debian's 2.3-3 source package) on the unpatched base, in QEMU:
// the quick subset make test runs. The whole suite is a nightly cell (scripts/nightly.mjs).
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { loadSuite } from '../../harness/catalog.ts';
import { parseKtap } from '../../harness/ktap.ts';
import { lab } from './helpers.ts';

test.serial('liburing-quick on the base: one KTAP line per liburing program, its own result; the known skip explained by the list', async (t) => {
  const r = await lab(['--patch', 'none', '--suite', 'liburing-quick']);
  t.is(r.exitCode, 0, `${r.run?.reason}\n${r.stderr.split('\n').slice(-20).join('\n')}`);
  const run = r.run!;
  t.is(run.status, 'pass');
  const quick = loadSuite('liburing-quick');
  // What the guest said, line by line (before the host's judgement).
  const guest = parseKtap(fs.readFileSync(path.join(r.dir!, 'results.ktap'), 'utf8')).tests;
  t.deepEqual(guest.map((x) => x.name), quick.tests.map((x) => x.name), 'every program reported once, in manifest order');
  const knownSkip = 'io_uring_passthrough'; // needs an NVMe namespace: the guest has none
  for (const g of guest) {
    const rec = run.tests.find((x) => x.suite === 'liburing-quick' && x.name === g.name)!;
    if (g.name === knownSkip) {
      // liburing's exit 77 became the lab's SKIP in the guest; the host's expected list
      // (not a requirement the run left out) is what explains it.
      t.is(g.status, 'skip', `${g.name}: ${g.reason}`);
      t.is(rec.status, 'skip');
      t.regex(rec.reason ?? '', /^known skip on this base \(suites\/liburing-quick\/expected\/[^)]+\.json\): /);
      continue;
    }
    t.is(g.status, 'pass', `${g.name}: ${g.reason ?? ''}\n${(g.log ?? []).join('\n')}`);
    t.is(rec.status, 'pass', `${g.name}: ${rec.reason ?? ''}`);
  }
  t.deepEqual(run.crashes, [], 'no kernel report');
  // Each program's kernel messages, split by the agent's markers, for triage.
  for (const x of quick.tests) t.true(fs.existsSync(path.join(r.dir!, 'kmsg', `liburing-quick__${x.name}.log`)), `kmsg for ${x.name}`);
});
