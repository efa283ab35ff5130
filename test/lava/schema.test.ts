// Every job export-lava writes passes lava-common's strict schema check, and bad input is
// one line, exit 2, nothing written. Needs make lava-deps (lava-common); the kernel of
// --patch none is built (or found in the cache) like a run's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parse, stringify } from 'yaml';
import { consoleModeCmdline, lavaJob } from '../../harness/lava.ts';
import { errorLines, lab } from '../integration/helpers.ts';
import { lavaMissing, lavaSchemaError } from './helpers.ts';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-lava-schema-'));
test.after.always(() => fs.rmSync(scratch, { recursive: true, force: true }));

test.before(() => {
  const why = lavaMissing('schema');
  if (why) throw new Error(why);
});

test('the checker is real: a job without timeouts, or with an action LAVA does not know, is refused', async (t) => {
  const job = lavaJob({ name: 'x', runId: 'r', kernelUrl: 'file:///k', kernelSha256: 'a'.repeat(64), initrdUrl: 'file:///i', initrdSha256: 'b'.repeat(64), scratchUrl: 'file:///s.gz', scratchSha256: 'c'.repeat(64), cmdline: consoleModeCmdline('ab'), noKvm: true, memoryMiB: 2048, cpus: 2, bootS: 60, testS: 60, metadata: {} });
  t.is(await lavaSchemaError(stringify(job)), null);
  const { timeouts: _t, ...noTimeouts } = job;
  t.regex((await lavaSchemaError(stringify(noTimeouts))) ?? '', /timeouts/);
  const bogus = { ...job, actions: [...(job.actions as object[]), { boot: { method: 'qemuu' } }] };
  t.not(await lavaSchemaError(stringify(bogus)), null);
});

for (const [name, extra] of [
  ['TCG, artifacts here (file://)', ['--no-kvm']],
  ['KVM, artifacts on a web server', ['--artifact-url', 'https://artifacts.example.org/kl/run-1']],
] as const) {
  test(`export-lava --patch none --suite smoke (${name}): job.yaml passes lava-common's strict check and names artifacts that are there, with their sha256`, async (t) => {
    const out = path.join(scratch, name.replace(/\W+/g, '-'));
    const r = await lab(['export-lava', '--patch', 'none', '--suite', 'smoke', '--out', out, ...extra]);
    t.is(r.exitCode, 0, r.stderr.slice(-2000));
    t.deepEqual(fs.readdirSync(out).sort(), ['build', 'bzImage', 'device-qemu.yaml', 'export.json', 'initramfs.cpio', 'job.yaml', 'scratch.img.gz']);
    const text = fs.readFileSync(path.join(out, 'job.yaml'), 'utf8');
    t.is(await lavaSchemaError(text), null);
    const job = parse(text) as { context: { no_kvm: boolean }; actions: { deploy?: { images: Record<string, { url: string; sha256sum: string }> } }[] };
    t.is(job.context.no_kvm, extra[0] === '--no-kvm');
    const images = job.actions[0]!.deploy!.images;
    for (const [label, file] of [['kernel', 'bzImage'], ['ramdisk', 'initramfs.cpio'], ['scratch', 'scratch.img.gz']] as const) {
      t.is(images[label]!.url, extra[0] === '--no-kvm' ? `file://${out}/${file}` : `https://artifacts.example.org/kl/run-1/${file}`);
      const { createHash } = await import('node:crypto');
      t.is(images[label]!.sha256sum, createHash('sha256').update(fs.readFileSync(path.join(out, file))).digest('hex'));
    }
  });
}

test('export-lava bad input: one line, exit 2, nothing written (an --out in use, a bad URL, a two-guest suite, no --out)', async (t) => {
  const bad = path.join(scratch, 'bad');
  const used = path.join(bad, 'used');
  fs.mkdirSync(used, { recursive: true });
  fs.writeFileSync(path.join(used, 'keep'), 'x');
  const cases: [string[], RegExp][] = [
    [['--out', used], /used exists and is not an empty directory/],
    [['--out', path.join(bad, 'u'), '--artifact-url', 'ftp://x/y'], /--artifact-url 'ftp:\/\/x\/y' is not an http\(s\):\/\/ or file:\/\/ URL/],
    [['--out', path.join(bad, 'p'), '--suite', 'rdma'], /suite rdma boots two guests/],
    [[], /export-lava needs --out DIR/],
    [['--out', path.join(bad, 'q'), '--dry-run'], /--dry-run does not apply/],
  ];
  for (const [args, want] of cases) {
    const r = await lab(['export-lava', '--patch', 'none', ...args]);
    t.is(r.exitCode, 2, args.join(' '));
    t.is(errorLines(r.stderr).length, 1, r.stderr);
    t.regex(errorLines(r.stderr)[0]!, want);
  }
  t.deepEqual(fs.readdirSync(used), ['keep']);
  t.deepEqual(fs.readdirSync(bad), ['used'], 'no output directory, no partial one beside it');
  const r = await lab(['--patch', 'none', '--no-kvm']);
  t.is(r.exitCode, 2);
  t.regex(errorLines(r.stderr)[0]!, /--out, --artifact-url, --no-kvm, --lava-server and --lava-token belong to export-lava/);
});
