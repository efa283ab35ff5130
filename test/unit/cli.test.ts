// The CLI contract without a kernel: usage errors, list, dry-run.
import fs from 'node:fs';
import test from 'ava';
import { errorLines, lab } from '../integration/helpers.ts';

test('unknown flag, unknown set, unknown suite, bad numbers and exclusive options exit 2 with one line', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--patch', 'none', '--nope'], /unknown option '--nope'/],
    [['--patch', 'nosuch'], /unknown patch set 'nosuch' \(known sets: none/],
    [['--patch', 'none', '--suite', 'nosuch'], /unknown suite 'nosuch'/],
    [['--patch', 'none', '--memory', 'lots'], /--memory takes a positive whole number/],
    [['--patch', 'none', '--suite', 'smoke', '--exec', 'true'], /--exec and --suite are exclusive/],
    [['--patch', 'none', '--config-item', 'KASAN=y'], /--config-item 'KASAN=y' is not a config item/],
    [['--patch', 'none', '--config', '/no/such/fragment'], /--config \/no\/such\/fragment: no such file/],
    [['--patch', 'none,none'], /--patch none cannot be combined/],
    [[], /--patch is required/],
    [['--patch', 'none', '--kernel-src', '/no/such/tree'], /--kernel-src \/no\/such\/tree: no such file or directory/],
    [['--patch', 'none', '--kernel-src', 'harness'], /--kernel-src harness is not a kernel tree/],
    [['build-each', '--patch', 'none'], /build-each needs a patch series/],
    [['build-each', '--patch', 'fused', '--dry-run'], /build-each builds, it boots nothing/],
  ];
  for (const [args, re] of cases) {
    const r = await lab(args);
    t.is(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = errorLines(r.stderr);
    t.is(lines.length, 1, `${args.join(' ')}: one line`);
    t.regex(lines[0]!, re);
    t.is(r.run, null, 'no run directory was made');
  }
});

test('triage of a missing file is a usage error; list names the sets and suites', async (t) => {
  const r = await lab(['triage', '/no/such/console.log']);
  t.is(r.exitCode, 2);
  t.is(errorLines(r.stderr).length, 1);
  t.regex(errorLines(r.stderr)[0]!, /triage: \/no\/such\/console\.log: no such file/);
  const l = await lab(['list']);
  t.is(l.exitCode, 0);
  t.regex(l.stdout, /none\s+the unpatched base/);
  t.regex(l.stdout, /smoke\s+\d+ tests/);
  t.regex(l.stdout, /uring\s+\d+ tests/);
});

test('--dry-run prints the config, build and QEMU commands and builds nothing', async (t) => {
  const r = await lab(['--patch', 'none', '--suite', 'smoke', '--dry-run']);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /scripts\/kconfig\/merge_config\.sh -n -O \S+kl-out-default-[0-9a-f]{8} /);
  t.regex(r.stdout, /make O=kl-out-default-[0-9a-f]{8} ARCH=x86_64 'CC=ccache gcc' -j\d+ bzImage/);
  t.regex(r.stdout, /qemu-system-x86_64 -machine q35 -accel (kvm|tcg) .* -no-reboot .*panic=-1/);
  t.is(r.run, null);
});

test('triage takes logs and directories in one process: a JSON line per log, or file: title lines', async (t) => {
  const r = await lab(['triage', 'test/fixtures/console', 'test/fixtures/syzkaller/618']);
  t.is(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; reports: { title: string; test: string | null; corrupted: boolean }[] });
  const logs = fs.readdirSync('test/fixtures/console').filter((f) => f.endsWith('.log'));
  t.is(lines.length, logs.length + 1 + 1, 'every file in the directory (expected.json too) and the named log');
  const bug = lines.find((l) => l.file.endsWith('bug.log'))!;
  t.deepEqual(bug.reports.map((c) => [c.title, c.test, c.corrupted]), [['kernel BUG in lkdtm_BUG', 'exec/command', false]]);
  t.deepEqual(lines.find((l) => l.file.endsWith('618'))!.reports, [], 'the mand mount pr_warn is no report');
  const titles = await lab(['triage', '--titles', 'test/fixtures/console/warning.log', 'test/fixtures/console/null_deref.log']);
  t.is(titles.stdout, 'test/fixtures/console/warning.log: WARNING in lkdtm_WARNING\ntest/fixtures/console/null_deref.log: BUG: unable to handle kernel NULL pointer dereference in lkdtm_EXCEPTION');
});

test('--version names the package version and the commit; every subcommand has its own --help; list --json', async (t) => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const v = await lab(['--version']);
  t.is(v.exitCode, 0);
  t.regex(v.stdout.trim(), new RegExp(`^kernel-lab ${pkg.version.replace(/\./g, '\\.')}( \\([0-9a-f]{12}\\))?$`));
  const helps: [string[], RegExp][] = [
    [['--help'], /Usage: lab --patch <set>/],
    [['triage', '--help'], /^npm run lab -- triage \[--titles\] FILE\|DIR/],
    [['list', '-h'], /^npm run lab -- list \[--json\]/],
    [['bundle', '--help'], /^npm run lab -- bundle \[RUN-DIR\]/],
    [['rebase-check', '--help'], /Usage: rebase-check/],
    [['build-each', '--help'], /Usage: build-each --patch <set>[\s\S]*does the series bisect/],
  ];
  for (const [args, re] of helps) {
    const r = await lab(args);
    t.is(r.exitCode, 0, args.join(' '));
    t.regex(r.stdout, re, args.join(' '));
    t.is(r.run, null, `${args.join(' ')} runs nothing`);
  }
  const j = await lab(['list', '--json']);
  t.is(j.exitCode, 0);
  const listed = JSON.parse(j.stdout) as { sets: { name: string; patches: number }[]; suites: { name: string; tests: string[] }[] };
  const dirs = (d: string) => fs.readdirSync(new URL(`../../${d}/`, import.meta.url), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  t.deepEqual(listed.sets.map((s) => s.name).sort(), dirs('kernel-patches').filter((n) => fs.existsSync(new URL(`../../kernel-patches/${n}/series`, import.meta.url))).sort());
  t.true(listed.sets.every((s) => s.patches > 0), 'every set has patches');
  t.deepEqual(listed.suites.map((s) => s.name).sort(), dirs('suites').filter((n) => fs.existsSync(new URL(`../../suites/${n}/manifest.json`, import.meta.url))).sort());
  t.true(listed.suites.find((s) => s.name === 'smoke')!.tests.includes('boots_to_agent'));
  const bad = await lab(['list', '--nope']);
  t.is(bad.exitCode, 2);
  t.regex(errorLines(bad.stderr)[0] ?? '', /list: unknown argument '--nope'/);
});
