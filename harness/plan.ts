// What a run will do, decided before anything is built: the sets, suites, config
// fragments, base and remote from the command line (bad input is a usage error here), and,
// once the image is built, which tests the guest runs, which the host skips and why.
import fs from 'node:fs';
import path from 'node:path';
import { plannedTests, type PlannedTest } from './agent.ts';
import { commonPin, parseBaseOption, type BaseRequest } from './base.ts';
import { dropRepeatedPatches, loadPatchSet, resolveSuite, unmetRequirement, type PatchSet, type Suite } from './catalog.ts';
import { UsageError } from './errors.ts';
import { loadKnownIssues } from './judge.ts';
import { parseConfigItem, parseFragment } from './kconfig.ts';
import { paths } from './paths.ts';
import { checkRemote, type RemoteTarget } from './remote.ts';
import { checkKernelSrc } from './stages/source.ts';
import { fragmentFiles, type FragmentInput } from './stages/config.ts';
import type { KnownIssue, RunOptions, TestRecord } from './types.ts';

export const DEFAULT_SUITES = ['smoke', 'uring'];

export interface Plan {
  sets: PatchSet[];
  suites: Suite[];
  fragments: FragmentInput[];
  features: string[];
  remote: RemoteTarget | null;
  base: BaseRequest;
  known: KnownIssue[]; // suites/known-issues.json
  runsPerTest: number; // at most: --repeat plus --retry-failed
}

/** Parse and check all input before anything is built: bad input is a usage error. */
export function plan(opts: RunOptions): Plan {
  if (opts.patch.includes('none') && opts.patch.length > 1) throw new UsageError(`--patch none cannot be combined with other sets (${opts.patch.join(',')})`);
  const loaded = opts.patch.filter((p) => p !== 'none').map((p) => loadPatchSet(p, opts.seriesVersion ?? null));
  const sets = dropRepeatedPatches(loaded);
  if (opts.seriesVersion !== undefined && !sets.some((s) => s.series)) throw new UsageError('--series-version picks a revision of a thread', 'give --patch a thread mbox or lore:<message-id>');
  const names = sets.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`patch set '${dup}' is given twice`);
  if (opts.exec !== null && opts.suites !== null) throw new UsageError('--exec and --suite are exclusive', 'run the command, or the suites');
  if (opts.exec !== null && opts.exec.trim() === '') throw new UsageError('--exec needs a command');
  if (opts.kernelSrc !== null) checkKernelSrc(opts.kernelSrc);
  if (opts.base !== undefined && opts.kernelSrc !== null) throw new UsageError('--base and --kernel-src are exclusive', 'a --kernel-src tree is its own base');
  const base: BaseRequest = { pin: commonPin(sets), want: opts.base !== undefined ? parseBaseOption(opts.base) : { kind: 'pin' } };
  const remote = opts.remote !== undefined ? checkRemote(opts.remote, opts.remoteKey) : null;
  let suiteNames: string[] = [];
  if (opts.exec === null) {
    suiteNames = opts.suites ?? [...new Set([...DEFAULT_SUITES, ...sets.flatMap((s) => s.defaultSuites)])];
  }
  const suites = killerLast(suiteNames.map(resolveSuite));
  const pairSuite = suites.find((s) => s.network === 'pair');
  if (pairSuite && remote) throw new UsageError(`suite ${pairSuite.name} boots two guests on one link, which --remote does not do`, 'run it here, without --remote');
  const fragments: FragmentInput[] = fragmentFiles({ debug: opts.debug, kmemleak: opts.kmemleak ?? false });
  for (const s of sets) {
    if (s.configFragment) fragments.push({ source: path.relative(paths.repoRoot, s.configFragment), text: fs.readFileSync(s.configFragment, 'utf8') });
  }
  const suiteItems = suites.flatMap((s) => [...s.requires.config, ...s.tests.flatMap((t) => t.requires?.config ?? [])]);
  if (suiteItems.length > 0) {
    fragments.push({ source: `suites (${suites.map((s) => s.name).join(',')})`, text: suiteItems.map((i) => (i.includes('=') ? i : `${i}=y`)).join('\n') });
  }
  for (const f of opts.configFragments) {
    if (!fs.existsSync(f)) throw new UsageError(`--config ${f}: no such file`);
    const text = fs.readFileSync(f, 'utf8');
    const { bad } = parseFragment(text, f);
    if (bad.length > 0) throw new UsageError(`--config ${f}:${bad[0]!.line}: '${bad[0]!.text}' is not a config item`, 'write CONFIG_X=y, CONFIG_X=value or # CONFIG_X is not set');
    fragments.push({ source: f, text });
  }
  if (opts.configItems.length > 0) {
    for (const item of opts.configItems) {
      if (!parseConfigItem(item, '--config-item')) throw new UsageError(`--config-item '${item}' is not a config item`, 'write CONFIG_X=y, CONFIG_X=m, CONFIG_X=n or CONFIG_X=value');
    }
    fragments.push({ source: '--config-item', text: opts.configItems.map((i) => (/=n$/.test(i) ? `# ${i.slice(0, -2)} is not set` : i)).join('\n') });
  }
  const repeat = opts.repeat ?? 1;
  const retry = opts.retryFailed ?? 0;
  if (repeat > 100 || retry > 100) throw new UsageError(`--repeat ${repeat} --retry-failed ${retry}: at most 100 runs of a test each`, 'a flaky test shows in far fewer');
  return { sets, suites, fragments, features: [...new Set(sets.flatMap((s) => s.features))], remote, base, known: knownIssues(opts.knownIssues), runsPerTest: repeat + retry };
}

/**
 * A suite with a test that kills guest b (`"killsPeer"`) runs after every other suite, so
 * no two-guest test of another suite comes after b is gone; two such suites cannot share
 * a run.
 */
export function killerLast(suites: Suite[]): Suite[] {
  const killers = suites.filter((s) => s.tests.some((t) => t.killsPeer));
  if (killers.length > 1) {
    const named = killers.map((s) => `${s.name} (${s.tests.find((t) => t.killsPeer)!.name})`).join(' and ');
    throw new UsageError(`suites ${named} each kill guest b in a test: one run holds one of them`, 'run them in separate runs');
  }
  return killers.length ? [...suites.filter((s) => s !== killers[0]), killers[0]!] : suites;
}

function knownIssues(file: string | undefined) {
  if (file !== undefined && !fs.existsSync(file)) throw new UsageError(`--known-issues ${file}: no such file`);
  return loadKnownIssues(file);
}

export interface TestPlan {
  /** The suites the guest runs (those that built). */
  guestSuites: Suite[];
  /** What the guest must report: a test missing from its KTAP did not run. */
  planned: PlannedTest[];
  /** Tests decided on the host: each test of a suite that did not build. */
  preset: TestRecord[];
  /** Tests the guest skips: a requirement this kernel lacks, in the host's words. */
  skips: { test: string; reason: string }[];
}

/** Which tests run, which skip (requirements) and which cannot (their suite failed to build). */
export function testPlan(p: Plan, built: { suitesBuilt: string[]; suiteErrors: Record<string, string> }, config: Map<string, string>, exec: boolean): TestPlan {
  const preset: TestRecord[] = [];
  const skips: TestPlan['skips'] = [];
  for (const s of p.suites) {
    if (!built.suitesBuilt.includes(s.name)) {
      // Against a patched kernel's uAPI a suite that does not compile is the patch's
      // failure; on the unpatched base it is ours (the lab's suite is broken).
      const patched = p.sets.length > 0;
      for (const t of s.tests) preset.push({ suite: s.name, name: t.name, status: patched ? 'fail' : 'error', durationS: 0, reason: `suite failed to build against ${patched ? 'the patched' : 'the base'} kernel's headers: ${built.suiteErrors[s.name] ?? 'unknown'}` });
      continue;
    }
    const suiteWhy = unmetRequirement(s.requires, config, p.features);
    for (const t of s.tests) {
      const why = suiteWhy ?? unmetRequirement(t.requires, config, p.features);
      if (why) skips.push({ test: `${s.name}/${t.name}`, reason: why });
    }
  }
  const guestSuites = p.suites.filter((s) => built.suitesBuilt.includes(s.name));
  return { guestSuites, planned: plannedTests(guestSuites, exec), preset, skips };
}
