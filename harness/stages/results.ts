// The results stage: results/<run-id>/ written as the run goes (run.json is rewritten after every
// stage, so a killed run keeps everything so far with status "incomplete"), then the
// final verdict, KTAP, junit.xml, per-test kernel messages and summary.md.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { create } from 'xmlbuilder2';
import { agentFinished, testLogFiles, testMarker } from '../agent.ts';
import { unmetRequirement, type Suite } from '../catalog.ts';
import { detectCrashes, stripPrefixes } from '../crash.ts';
import { writeKcidb } from '../kcidb.ts';
import { dumpMarkdown } from '../vmcore.ts';
import { parsePostmortem, postmortemMarkdown, splitPostmortem, type PostMortem } from '../postmortem.ts';
import { InfraError, PatchFailure, UsageError, oneLine } from '../errors.ts';
import { applyExpected, type ExpectedResults } from '../expected.ts';
import { aggregateRuns, applyKnownIssues, chargeCrashes, chargeTaint, markKnownCrashes, type KnownSeen } from '../judge.ts';
import { parseKtap, parseSubtests, subtestCounts } from '../ktap.ts';
import { log } from '../log.ts';
import { benchTable, writePerf } from '../perf.ts';
import type { TestPlan } from '../plan.ts';
import type { BootOutcome } from './qemu.ts';
import type { BaselineDiff, CrashRecord, KnownIssue, RunRecord, RunStatus, TestRecord } from '../types.ts';

export function newRunId(label?: string): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  return `${stamp}-${crypto.randomBytes(2).toString('hex')}${label ? `-${label}` : ''}`;
}

export function createRunDir(resultsDir: string, id: string, linkLatest: boolean): string {
  const dir = path.join(resultsDir, id);
  fs.mkdirSync(dir, { recursive: true });
  if (linkLatest) {
    const latest = path.join(resultsDir, 'latest');
    const tmp = `${latest}.${process.pid}`;
    fs.rmSync(tmp, { force: true });
    fs.symlinkSync(id, tmp);
    fs.renameSync(tmp, latest);
  }
  return dir;
}

export function writeRunJson(rec: RunRecord): void {
  const file = path.join(rec.dir, 'run.json');
  const { commands, ...rest } = rec;
  const json = { ...rest, commands: commands.map((c) => c.join(' ')), tests: rec.tests.map(({ log: _l, ...t }) => t) };
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(json, null, 2)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * One verdict per run. A kernel report outranks everything (the kernel's fault); then a
 * failed test; then a timeout; then an incomplete run (the guest died without a report).
 */
export function verdict(allTests: TestRecord[], allCrashes: CrashRecord[], boot: BootOutcome | null, agentDone: boolean, failOnFlaky = false): { status: RunStatus; reason: string } {
  // Known issues are reported, never the verdict.
  const crashes = allCrashes.filter((c) => !c.known);
  const tests = allTests.filter((t) => !t.known);
  if (crashes.length > 0) return { status: 'crash', reason: `kernel report: ${crashes[0]!.title}${crashes[0]!.test ? ` (in ${crashes[0]!.test})` : ''}` };
  const failed = tests.filter((t) => t.status === 'fail' || (failOnFlaky && t.status === 'flaky'));
  if (failed.length > 0) return { status: 'fail', reason: `${failed.length} test(s) failed: ${failed.slice(0, 3).map((t) => `${t.suite}/${t.name}`).join(', ')}` };
  if (boot?.ended === 'wall-timeout') return { status: 'timeout', reason: `run exceeded its time limit after ${boot.durationS.toFixed(0)} s` };
  if (boot?.ended === 'test-timeout') return { status: 'timeout', reason: `test ${boot.hungTest} did not finish and the guest did not stop it` };
  if (boot?.ended === 'silence') return { status: 'timeout', reason: 'guest went silent (no console, KTAP or heartbeat output)' };
  if (boot?.ended === 'killed') return { status: 'incomplete', reason: 'run was interrupted' };
  const timedOut = tests.filter((t) => t.status === 'timeout');
  if (timedOut.length > 0) return { status: 'timeout', reason: `${timedOut.length} test(s) timed out: ${timedOut.map((t) => `${t.suite}/${t.name}`).join(', ')}` };
  const errored = tests.filter((t) => t.status === 'error');
  if (errored.length > 0) return { status: 'error', reason: `${errored.length} test(s) could not run: ${errored[0]!.suite}/${errored[0]!.name}: ${errored[0]!.reason ?? ''}` };
  if (!agentDone) return { status: 'incomplete', reason: 'guest stopped before the agent finished (no "done" on the status port)' };
  const flaky = tests.filter((t) => t.status === 'flaky');
  const known = allTests.length - tests.length + (allCrashes.length - crashes.length);
  const extra = [flaky.length > 0 ? `${flaky.length} flaky (${flaky.slice(0, 3).map((t) => `${t.suite}/${t.name}`).join(', ')})` : '', known > 0 ? `${known} known issue(s)` : ''].filter(Boolean);
  return { status: 'pass', reason: `${tests.filter((t) => t.status === 'pass').length} passed, ${tests.filter((t) => t.status === 'skip').length} skipped${extra.map((e) => `, ${e}`).join('')}` };
}

export function exitCodeFor(status: RunStatus): number {
  if (status === 'pass') return 0;
  if (status === 'fail' || status === 'crash') return 1;
  return 3;
}

/**
 * A SKIP is not a PASS when the feature is there. A skip stands only when something the run
 * did not ask for explains it: a patch feature or config item the test requires and the
 * kernel lacks (the host planned that skip and gave its reason). A test whose features the
 * run applies, or that needs nothing the run left out, and that skips anyway, failed.
 */
export function judgeSkips(tests: TestRecord[], suites: Suite[], features: string[], config: Map<string, string>): TestRecord[] {
  return tests.map((t) => {
    if (t.status !== 'skip') return t;
    const suite = suites.find((s) => s.name === t.suite);
    const test = suite?.tests.find((x) => x.name === t.name);
    if (!suite || !test) return t; // not ours to judge (exec, pseudo tests)
    const why = unmetRequirement(suite.requires, config, features) ?? unmetRequirement(test.requires, config, features);
    if (why) return { ...t, reason: why }; // the host's own words (the guest's copy lost its quotes)
    const wanted = [...suite.requires.features, ...(test.requires?.features ?? [])];
    const reason = wanted.length > 0
      ? `skipped although the run applies ${wanted.join(', ')}: ${t.reason ?? 'no reason given'}`
      : `skipped, and nothing the run left out explains it: ${t.reason ?? 'no reason given'}`;
    return { ...t, status: 'fail' as const, reason };
  });
}

/**
 * Tests of suites that print KTAP of their own (kselftest programs) get their subtests as
 * they are. A failed subtest fails the test even if the program exited 0, and a failed
 * test with no reason of its own names its first failed subtest.
 */
export function withSubtests(tests: TestRecord[], suites: Pick<Suite, 'name' | 'output'>[]): TestRecord[] {
  const ktap = new Set(suites.filter((s) => s.output === 'ktap').map((s) => s.name));
  return tests.map((t) => {
    if (!ktap.has(t.suite) || !t.log) return t;
    const subtests = parseSubtests(t.log);
    const planLine = t.log.map((l) => /^1\.\.(\d+)\b/.exec(l)).find((m) => m);
    const plan = planLine ? Number(planLine[1]) : undefined;
    const rec = { ...t, subtests, ...(plan !== undefined ? { subtestPlan: plan } : {}) };
    const failed = subtests.find((s) => s.status === 'fail');
    const what = failed ? `subtest ${failed.n} failed: ${failed.context ? `${failed.context}: ` : ''}${failed.name}` : '';
    if (failed && t.status === 'pass') return { ...rec, status: 'fail' as const, reason: `${what} (the program exited 0)` };
    if (failed && t.status === 'fail' && !t.reason) return { ...rec, reason: what };
    // A program that ended before its plan was done (it died, or was cut short) did not pass.
    if (!failed && t.status === 'pass' && plan !== undefined && subtests.length < plan) return { ...rec, status: 'fail' as const, reason: `reported ${subtests.length} of the ${plan} subtests it planned` };
    return rec;
  });
}

/** Kernel messages between a test's start and end markers, keyed by the marker's text (untrusted). */
export function splitKernelMessages(consoleText: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string | null = null;
  for (const raw of consoleText.split('\n')) {
    const m = testMarker(stripPrefixes(raw));
    if (m) {
      cur = m.kind === 'start' ? m.test : null;
      if (cur && !out.has(cur)) out.set(cur, []);
      continue;
    }
    if (cur) out.get(cur)!.push(raw);
  }
  return out;
}

export interface ResultsInputs {
  dir: string; // the run directory: ktap.raw, status.raw and console.log from the boot
  tests: TestPlan;
  features: string[];
  config: Map<string, string>;
  outcome: BootOutcome | null;
  kmemleak: boolean;
  known: KnownIssue[]; // the known-issues entries for this kernel
  expected: ExpectedResults; // upstream suites' known non-passes on this base (suites/<s>/expected/)
  failOnFlaky: boolean;
}

export interface ResultsOutput {
  tests: TestRecord[];
  crashes: CrashRecord[];
  knownIssues: KnownSeen[];
  status: RunStatus;
  reason: string;
  postmortem?: PostMortem;
}

/**
 * What the guest said, judged against what the host planned: results.ktap, kernel reports
 * charged to tests, a record for every planned test (one the guest never reported hung or
 * never ran), skips judged, one verdict, and per-test kernel messages under kmsg/.
 */
export function resultsStage(inp: ResultsInputs): ResultsOutput {
  const { dir, outcome } = inp;
  const ktapText = fs.readFileSync(path.join(dir, 'ktap.raw'), 'utf8');
  fs.writeFileSync(path.join(dir, 'results.ktap'), ktapText);
  const consoleText = fs.readFileSync(path.join(dir, 'console.log'), 'utf8');
  const done = agentFinished(fs.readFileSync(path.join(dir, 'status.raw'), 'utf8'));
  const parsed = parseKtap(ktapText);
  // Kernel reports are what the guest printed on its own; after the host's post-mortem line
  // comes the panic the host caused (an NMI into a hung guest) and the stuck tasks.
  const { live, post } = splitPostmortem(consoleText);
  const crashes = detectCrashes(live);
  let postmortem: PostMortem | undefined;
  if (post !== null) {
    fs.writeFileSync(path.join(dir, 'postmortem.log'), post);
    postmortem = parsePostmortem(post);
  }
  markKnownCrashes(crashes, inp.known);
  // One record per test (repeated runs counted), each run charged the taint it added.
  const tests: TestRecord[] = [...inp.tests.preset, ...withSubtests(aggregateRuns(chargeTaint(parsed.tests, parsed.bootTaint, new Set(crashes.flatMap((c) => (c.test ? [c.test] : []))))), inp.tests.guestSuites)];
  // Tests the guest never reported: the running one hung or died, the rest never ran.
  for (const t of inp.tests.planned) {
    if (tests.some((x) => x.suite === t.suite && x.name === t.name)) continue;
    const full = `${t.suite}/${t.name}`;
    const crash = crashes.find((c) => c.test === full);
    if (parsed.running === full) {
      const hung = outcome?.ended === 'wall-timeout' || outcome?.ended === 'test-timeout' || outcome?.ended === 'silence';
      tests.push({ ...t, status: hung && !crash ? 'timeout' : 'error', durationS: 0, reason: crash ? `kernel: ${crash.title}` : hung ? `still running when the guest was stopped (${outcome?.ended})` : 'guest stopped during this test' });
    } else tests.push({ ...t, status: 'error', durationS: 0, reason: 'not run: the guest stopped earlier' });
  }
  const withExpected = applyExpected(judgeSkips(tests, inp.tests.guestSuites, inp.features, inp.config), tests, inp.expected);
  const { tests: judged, seen } = applyKnownIssues(chargeCrashes(withExpected, crashes), crashes, inp.known);
  const v = verdict(judged, crashes, outcome, done, inp.failOnFlaky);
  const kdir = path.join(dir, 'kmsg');
  fs.mkdirSync(kdir, { recursive: true });
  // File names come from the host's own plan, never from what the guest printed: a
  // marker naming a test we did not plan (a patch under test wrote it) gets no file.
  const files = testLogFiles(inp.tests.planned, inp.kmemleak ? inp.tests.guestSuites.map((s) => s.name) : []);
  for (const [test, lines] of splitKernelMessages(consoleText)) {
    const file = files.get(test);
    if (file) fs.writeFileSync(path.join(kdir, file), `${lines.join('\n')}\n`);
    else log(`console: a test marker for '${JSON.stringify(test).slice(1, 81)}', which the run did not plan: ignored`);
  }
  return { tests: judged, crashes, knownIssues: seen, status: v.status, reason: v.reason, ...(postmortem ? { postmortem } : {}) };
}

/** The run's last words: junit.xml, perf.json/svg, summary.md and run.json. */
export function writeReports(rec: RunRecord): void {
  rec.finishedAt = new Date().toISOString();
  writeJunit(rec);
  writeKcidb(rec);
  const perf = writePerf(rec.dir, rec.tests);
  const perfMd = perf.length > 0 ? `\n## Performance (${rec.accel === 'tcg' ? 'TCG emulation: compare ratios, not absolutes' : 'KVM'})\n\n${benchTable(perf)}\n\nChart: perf.svg; data: perf.json\n` : '';
  fs.writeFileSync(path.join(rec.dir, 'summary.md'), summaryMarkdown(rec) + perfMd);
  writeRunJson(rec);
}

/**
 * A run that a stage ended by throwing still says why: run.json, summary.md and junit.xml
 * are written (tuxmake writes its metadata in finally). Ctrl-C stays incomplete.
 */
export function recordFailure(rec: RunRecord, err: unknown, interrupted: boolean): void {
  rec.status = interrupted ? 'incomplete' : err instanceof PatchFailure ? 'fail' : 'error';
  rec.reason = err instanceof PatchFailure ? oneLine(err) : `${err instanceof UsageError ? 'input' : err instanceof InfraError ? 'infrastructure' : 'internal'} error: ${oneLine(err)}`;
  rec.finishedAt = new Date().toISOString();
  try {
    writeRunJson(rec);
    writeJunit(rec);
    writeKcidb(rec);
    fs.writeFileSync(path.join(rec.dir, 'summary.md'), summaryMarkdown(rec));
  } catch {
    // the disk may be what failed: the exit code and the error line still say why
  }
}

/**
 * Text for XML 1.0: characters it cannot carry at all (C0 controls but tab/LF/CR, lone
 * surrogates, U+FFFE/U+FFFF) become U+FFFD, so junit.xml parses whatever a test printed.
 */
export function xmlText(s: string): string {
  return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

export function writeJunit(rec: RunRecord): void {
  const x = xmlText;
  const root = create({ version: '1.0', encoding: 'UTF-8' }).ele('testsuites', { name: x(`kernel-lab ${rec.id}`), tests: rec.tests.length });
  const bySuite = new Map<string, TestRecord[]>();
  for (const t of rec.tests) bySuite.set(t.suite, [...(bySuite.get(t.suite) ?? []), t]);
  for (const [suite, tests] of bySuite) {
    const s = root.ele('testsuite', {
      name: x(suite),
      tests: tests.length,
      failures: tests.filter((t) => !t.known && (t.status === 'fail' || (rec.options?.failOnFlaky && t.status === 'flaky'))).length,
      errors: tests.filter((t) => !t.known && (t.status === 'timeout' || t.status === 'error')).length,
      skipped: tests.filter((t) => t.status === 'skip' || t.known).length,
    });
    for (const t of tests) {
      const c = s.ele('testcase', { classname: x(suite), name: x(t.name), time: t.durationS });
      const crashes = rec.crashes.filter((k) => k.test === `${t.suite}/${t.name}`);
      if (t.runs) {
        const p = c.ele('properties');
        for (const [k, n] of Object.entries(t.runs)) p.ele('property', { name: `runs.${k}`, value: n });
      }
      if (t.known) c.ele('skipped', { message: x(`known issue (${t.status}): ${t.known.reason}${t.known.link ? ` ${t.known.link}` : ''}`) });
      else if (t.status === 'skip') c.ele('skipped', { message: x(t.reason ?? '') });
      else if (t.status === 'flaky' && !rec.options?.failOnFlaky) c.ele('flakyFailure', { message: x(t.reason ?? 'flaky') }).txt(x((t.log ?? []).join('\n')));
      else if (t.status === 'fail' || t.status === 'flaky') c.ele('failure', { message: x(t.reason ?? 'failed') }).txt(x((t.log ?? []).join('\n')));
      else if (t.status === 'timeout' || t.status === 'error') c.ele('error', { message: x(t.reason ?? t.status) });
      if (crashes.length > 0) c.ele('error', { message: x(`kernel report: ${crashes[0]!.title}`), type: x(crashes[0]!.type) }).txt(x(crashes[0]!.decoded ?? crashes[0]!.report));
      if (t.log && t.log.length > 0) c.ele('system-out').txt(x(t.log.join('\n')));
    }
  }
  fs.writeFileSync(path.join(rec.dir, 'junit.xml'), root.end({ prettyPrint: true }));
}

export function summaryMarkdown(rec: RunRecord): string {
  const k = rec.kernel;
  const lines: string[] = [];
  lines.push(`# kernel-lab run ${rec.id}: **${rec.status.toUpperCase()}**`, '');
  if (rec.reason) lines.push(`${rec.reason}`, '');
  const d = rec.base?.debian;
  if (d) lines.push(`- base: ${d.package} ${d.version}, sha256 ${d.sha256}; ${d.pinned ? `the pinned base (${d.pin.file})` : `**not the pinned base** ${d.pin.version} (${d.pin.file}); asked: --base ${d.asked}`}`);
  else if (rec.base) lines.push(`- base: ${rec.base.desc} (not a Debian pin: --kernel-src)`);
  if (rec.series) {
    const sr = rec.series;
    const base = sr.baseCommit ? `base-commit ${sr.baseCommit.slice(0, 12)} (${sr.baseMatches === true ? 'the lab\'s base' : sr.baseMatches === false ? '**not the lab\'s base**' : 'not checked'})` : 'no base-commit';
    lines.push(`- series: ${sr.subject} <${sr.messageId}>: v${sr.version} (the ${sr.source === 'lore' ? 'lore thread' : 'thread'} has ${sr.versions.map((v) => `v${v}`).join(', ')}), ${sr.patches} patch(es), trailers from the list applied (b4); ${base}`);
  }
  lines.push(`- kernel: ${k?.version ?? '?'} from ${k?.base ?? '?'}; patches: ${k && k.patches.length > 0 ? [...new Set(k.patches.map((p) => p.set))].join(', ') + ` (${k.patches.length})` : 'none'}; build ${k?.buildKey ?? '?'}${k?.cached ? ' (cached)' : ''}`);
  lines.push(`- accel: ${rec.accel ?? '?'}${rec.accel === 'tcg' ? ' (software emulation: timings are TCG figures)' : ''}; debug kernel: ${rec.options.debug ? 'yes' : 'no'}${rec.options.kmemleak ? '; kmemleak: scanned after each suite' : ''}`);
  if (rec.remote) {
    const r = rec.remote;
    lines.push(`- guest host: ${r.target} over SSH (accel ${r.accel ?? '?'}; ${r.qemu}; host key ${r.hostKey}${r.knownHost ? '' : ', not in known_hosts'})`);
  }
  if (rec.guestB) lines.push(`- two guests on one link: guest a's files here, guest b's in ${rec.guestB.dir}/ (it ended: ${rec.guestB.ended}${rec.guestB.stoppedBy ? `; ${rec.guestB.stoppedBy}, the other was stopped` : ''}); two-guest tests show both statuses`);
  lines.push(`- timings: ${Object.entries(rec.timings).map(([s, v]) => `${s} ${v.toFixed(1)} s`).join(', ')}`, '');
  if (rec.tests.length > 0) {
    lines.push('| suite | test | status | time (s) | note |', '|---|---|---|---|---|');
    for (const t of rec.tests) {
      const crash = rec.crashes.find((c) => c.test === `${t.suite}/${t.name}`);
      const note = [t.reason, crash ? `kernel: ${crash.title}` : '', t.subtests ? `subtests: ${subtestCounts(t.subtests) || 'none reported'}` : ''].filter(Boolean).join('; ').replace(/\|/g, '\\|');
      const runs = t.runs ? ` (${t.runs.pass ?? 0}/${Object.values(t.runs).reduce((a, n) => a + (n ?? 0), 0)} passed)` : t.guests ? ` (a ${t.guests.a}, b ${t.guests.b})` : '';
      const known = t.known ? ` — known: ${t.known.reason}${t.known.link ? ` (${t.known.link})` : ''}` : '';
      lines.push(`| ${t.suite} | ${t.name} | ${t.status}${runs} | ${t.durationS} | ${note}${known.replace(/\|/g, '\\|')} |`);
    }
    lines.push('');
  }
  if (rec.crashes.length > 0) {
    lines.push('## Kernel reports', '');
    for (const c of rec.crashes) {
      lines.push(`- **${c.type}**: ${c.title} — in ${c.test ?? '(no test running)'}${c.guest ? ` on guest ${c.guest}` : ''} (${c.guest ? `guest-${c.guest}/` : ''}console.log line ${c.line}${c.count > 1 ? `, ${c.count} times` : ''}${c.corrupted ? `; corrupted: ${c.corruptedReason ?? 'yes'}` : ''})`);
      if (c.location) lines.push(`  - at ${c.location}${c.maintainers ? `; maintainers: ${c.maintainers.join(', ')}` : ''}`);
    }
    lines.push('');
    for (const c of rec.crashes.filter((x) => x.decoded)) lines.push(`### ${c.title}`, '', '```', c.decoded!.trimEnd(), '```', '');
  }
  if (rec.postmortem) lines.push(...postmortemMarkdown(rec.postmortem));
  if (rec.dump) lines.push(...dumpMarkdown(rec.dump));
  if (rec.knownIssues && rec.knownIssues.length > 0) {
    lines.push('## Known issues', '');
    for (const k of rec.knownIssues) {
      const what = k.issue.test ?? `report "${k.issue.title}"`;
      lines.push(`- ${what}: ${k.seen ? 'seen, as expected' : '**not seen: it stopped happening** (remove it from suites/known-issues.json?)'} — ${k.issue.reason}${k.issue.link ? ` (${k.issue.link})` : ''}`);
    }
    lines.push('');
  }
  if (rec.baseline) {
    lines.push(`## Against the unpatched base (${rec.baseline.status})`, '');
    const subs = rec.tests.reduce((a, t) => a + (t.subtests?.length ?? 0), 0);
    if (rec.baseline.differences.length === 0) lines.push(subs > 0 ? `No test changed status, nor any of their ${subs} subtests.` : 'No test changed status.');
    else {
      lines.push('| test | base | patched | what |', '|---|---|---|---|');
      for (const d of rec.baseline.differences) lines.push(`| ${d.test} | ${d.base} | ${d.patched} | ${(d.context ?? '').replace(/\|/g, '\\|')} |`);
    }
    lines.push('');
    if (rec.baseline.newCrashes.length > 0) {
      lines.push('Kernel reports only the patched kernel shows:', '');
      for (const c of rec.baseline.newCrashes) lines.push(`- ${c.type}: ${c.title} (${c.test ?? 'outside tests'})`);
    } else lines.push('No kernel report appears only on the patched kernel.');
    lines.push('');
  }
  return lines.join('\n');
}

/** Tests whose status differs between the patched run and the base, and kernel reports only the patched kernel shows. */
export function compareRuns(patched: Pick<RunRecord, 'tests' | 'crashes'>, base: Pick<RunRecord, 'tests' | 'crashes'>): { differences: BaselineDiff[]; newCrashes: CrashRecord[] } {
  const key = (t: TestRecord) => `${t.suite}/${t.name}`;
  const differences: BaselineDiff[] = [];
  const all = new Set([...patched.tests.map(key), ...base.tests.map(key)]);
  for (const k of [...all].sort()) {
    const a = patched.tests.find((t) => key(t) === k)?.status ?? 'absent';
    const b = base.tests.find((t) => key(t) === k)?.status ?? 'absent';
    if (a !== b) differences.push({ test: k, patched: a, base: b });
    // A test's own KTAP (kselftest): its subtests by number, as each side reported them.
    const pt = patched.tests.find((t) => key(t) === k)?.subtests;
    const bt = base.tests.find((t) => key(t) === k)?.subtests;
    if (!pt || !bt) continue;
    const ns = [...new Set([...pt.map((s) => s.n), ...bt.map((s) => s.n)])].sort((x, y) => x - y);
    for (const n of ns) {
      const ps = pt.find((s) => s.n === n);
      const bs = bt.find((s) => s.n === n);
      if (ps?.status === bs?.status) continue;
      const context = ps?.context ?? bs?.context;
      const names = [...new Set([ps?.name, bs?.name].filter((x) => x))].join(' / ');
      differences.push({ test: `${k} #${n}`, patched: ps?.status ?? 'absent', base: bs?.status ?? 'absent', context: `${context ? `${context}: ` : ''}${names}` });
    }
  }
  const baseTitles = new Set(base.crashes.map((c) => c.title));
  return { differences, newCrashes: patched.crashes.filter((c) => !baseTitles.has(c.title)) };
}
