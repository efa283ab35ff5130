// bisect: which patch of a series broke it? A binary search over the series' prefixes,
// each prefix built in one series tree (incrementally, as the inner loop does) and booted,
// each step judged by one failure signature: a test (suite/name) that fails, or a kernel
// report whose title matches. A lab error (exit 3) stops the search: it is never "bad".
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { InfraError, oneLine, PatchFailure, UsageError } from './errors.ts';
import { normaliseTitle } from './crash.ts';
import { log } from './log.ts';
import { paths } from './paths.ts';
import { runLab } from './pipeline.ts';
import { plan } from './plan.ts';
import { patchSubject } from './stages/patches.ts';
import { createRunDir, newRunId } from './stages/results.ts';
import type { RunOptions, RunRecord } from './types.ts';

export type Signature = { test: string } | { report: string };

export type StepVerdict = 'good' | 'bad' | 'untestable';

export interface BisectStep {
  prefix: number; // how many patches of the series were applied (0: the base)
  last: string | null; // the last of them
  verdict: StepVerdict;
  good: number; // runs without the signature
  bad: number; // runs with it
  why: string;
  runDir: string;
}

export interface BisectResult {
  dir: string;
  signature: Signature;
  patches: { file: string; subject: string }[];
  steps: BisectStep[];
  firstBad: { index: number; file: string; subject: string } | null; // 1-based
  conclusion: string;
  exitCode: number; // 0: named the patch, 1: no culprit (the signature is absent, or untestable steps hide it), 2/3 as usual
}

export function describeSignature(s: Signature): string {
  return 'test' in s ? `test ${s.test} fails` : `kernel report "${s.report}"`;
}

/**
 * One run against the signature: bad when it shows, good when the run says it cannot (the
 * test passed; no report with that title), untestable when the run cannot tell (the test
 * skipped or never ran, the kernel did not build).
 */
export function judgeRun(rec: Pick<RunRecord, 'status' | 'reason' | 'tests' | 'crashes'>, sig: Signature): { verdict: StepVerdict; why: string } {
  if ('report' in sig) {
    const want = normaliseTitle(sig.report);
    const hit = rec.crashes.find((c) => normaliseTitle(c.title) === want);
    if (hit) return { verdict: 'bad', why: `report "${hit.title}"${hit.test ? ` in ${hit.test}` : ''}` };
    if (rec.tests.length === 0 && rec.status !== 'pass') return { verdict: 'untestable', why: `no test ran: ${rec.reason ?? rec.status}` };
    return { verdict: 'good', why: rec.crashes.length > 0 ? `other reports only: ${rec.crashes.map((c) => c.title).join('; ')}` : 'no kernel report' };
  }
  const t = rec.tests.find((x) => `${x.suite}/${x.name}` === sig.test);
  if (!t) return { verdict: 'untestable', why: `${sig.test} did not run: ${rec.reason ?? rec.status}` };
  if (t.status === 'pass') return { verdict: 'good', why: `${sig.test} passed` };
  if (t.status === 'skip') return { verdict: 'untestable', why: `${sig.test} skipped: ${t.reason ?? ''}` };
  return { verdict: 'bad', why: `${sig.test}: ${t.status}${t.reason ? ` (${t.reason})` : ''}` };
}

/** A step of several runs is good only when most of them are good (flaky failures). */
export function majority(good: number, bad: number): StepVerdict {
  if (good + bad === 0) return 'untestable';
  return good > bad ? 'good' : 'bad';
}

/**
 * The search itself, over prefixes 0..n, given a way to judge one: prefix 0 must be good
 * and n bad (else there is nothing to find); then halve [good, bad] until they touch.
 * An untestable prefix is stepped over towards the good end (as `git bisect skip`); if
 * nothing between them can be tested, the culprit is one of several patches.
 */
export async function search(n: number, judge: (k: number) => Promise<StepVerdict>): Promise<{ firstBad: number | null; range: [number, number] | null; reason: string }> {
  const v0 = await judge(0);
  if (v0 !== 'good') return { firstBad: null, range: null, reason: v0 === 'bad' ? 'the base already shows it: no patch of the series is to blame' : 'the base cannot be judged' };
  const vn = await judge(n);
  if (vn !== 'bad') return { firstBad: null, range: null, reason: vn === 'good' ? 'the whole series does not show it' : 'the whole series cannot be judged' };
  let good = 0;
  let bad = n;
  const untestable = new Set<number>();
  while (bad - good > 1) {
    let mid = Math.floor((good + bad) / 2);
    while (untestable.has(mid) && mid > good) mid--;
    if (mid === good) {
      mid = Math.floor((good + bad) / 2) + 1;
      while (untestable.has(mid) && mid < bad) mid++;
      if (mid === bad) return { firstBad: null, range: [good + 1, bad], reason: `patches ${good + 1} to ${bad} cannot be told apart (the prefixes between them are untestable)` };
    }
    const v = await judge(mid);
    if (v === 'good') good = mid;
    else if (v === 'bad') bad = mid;
    else untestable.add(mid);
  }
  return { firstBad: bad, range: [bad, bad], reason: `prefix ${good} is good and prefix ${bad} is bad` };
}

export function bisectMarkdown(r: BisectResult): string {
  const lines = [`# bisect: ${describeSignature(r.signature)}`, '', r.conclusion, '', '| prefix | last patch | verdict | good | bad | why |', '|---|---|---|---|---|---|'];
  for (const s of r.steps) lines.push(`| ${s.prefix} | ${s.last ?? '(base)'} | ${s.verdict} | ${s.good} | ${s.bad} | ${s.why.replace(/\|/g, '\\|')} |`);
  lines.push('', 'Patches:', '', ...r.patches.map((p, i) => `${i + 1}. ${p.subject} (${path.basename(p.file)})`), '');
  return lines.join('\n');
}

export async function bisect(opts: RunOptions, sig: Signature, runs: number): Promise<BisectResult> {
  const p = plan(opts);
  const patches = p.sets.flatMap((s) => s.patches);
  if (patches.length === 0) throw new UsageError('bisect needs a patch series', 'give --patch <set[,set...]|dir|mbox>');
  if ('test' in sig && !/^[\w.-]+\/[\w.-]+$/.test(sig.test)) throw new UsageError(`--test ${sig.test}: not suite/name`, 'e.g. --test smoke/io_uring_probe_reports_opcodes');
  if ('test' in sig && opts.suites !== null && !opts.suites.includes(sig.test.split('/')[0]!)) throw new UsageError(`--test ${sig.test}: its suite is not among --suite ${opts.suites.join(',')}`);
  const id = newRunId('bisect');
  const dir = createRunDir(opts.resultsDir, id, true);
  log(`bisect ${id}: ${patches.length} patches, looking for: ${describeSignature(sig)}; results in ${dir}`);
  // The series' prefixes take turns in one place, so each step is an incremental build of
  // the same series tree; the sets' own config fragments apply to every step, base included.
  const work = path.join(paths.cacheRoot, 'bisect', crypto.createHash('sha256').update(patches.join('\n')).digest('hex').slice(0, 16), 'series');
  const fragments = p.sets.map((s) => s.configFragment).filter((f): f is string => f !== null);
  const suites = opts.suites ?? ('test' in sig ? [sig.test.split('/')[0]!] : null);
  const steps: BisectStep[] = [];
  const judgeStep = async (k: number): Promise<StepVerdict> => {
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { recursive: true });
    patches.slice(0, k).forEach((f, i) => fs.copyFileSync(f, path.join(work, `${String(i + 1).padStart(4, '0')}-${path.basename(f).replace(/^\d{4}-/, '')}`)));
    const step: BisectStep = { prefix: k, last: k > 0 ? path.basename(patches[k - 1]!) : null, verdict: 'untestable', good: 0, bad: 0, why: '', runDir: '' };
    steps.push(step);
    const whys: string[] = [];
    for (let i = 0; i < runs; i++) {
      const stepOpts: RunOptions = { ...opts, patch: k > 0 ? [work] : [], suites, configFragments: [...fragments, ...opts.configFragments], compareBaseline: false, label: `bisect-${k}`, resultsDir: dir, repeat: 1 };
      let rec: RunRecord;
      try {
        rec = (await runLab(stepOpts)).record;
      } catch (err) {
        // A prefix that does not apply or does not build (a series that does not bisect)
        // cannot be judged; anything else is the lab's and ends the search (exit 3).
        if ((err instanceof UsageError && k > 0) || err instanceof PatchFailure) {
          whys.push(`${err instanceof PatchFailure ? 'does not build' : 'does not apply'}: ${oneLine(err)}`);
          break;
        }
        throw err;
      }
      step.runDir = path.relative(dir, rec.dir);
      if (rec.status === 'error' || rec.status === 'incomplete') throw new InfraError(`bisect: prefix ${k} ended in a lab error: ${rec.reason ?? rec.status}`, `see ${rec.dir}`);
      const j = judgeRun(rec, sig);
      if (j.verdict === 'good') step.good++;
      if (j.verdict === 'bad') step.bad++;
      whys.push(j.why);
      if (j.verdict === 'untestable') break;
      // enough runs for a majority either way
      if (step.good > runs / 2 || step.bad >= runs / 2) break;
    }
    step.verdict = whys.length > 0 && step.good + step.bad === 0 ? 'untestable' : majority(step.good, step.bad);
    step.why = [...new Set(whys)].join('; ').slice(0, 500);
    log(`bisect: prefix ${k}/${patches.length}${step.last ? ` (… ${step.last})` : ' (base)'}: ${step.verdict.toUpperCase()} (${step.good} good, ${step.bad} bad): ${step.why}`);
    return step.verdict;
  };
  const found = await search(patches.length, judgeStep);
  fs.rmSync(path.dirname(work), { recursive: true, force: true });
  const list = patches.map((f) => ({ file: path.relative(paths.repoRoot, f).startsWith('..') ? f : path.relative(paths.repoRoot, f), subject: patchSubject(f).replace(/^\[[^\]]*\]\s*/, '') }));
  const firstBad = found.firstBad !== null ? { index: found.firstBad, ...list[found.firstBad - 1]! } : null;
  const conclusion = firstBad ? `First bad patch: ${firstBad.index}/${patches.length} "${firstBad.subject}" (${path.basename(firstBad.file)}): ${found.reason}.` : `No first bad patch: ${found.reason}.`;
  const result: BisectResult = { dir, signature: sig, patches: list, steps, firstBad, conclusion, exitCode: firstBad ? 0 : 1 };
  fs.writeFileSync(path.join(dir, 'bisect.json'), `${JSON.stringify(result, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'summary.md'), bisectMarkdown(result));
  return result;
}
