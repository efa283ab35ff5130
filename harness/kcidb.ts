// kcidb.json: the run in KernelCI's common reporting schema (KCIDB v5.3), so a CI that
// submits to KernelCI's database, or reads it like one, takes the lab's verdict without a
// translation of its own. One checkout (the base and the patches), one build, a test per
// test, and each kernel report an issue with an incident on the test it was charged to.
// The constraints (origin and id patterns, the test path, the status enum, patchset_hash)
// are the schema's; kcidb.test.ts checks them.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { patchsetHash } from './stages/patches.ts';
import type { RunRecord, TestRecord } from './types.ts';

export const ORIGIN = 'kernel_lab';
export const KCIDB_VERSION = { major: 5, minor: 3 };

type Status = 'FAIL' | 'ERROR' | 'MISS' | 'PASS' | 'DONE' | 'SKIP';

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
/** A test path element: KCIDB allows [a-zA-Z0-9_-] between the dots. */
const pathPart = (s: string) => s.replace(/[^a-zA-Z0-9_-]/g, '_') || '_';
/** Strings KCIDB stores: no NUL, bounded. */
const text = (s: string, max: number) => {
  const clean = s.replace(/\u0000/g, '\ufffd');
  return clean.length > max ? `${clean.slice(0, max - 20)}\n[... cut by the lab]` : clean;
};

function testStatus(t: TestRecord, failOnFlaky: boolean): Status {
  switch (t.status) {
    case 'pass':
      return 'PASS';
    case 'fail':
      return 'FAIL';
    case 'skip':
      return 'SKIP';
    case 'flaky':
      return failOnFlaky ? 'FAIL' : 'PASS';
    case 'timeout':
      return 'ERROR';
    case 'error':
      // planned but never started: the guest stopped before it (the lab could not run it)
      return /^not run\b/.test(t.reason ?? '') ? 'MISS' : 'ERROR';
  }
}

export function kcidbReport(rec: RunRecord): Record<string, unknown> {
  const k = rec.kernel;
  const patches = k?.patches ?? [];
  const sets = [...new Set(patches.map((p) => p.set))];
  const hash = patches.length > 0 ? patchsetHash(patches.map((p) => p.sha256)) : '';
  const baseSha = rec.base?.sha256 ?? k?.baseSha256 ?? '';
  const checkoutId = `${ORIGIN}:ck-${sha(`${baseSha}|${hash}`)}`;
  const version = rec.base?.version ?? k?.version;
  // A run the code failed before it had a kernel: a patch that did not apply (no build
  // started), or a build that failed (the patches applied).
  const buildFailed = rec.status === 'fail' && !k && rec.timings.build !== undefined;
  const applied = !(rec.status === 'fail' && !k && !buildFailed);
  const checkout: Record<string, unknown> = {
    id: checkoutId,
    origin: ORIGIN,
    tree_name: 'linux-6.12.y',
    ...(version ? { git_commit_name: `v${version}` } : {}),
    patchset_hash: hash,
    start_time: rec.startedAt,
    valid: applied,
    ...(!applied && rec.reason ? { log_excerpt: text(rec.reason, 16384) } : {}),
    misc: {
      base: rec.base?.desc ?? null,
      base_sha256: baseSha || null,
      debian: rec.base?.debian ? { package: rec.base.debian.package, version: rec.base.debian.version, pinned: rec.base.debian.pinned } : null,
      patch_sets: sets,
      patches: patches.map((p) => ({ set: p.set, subject: p.subject, sha256: p.sha256 })),
    },
  };
  const report: Record<string, unknown> = { version: KCIDB_VERSION, checkouts: [checkout], builds: [], tests: [], issues: [], incidents: [] };
  if (buildFailed) {
    (report.builds as unknown[]).push({
      id: `${ORIGIN}:b-${rec.id}`,
      checkout_id: checkoutId,
      origin: ORIGIN,
      architecture: 'x86_64',
      duration: rec.timings.build,
      status: 'FAIL',
      ...(rec.reason ? { log_excerpt: text(rec.reason, 16384) } : {}),
    });
  }
  if (!k) return report;

  let compiler: string | undefined;
  try {
    compiler = (JSON.parse(fs.readFileSync(path.join(rec.dir, 'metadata.json'), 'utf8')) as { compiler?: string }).compiler;
  } catch {
    // a run that stopped before its build left no metadata
  }
  const buildId = `${ORIGIN}:b-${k.buildKey}`;
  const variant = [rec.options.debug ? 'debug' : '', rec.options.kmemleak ? 'kmemleak' : ''].filter(Boolean);
  (report.builds as unknown[]).push({
    id: buildId,
    checkout_id: checkoutId,
    origin: ORIGIN,
    architecture: 'x86_64',
    ...(compiler ? { compiler } : {}),
    config_name: ['kernel-lab', ...sets, ...variant].join('+'),
    ...(rec.timings.build !== undefined ? { duration: rec.timings.build } : {}),
    status: 'PASS',
    misc: { build_key: k.buildKey, config_sha256: k.configSha256, cached: k.cached, features: k.features },
  });

  const failOnFlaky = rec.options.failOnFlaky ?? false;
  const accel = rec.accel ?? 'tcg';
  const env = { comment: `QEMU x86_64, ${accel === 'kvm' ? 'KVM' : 'TCG -cpu max'}${rec.remote ? ` on ${rec.remote.target}` : ''}`, misc: { accel, memory_mib: rec.options.memoryMiB, cpus: rec.options.cpus } };
  const testId = (t: { suite: string; name: string }) => `${ORIGIN}:${rec.id}:${pathPart(t.suite)}.${pathPart(t.name)}`;
  for (const t of rec.tests) {
    const excerpt = [t.reason ?? '', ...(t.log ?? []).slice(-40)].filter(Boolean).join('\n');
    (report.tests as unknown[]).push({
      id: testId(t),
      build_id: buildId,
      origin: ORIGIN,
      path: `${ORIGIN}.${pathPart(t.suite)}.${pathPart(t.name)}`,
      environment: env,
      status: testStatus(t, failOnFlaky),
      duration: t.durationS,
      ...(excerpt ? { log_excerpt: text(excerpt, 16384) } : {}),
      ...(t.status === 'flaky' || t.runs || t.known
        ? {
            misc: {
              ...(t.status === 'flaky' ? { flaky: true } : {}),
              ...(t.runs ? { runs: t.runs } : {}),
              ...(t.known ? { known_issue: { reason: t.known.reason, ...(t.known.link ? { link: t.known.link } : {}) } } : {}),
            },
          }
        : {}),
    });
  }

  // A kernel report is an issue (the same title on any run is the same issue), present in
  // the test it was charged to, or in the build when no test was running.
  const issues = new Map<string, Record<string, unknown>>();
  for (const [i, c] of rec.crashes.entries()) {
    const issueId = `${ORIGIN}:${sha(c.title).slice(0, 24)}`;
    if (!issues.has(issueId)) {
      issues.set(issueId, {
        id: issueId,
        version: 1,
        origin: ORIGIN,
        report_subject: text(c.title, 1000),
        culprit: { code: !c.known, tool: false, harness: false },
        ...(c.known ? { comment: text(`known issue: ${c.known.reason}`, 1000) } : {}),
        misc: { type: c.type, ...(c.frame ? { frame: c.frame } : {}), ...(c.location ? { location: c.location } : {}) },
      });
    }
    const charged = c.test ? rec.tests.find((t) => `${t.suite}/${t.name}` === c.test) : undefined;
    (report.incidents as unknown[]).push({
      id: `${ORIGIN}:${rec.id}:i${i + 1}`,
      origin: ORIGIN,
      issue_id: issueId,
      issue_version: 1,
      ...(charged ? { test_id: testId(charged) } : { build_id: buildId }),
      present: true,
      ...(c.count > 1 ? { comment: `${c.count} times` } : {}),
    });
  }
  report.issues = [...issues.values()];
  return report;
}

export function writeKcidb(rec: RunRecord): void {
  fs.writeFileSync(path.join(rec.dir, 'kcidb.json'), `${JSON.stringify(kcidbReport(rec), null, 1)}\n`);
}
