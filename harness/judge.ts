// Per-test judgement beyond what a test's own exit code says: repeated runs counted (pass,
// fail or flaky), kernel taint a test added, kernel reports charged to it, and the
// known-issues list (expected failures that do not fail the run, and are reported when
// they stop happening).
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from './errors.ts';
import { paths } from './paths.ts';
import type { CrashRecord, KnownIssue, TestRecord } from './types.ts';

/** Taint flags (kernel/panic.c, taint_flags[]): bit → letter. */
const TAINT_LETTERS = 'PFSRMBUDAWCIOELKXTNJ';
/** Flags only a kernel bug sets: machine check, bad page, died (oops), warning, soft lockup. */
const BUG_TAINT = (1 << 4) | (1 << 5) | (1 << 7) | (1 << 9) | (1 << 14);

export function taintLetters(bits: number): string {
  return [...TAINT_LETTERS].filter((_, i) => (bits & (1 << i)) !== 0).join('');
}

/**
 * A run that left a bug taint the kernel did not have before it failed, whatever its exit
 * code: the kernel complained during it (the report may have been lost or not parsed).
 * Runs are in the order the guest ran them; before the first, the boot's taint. A test a
 * kernel report is charged to is judged by that report (chargeCrashes), not its taint.
 */
export function chargeTaint(runs: TestRecord[], bootTaint: number | null, reported: Set<string> = new Set()): TestRecord[] {
  let before = bootTaint ?? 0;
  return runs.map((t) => {
    if (t.taint === undefined) return t;
    const added = t.taint & ~before & BUG_TAINT;
    before = t.taint;
    if (added === 0 || t.status === 'skip' || reported.has(`${t.suite}/${t.name}`)) return t;
    const why = `the kernel was tainted during the test (new flags ${taintLetters(added)})`;
    return { ...t, status: t.status === 'pass' ? 'fail' : t.status, reason: t.status === 'pass' ? why : `${t.reason ?? t.status}; ${why}` };
  });
}

/**
 * One record per test from one or more runs: pass, skip, fail or timeout when every run
 * agrees; flaky when some passed and some failed. The counts go in `runs`.
 */
export function aggregateRuns(runs: TestRecord[]): TestRecord[] {
  const groups = new Map<string, TestRecord[]>();
  for (const t of runs) {
    const k = `${t.suite}/${t.name}`;
    groups.set(k, [...(groups.get(k) ?? []), t]);
  }
  return [...groups.values()].map((g) => {
    if (g.length === 1) return g[0]!;
    const runsBy: NonNullable<TestRecord['runs']> = {};
    for (const t of g) {
      const k = t.status === 'pass' || t.status === 'skip' || t.status === 'timeout' ? t.status : 'fail';
      runsBy[k] = (runsBy[k] ?? 0) + 1;
    }
    const passed = runsBy.pass ?? 0;
    const bad = g.filter((t) => t.status === 'fail' || t.status === 'timeout' || t.status === 'error');
    const last = g[g.length - 1]!;
    const firstBad = bad[0];
    const mean = Math.round((g.reduce((a, t) => a + t.durationS, 0) / g.length) * 10) / 10;
    const counts = `${passed} of ${g.length} runs passed`;
    let status: TestRecord['status'];
    let reason: string | undefined;
    if (bad.length === 0) {
      status = passed > 0 ? 'pass' : 'skip';
      reason = status === 'skip' ? last.reason : undefined;
    } else if (passed > 0) {
      status = 'flaky';
      reason = `${counts}; a failed run: ${firstBad!.reason ?? firstBad!.status}`;
    } else {
      status = bad.every((t) => t.status === 'timeout') ? 'timeout' : bad.some((t) => t.status === 'fail') ? 'fail' : bad[0]!.status;
      reason = `${counts}; ${firstBad!.reason ?? firstBad!.status}`;
    }
    const taints = g.map((t) => t.taint).filter((x): x is number => x !== undefined);
    return {
      suite: last.suite,
      name: last.name,
      status,
      durationS: mean,
      ...(reason !== undefined ? { reason } : {}),
      log: (firstBad ?? last).log ?? [],
      runs: runsBy,
      ...(taints.length > 0 ? { taint: taints[taints.length - 1] } : {}),
    };
  });
}

/** A kernel report always fails the test it is charged to (unless it is a known issue). */
export function chargeCrashes(tests: TestRecord[], crashes: CrashRecord[]): TestRecord[] {
  return tests.map((t) => {
    const c = crashes.find((x) => x.test === `${t.suite}/${t.name}` && !x.known);
    if (!c) return t;
    const status = t.status === 'timeout' || t.status === 'error' ? t.status : ('fail' as const);
    if (t.reason?.includes(c.title)) return { ...t, status };
    return { ...t, status, reason: `kernel: ${c.title}${t.reason ? `; ${t.reason}` : ''}` };
  });
}

const knownSchema = z
  .array(
    z
      .object({
        test: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/).optional(),
        title: z.string().min(1).optional(),
        base: z.string().min(1).optional(),
        reason: z.string().min(1),
        link: z.string().url().optional(),
      })
      .strict()
      .refine((e) => (e.test === undefined) !== (e.title === undefined), 'each entry names a test or a report title, not both'),
  );

export const KNOWN_ISSUES_FILE = path.join(paths.suites, 'known-issues.json');

export function loadKnownIssues(file = KNOWN_ISSUES_FILE): KnownIssue[] {
  if (!fs.existsSync(file)) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  const r = knownSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new UsageError(`${file}: entry ${i.path.join('.') || '(top)'}: ${i.message}`);
  }
  return r.data;
}

/** The entries that apply to a kernel version (an entry's base is a prefix of it). */
export function knownFor(issues: KnownIssue[], version: string): KnownIssue[] {
  return issues.filter((k) => !k.base || version.startsWith(k.base));
}

/** Reports the list expects are marked known: they do not fail the run or their test. */
export function markKnownCrashes(crashes: CrashRecord[], applies: KnownIssue[]): void {
  for (const c of crashes) {
    const k = applies.find((x) => x.title === c.title);
    if (k) c.known = k;
  }
}

export interface KnownSeen {
  issue: KnownIssue;
  seen: boolean; // false: the issue stopped happening (a fix landed, or the test changed)
}

/**
 * Mark failures and reports the known-issues list expects (for this kernel version), and say
 * for each entry that applies whether it happened. Only entries whose test or suite ran count.
 */
export function applyKnownIssues(tests: TestRecord[], crashes: CrashRecord[], applies: KnownIssue[]): { tests: TestRecord[]; seen: KnownSeen[] } {
  const ran = new Set(tests.map((t) => `${t.suite}/${t.name}`));
  const seen: KnownSeen[] = [];
  const out = tests.map((t) => {
    const k = applies.find((x) => x.test === `${t.suite}/${t.name}`);
    const failed = t.status === 'fail' || t.status === 'timeout' || t.status === 'flaky';
    return k && failed ? { ...t, known: k } : t;
  });
  for (const k of applies) {
    if (k.test && ran.has(k.test)) seen.push({ issue: k, seen: out.some((t) => t.known === k) });
    if (k.title) seen.push({ issue: k, seen: crashes.some((c) => c.known === k) });
  }
  return { tests: out, seen };
}
