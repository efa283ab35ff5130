// Expected results: a suite's known non-passes on one base, as data, not code.
//
//   suites/<suite>/expected/<Debian linux-source-6.12 version>.json
//   { "base": "<that version>",
//     "tests": { "<test>": { "status": "skip" | "fail" | "timeout", "reason": "why",
//                            "match": "<regex the guest's reason must match>",   (optional)
//                            "flaky": true } } }                                 (optional)
//
// A test whose raw outcome (what the guest reported, before the host judged its skip) is
// the listed status, and whose reason matches `match`, is known: it is recorded as a SKIP
// whose reason names the list and says why, so it neither fails the run nor reads as a pass.
// A listed test that passes stays a pass (a note asks to drop a stale entry, unless it is
// flaky); one that ends any other way is judged as if it were not listed. A two-guest test
// is known when either guest's own outcome is the listed one: the other guest's failure in
// the same test follows from it (its peer stalled or went away), and the record says which
// guest showed the known outcome and what the other said. A list never hides
// a kernel report: crashes are judged apart (results.ts: verdict). Upstream suites
// (liburing) need this: their tests skip for reasons the lab's requires cannot name
// (no NVMe device, a config item the lab kernel leaves out), and some fail on the base.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Suite } from './catalog.ts';
import { UsageError } from './errors.ts';
import { paths } from './paths.ts';
import type { TestRecord } from './types.ts';

const expectationSchema = z
  .object({
    status: z.enum(['skip', 'fail', 'timeout']),
    reason: z.string().min(1, 'say why the test does not pass on this base'),
    match: z.string().optional(),
    flaky: z.boolean().default(false),
  })
  .strict();

const fileSchema = z
  .object({
    base: z.string().min(1),
    tests: z.record(z.string(), expectationSchema),
  })
  .strict();

export interface Expectation {
  status: 'skip' | 'fail' | 'timeout';
  reason: string;
  match: RegExp | null;
  flaky: boolean;
  file: string; // repo-relative, for the record's reason
}

/** suite/test → what the base is known to do. */
export type ExpectedResults = Map<string, Expectation>;

/** The list of one suite for one base (a Debian version); null when there is none. */
export function expectedFile(suite: Pick<Suite, 'dir'>, baseVersion: string): string {
  return path.join(suite.dir, 'expected', `${baseVersion}.json`);
}

/**
 * The expected results of the run's suites on its base. No base version (a --kernel-src
 * tree) or no list for it: nothing is expected, every non-pass counts. A list that is not
 * valid, or names a test its suite does not have, is a usage error naming the file.
 */
export function loadExpected(suites: Pick<Suite, 'name' | 'dir' | 'tests'>[], baseVersion: string | null): ExpectedResults {
  const out: ExpectedResults = new Map();
  if (!baseVersion) return out;
  for (const s of suites) {
    const file = expectedFile(s, baseVersion);
    if (!fs.existsSync(file)) continue;
    const rel = path.relative(paths.repoRoot, file).startsWith('..') ? file : path.relative(paths.repoRoot, file);
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new UsageError(`${rel}: not valid JSON: ${(err as Error).message}`);
    }
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new UsageError(`${rel}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
    }
    if (parsed.data.base !== baseVersion) throw new UsageError(`${rel}: says base ${parsed.data.base}, but its name is for ${baseVersion}`);
    for (const [name, e] of Object.entries(parsed.data.tests)) {
      if (!s.tests.some((t) => t.name === name)) throw new UsageError(`${rel}: test '${name}' is not in suite ${s.name}`, 'remove the entry or fix its name');
      let match: RegExp | null = null;
      if (e.match !== undefined) {
        try {
          match = new RegExp(e.match);
        } catch (err) {
          throw new UsageError(`${rel}: ${name}.match: ${(err as Error).message}`);
        }
      }
      out.set(`${s.name}/${name}`, { status: e.status, reason: e.reason, match, flaky: e.flaky, file: rel });
    }
  }
  return out;
}

/**
 * The judged tests with the expected results applied. `raw` is what the guest reported
 * (before judgeSkips turned an unexplained skip into a failure); `judged` is the host's
 * verdict per test. Only a test whose raw outcome is the listed one changes.
 */
export function applyExpected(judged: TestRecord[], raw: TestRecord[], expected: ExpectedResults): TestRecord[] {
  if (expected.size === 0) return judged;
  return judged.map((t) => {
    const e = expected.get(`${t.suite}/${t.name}`);
    if (!e) return t;
    const r = raw.find((x) => x.suite === t.suite && x.name === t.name) ?? t;
    const known = (status: string, reason: string | undefined) => status === e.status && (e.match === null || e.match.test(reason ?? ''));
    if (known(r.status, r.reason)) {
      const said = r.reason ? `; the test said: ${r.reason}` : '';
      return { ...t, status: 'skip' as const, reason: `known ${e.status} on this base (${e.file}): ${e.reason}${said}` };
    }
    // two guests: one guest's known outcome, and the other's failure as its consequence
    const g = r.guests;
    if (g && g.a !== 'pass' && g.b !== 'pass') {
      const shown = known(g.a, g.aReason) ? 'a' : known(g.b, g.bReason) ? 'b' : null;
      if (shown) {
        const other = shown === 'a' ? 'b' : 'a';
        const otherSaid = (shown === 'a' ? g.bReason : g.aReason) ?? (shown === 'a' ? g.b : g.a);
        const said = `; guest ${shown} said: ${(shown === 'a' ? g.aReason : g.bReason) ?? e.status}; guest ${other}, as a consequence: ${otherSaid}`;
        return { ...t, status: 'skip' as const, reason: `known ${e.status} on this base (${e.file}), shown by guest ${shown}: ${e.reason}${said}` };
      }
    }
    if (r.status === 'pass') {
      return e.flaky ? t : { ...t, reason: `passes, though ${e.file} lists it as a known ${e.status}: drop the entry` };
    }
    const why = `${e.file} expects ${e.status}${e.match ? ` matching /${e.match.source}/` : ''}`;
    return { ...t, reason: `${t.reason ?? t.status} (not the known outcome: ${why})` };
  });
}
