// KTAP parser for the agent's stream: one subtest per suite, one result line per test.
// Lines that are not KTAP (console noise, partial writes) are ignored, as KTAP allows.
import { KTAP_BOOT_TAINT_LINE, KTAP_DURATION_LINE, KTAP_START_LINE } from './agent.ts';
import type { SubtestRecord, TestRecord, TestStatus } from './types.ts';

export interface ParsedKtap {
  tests: TestRecord[];
  complete: boolean; // the top-level plan was fulfilled
  running: string | null; // suite/name started but not finished
  bootTaint: number | null; // /proc/sys/kernel/tainted before the first test
}

const RESULT = /^(\s*)(ok|not ok)\s+(\d+)\s+([^#]*?)\s*(?:#\s*(.*))?$/;

export function parseKtap(text: string): ParsedKtap {
  const tests: TestRecord[] = [];
  let suite: string | null = null;
  let topPlan: number | null = null;
  let topResults = 0;
  let log: string[] = [];
  let running: string | null = null;
  let duration = new Map<string, { s: number; taint?: number }>();
  let bootTaint: number | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const indent = /^\s*/.exec(line)![0].length;
    const body = line.trim();
    if (indent === 0 && /^1\.\.(\d+)$/.test(body)) {
      topPlan = Number(body.slice(3));
      continue;
    }
    const sub = /^# Subtest: (\S+)/.exec(body);
    if (sub) {
      suite = sub[1]!;
      continue;
    }
    const start = KTAP_START_LINE.exec(body);
    if (start) {
      running = start[1]!;
      log = [];
      continue;
    }
    const boot = KTAP_BOOT_TAINT_LINE.exec(body);
    if (boot) {
      bootTaint = Number(boot[1]);
      continue;
    }
    const dur = KTAP_DURATION_LINE.exec(body);
    if (dur) {
      duration.set(dur[1]!, { s: Number(dur[2]), ...(dur[4] !== undefined ? { taint: Number(dur[4]) } : {}) });
      running = null;
      continue;
    }
    const m = RESULT.exec(line);
    if (m) {
      const isTop = m[1]!.length === 0;
      if (isTop) {
        topResults++;
        // exec mode has no nested suite: its single top-level line is the test.
        if (suite !== 'exec') continue;
      }
      const name = m[4]!.trim();
      const directive = m[5] ?? '';
      let status: TestStatus = m[2] === 'ok' ? 'pass' : 'fail';
      let reason: string | undefined;
      if (/^SKIP\b/i.test(directive)) {
        status = 'skip';
        reason = directive.replace(/^SKIP\s*/i, '') || undefined;
      } else if (/^TIMEOUT\b/i.test(directive)) {
        status = 'timeout';
        reason = `timed out after ${directive.replace(/^TIMEOUT\s*/i, '')}`;
      } else if (directive) reason = directive;
      const s = suite ?? 'unknown';
      const d = duration.get(`${s}/${name}`);
      duration.delete(`${s}/${name}`); // a repeated run gets its own
      tests.push({ suite: s, name, status, durationS: d?.s ?? 0, reason, log, ...(d?.taint !== undefined ? { taint: d.taint } : {}) });
      log = [];
      continue;
    }
    if (body.startsWith('#') && running) log.push(body.replace(/^#\s?/, ''));
  }
  return { tests, complete: topPlan !== null && topResults >= topPlan, running, bootTaint };
}

/**
 * The KTAP a test printed of its own (a kselftest program: `ok 3 desc`, `not ok 4 desc #
 * SKIP why`), taken as it is: one record per top-level result line of its output, with the
 * comment that opened it (kselftest's `# [RUN] ...`) as its context. Nested results and
 * anything that is not KTAP are ignored. The output is the guest's: untrusted, bounded.
 */
export function parseSubtests(log: string[]): SubtestRecord[] {
  const out: SubtestRecord[] = [];
  let context: string | undefined;
  for (const line of log) {
    const m = /^(ok|not ok)\s+(\d+)\s+(?:-\s+)?([^#]*?)\s*(?:#\s*(.*))?$/.exec(line);
    if (m) {
      const directive = (m[4] ?? '').trim();
      let status: SubtestRecord['status'] = m[1] === 'ok' ? 'pass' : 'fail';
      let reason: string | undefined;
      const d = /^(SKIP|XFAIL|TODO)\b\s*(.*)$/i.exec(directive);
      if (d) {
        status = d[1]!.toUpperCase() === 'SKIP' ? 'skip' : 'xfail';
        reason = d[2] || undefined;
      } else if (directive) reason = directive;
      out.push({ n: Number(m[2]), name: m[3]!.slice(0, 200), status, ...(reason ? { reason: reason.slice(0, 200) } : {}), ...(context ? { context } : {}) });
      context = undefined;
      if (out.length >= 10000) break;
      continue;
    }
    if (/^(\d+\.\.\d+|(K)?TAP version \d+)/.test(line)) {
      context = undefined; // what came before the plan introduced no subtest
      continue;
    }
    // The comment that opened the case: the first since the last result, or kselftest's
    // '[RUN] ...' line over anything printed before it.
    const c = /^#\s*(.*\S)/.exec(line);
    if (c && (context === undefined || (/^\[RUN\]/.test(c[1]!) && !/^\[RUN\]/.test(context))) && !/^(Planned tests|Totals:)/.test(c[1]!)) context = c[1]!.slice(0, 200);
  }
  return out;
}

/** Counts of a test's subtests by status, e.g. `212 pass, 40 skip`. */
export function subtestCounts(subs: SubtestRecord[]): string {
  const n = new Map<string, number>();
  for (const s of subs) n.set(s.status, (n.get(s.status) ?? 0) + 1);
  return ['pass', 'fail', 'xfail', 'skip'].filter((k) => n.has(k)).map((k) => `${n.get(k)} ${k}`).join(', ');
}
