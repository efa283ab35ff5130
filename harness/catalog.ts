// Patch sets and suites are data directories; this module reads them into types.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readPin, type BasePin } from './base.ts';
import { UsageError } from './errors.ts';
import { intakeLore, intakeThread, isThread, type SeriesInfo } from './intake.ts';
import { paths } from './paths.ts';

export interface PatchSet {
  name: string;
  dir: string;
  patches: string[]; // absolute paths, in apply order
  configFragment: string | null;
  defaultSuites: string[];
  description: string;
  features: string[];
  base: BasePin | null; // the base it is written against (base.json); null: follows the others
  series?: SeriesInfo; // a series from the list (a thread mbox or lore:<message-id>), taken by b4
  /** patches left out because an earlier set of the stack carries the same change */
  repeated?: { file: string; sameAs: string }[];
  /** every patch of the set, repeated ones included (priming 3-way blobs applies the set alone) */
  allPatches?: string[];
}

/** `git patch-id --stable` of a patch file (every patch in it): null if it holds no diff. */
export function patchId(file: string): string | null {
  const r = spawnSync('git', ['patch-id', '--stable'], { input: fs.readFileSync(file), encoding: 'utf8' });
  if (r.status !== 0) return null;
  const ids = r.stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[0]);
  return ids.length > 0 ? ids.join(',') : null;
}

/**
 * Sets that stack may carry the same prerequisite: each set must be correct on its own, so
 * fused carries ublk-zc's "copy the SQE at prep time" too. A patch of a later set that is the
 * same change as one already in the stack (the same `git patch-id --stable`) is applied once,
 * where the earlier set has it.
 */
export function dropRepeatedPatches(sets: PatchSet[]): PatchSet[] {
  if (sets.length < 2) return sets;
  const seen = new Map<string, string>();
  return sets.map((set) => {
    const patches: string[] = [];
    const repeated: { file: string; sameAs: string }[] = [];
    const mine = new Set<string>();
    for (const file of set.patches) {
      const id = patchId(file);
      const earlier = id !== null && !mine.has(id) ? seen.get(id) : undefined;
      if (earlier !== undefined) {
        repeated.push({ file, sameAs: earlier });
        continue;
      }
      if (id !== null) {
        mine.add(id);
        if (!seen.has(id)) seen.set(id, `${set.name}/${path.basename(file)}`);
      }
      patches.push(file);
    }
    return repeated.length > 0 ? { ...set, patches, repeated, allPatches: set.patches } : set;
  });
}

function readLines(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function firstParagraph(readme: string): string {
  if (!fs.existsSync(readme)) return '';
  const text = fs.readFileSync(readme, 'utf8');
  const para = text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .find((p) => p !== '' && !p.startsWith('#'));
  return (para ?? '').replace(/\s+/g, ' ').slice(0, 200);
}

export function listPatchSets(): string[] {
  if (!fs.existsSync(paths.patchSets)) return [];
  return fs
    .readdirSync(paths.patchSets)
    .filter((n) => fs.existsSync(path.join(paths.patchSets, n, 'series')))
    .sort();
}

/** A patch set of ours by name, or a user's mbox file / patch directory by path. */
export function loadPatchSet(spec: string, seriesVersion: number | null = null): PatchSet {
  const named = path.join(paths.patchSets, spec);
  if (!spec.includes('/') && fs.existsSync(path.join(named, 'series'))) return loadSetDir(spec, named, true);
  const fromList = (t: { mbx: string; info: SeriesInfo }, name: string): PatchSet => ({
    name,
    dir: path.dirname(t.mbx),
    patches: [t.mbx],
    configFragment: null,
    defaultSuites: [],
    description: `${t.info.subject} (${t.info.messageId})`,
    features: [],
    base: null,
    series: t.info,
  });
  if (spec.startsWith('lore:')) return fromList(intakeLore(spec, seriesVersion), `lore-${spec.slice(5).replace(/[^\w.-]/g, '_').slice(0, 60)}`);
  if (spec.includes('/') || fs.existsSync(spec)) {
    const p = path.resolve(spec);
    if (!fs.existsSync(p)) throw new UsageError(`--patch ${spec}: no such file or directory`);
    if (fs.statSync(p).isDirectory()) return loadSetDir(path.basename(p), p, false);
    if (isThread(fs.readFileSync(p, 'utf8'))) return fromList(intakeThread(p, seriesVersion), path.basename(p));
    if (seriesVersion !== null) throw new UsageError(`--series-version: ${spec} is not a thread (no cover letter, replies or revisions)`, 'give the whole thread as saved by b4 mbox, or drop --series-version');
    return { name: path.basename(p), dir: path.dirname(p), patches: [p], configFragment: null, defaultSuites: [], description: 'user mbox', features: [], base: null };
  }
  const known = listPatchSets();
  throw new UsageError(`unknown patch set '${spec}'`, `known sets: ${['none', ...known].join(', ')}; or give a path to an mbox or a patch directory`);
}

function loadSetDir(name: string, dir: string, ours: boolean): PatchSet {
  const seriesFile = path.join(dir, 'series');
  let patches: string[];
  if (fs.existsSync(seriesFile)) {
    patches = readLines(seriesFile).map((p) => path.join(dir, p));
    for (const p of patches) {
      if (!fs.existsSync(p)) throw new UsageError(`${seriesFile} names ${path.basename(p)}, which does not exist`);
    }
  } else {
    patches = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.patch') || f.endsWith('.mbox') || f.endsWith('.eml'))
      .sort()
      .map((f) => path.join(dir, f));
  }
  if (patches.length === 0) throw new UsageError(`patch set ${dir} holds no patches`, 'add a series file or *.patch files');
  const frag = path.join(dir, 'config');
  const suitesFile = path.join(dir, 'suites');
  const featuresFile = path.join(dir, 'features');
  const baseFile = path.join(dir, 'base.json');
  if (ours && !fs.existsSync(baseFile)) throw new UsageError(`${dir} has no base.json`, 'pin the base the set is written against: copy kernel-patches/base.json and edit it');
  return {
    name,
    dir,
    patches,
    configFragment: fs.existsSync(frag) ? frag : null,
    defaultSuites: fs.existsSync(suitesFile) ? readLines(suitesFile) : [],
    description: firstParagraph(path.join(dir, 'README.md')),
    // A set of ours provides the feature named after it; any set, those its features file
    // lists (a reviewer's v7 of fused declares `fused`, so the fused suite's tests run).
    features: [...(ours ? [name] : []), ...(fs.existsSync(featuresFile) ? readLines(featuresFile) : [])],
    base: fs.existsSync(baseFile) ? readPin(baseFile) : null,
  };
}

const requiresSchema = z
  .object({
    config: z.array(z.string().regex(/^CONFIG_[A-Za-z0-9_]+(=.*)?$/, 'a config item is CONFIG_X or CONFIG_X=value')).default([]),
    features: z.array(z.string()).default([]),
  })
  .strict()
  .default({ config: [], features: [] });

const testSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'test names are [A-Za-z0-9_.-]'),
    cmd: z.string().min(1),
    timeout: z.number().positive().optional(),
    requires: requiresSchema.optional(),
    guests: z.union([z.literal(1), z.literal(2)]).optional(),
    // The test has the host kill guest b (the control port's kill-peer): b runs nothing
    // after it, so it is its suite's last two-guest test, and a run puts its suite after
    // every other two-guest suite (harness/plan.ts).
    killsPeer: z.literal(true).optional(),
  })
  .strict();

const manifestSchema = z
  .object({
    description: z.string(),
    timeout: z.number().positive().default(600),
    testTimeout: z.number().positive().default(60),
    requires: requiresSchema,
    tools: z.array(z.string()).default([]),
    // Host files the guest needs at the same path besides the tools (plugins that are
    // dlopen'ed, their config files): ldd runs on each, its libraries come too.
    files: z.array(z.string().regex(/^\/[^\s]+$/, 'an absolute host path')).default([]),
    // A NIC for the guest (virtio-net; the agent gives eth0 its address, harness/agent.ts:
    // GUEST_NET). "single": one guest, on a QEMU hub no host network is on. "pair": two
    // guests of the same kernel and image joined by one private link (unix datagram
    // sockets in the run); a test with "guests": 2 runs on both at once, the others on a.
    network: z.enum(['single', 'pair']).optional(),
    // Files and directories of the tested kernel's tree the suite builds from (the
    // kernel's own selftests): make gets KSRC=<tree>, and their content is part of the
    // suite's cache key, so a patch to them rebuilds the suite.
    kernelSources: z.array(z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_./-]*$/, 'a path inside the kernel tree').refine((p) => !p.split('/').includes('..'), 'a path inside the kernel tree')).default([]),
    // "ktap": each test prints KTAP of its own (a kselftest program); its results are kept
    // as the test's subtests, compared against the base too, as they are.
    output: z.enum(['plain', 'ktap']).default('plain'),
    bench: z.boolean().default(false),
    tests: z.array(testSchema).min(1),
  })
  .strict();

export type SuiteManifest = z.infer<typeof manifestSchema>;
export type SuiteTest = z.infer<typeof testSchema>;
export interface Suite extends SuiteManifest {
  name: string;
  dir: string;
}

export function listSuites(): string[] {
  if (!fs.existsSync(paths.suites)) return [];
  return fs
    .readdirSync(paths.suites)
    .filter((n) => fs.existsSync(path.join(paths.suites, n, 'manifest.json')))
    .sort();
}

export function loadSuite(name: string): Suite {
  return loadSuiteFrom(name, path.join(paths.suites, name));
}

/**
 * What --suite names: an in-tree suite by name, or a suite directory of one's own by path
 * (anything with a '/': ./my-suite, /abs/dir). Its name is the directory's; it must not
 * shadow an in-tree suite.
 */
export function resolveSuite(spec: string): Suite {
  if (!spec.includes('/')) return loadSuite(spec);
  const dir = path.resolve(spec);
  const name = path.basename(dir);
  if (!fs.existsSync(path.join(dir, 'manifest.json'))) throw new UsageError(`--suite ${spec}: no manifest.json in ${dir}`, 'a suite directory holds manifest.json and a Makefile (suites/README.md)');
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new UsageError(`--suite ${spec}: a suite's directory name is its name, and '${name}' is not [A-Za-z0-9_-]`, 'rename the directory');
  if (listSuites().includes(name) && path.resolve(paths.suites, name) !== dir) throw new UsageError(`--suite ${spec}: the lab has a suite named '${name}' already`, 'rename the directory');
  if (!fs.existsSync(path.join(dir, 'Makefile'))) throw new UsageError(`--suite ${spec}: no Makefile in ${dir}`, 'a suite directory holds manifest.json and a Makefile (suites/README.md)');
  return loadSuiteFrom(name, dir);
}

/** A suite from its directory (the project's suites/<name>, or a test's). */
export function loadSuiteFrom(name: string, dir: string): Suite {
  const file = path.join(dir, 'manifest.json');
  if (!fs.existsSync(file)) {
    throw new UsageError(`unknown suite '${name}'`, `known suites: ${listSuites().join(', ')}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`${file}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  // Both guests start their two-guest tests together: those come first, so guest a does
  // not run its one-guest tests while b waits at a barrier.
  const firstOne = parsed.data.tests.findIndex((t) => t.guests !== 2);
  const lateTwo = parsed.data.tests.find((t, i) => t.guests === 2 && i > firstOne && firstOne >= 0);
  if (lateTwo) throw new UsageError(`${file}: two-guest test '${lateTwo.name}' comes after one-guest test '${parsed.data.tests[firstOne]!.name}'`, 'list the tests with "guests": 2 first');
  const killer = parsed.data.tests.findIndex((t) => t.killsPeer);
  if (killer >= 0) {
    const k = parsed.data.tests[killer]!;
    if (k.guests !== 2) throw new UsageError(`${file}: test '${k.name}' kills guest b but does not run on two guests`, 'give it "guests": 2, or drop "killsPeer"');
    const after = parsed.data.tests.find((t, i) => i > killer && t.guests === 2);
    if (after) throw new UsageError(`${file}: two-guest test '${after.name}' comes after '${k.name}', which kills guest b`, 'list the test with "killsPeer" last of the two-guest tests');
  }
  const two = parsed.data.tests.find((t) => t.guests === 2);
  if (two && parsed.data.network !== 'pair') throw new UsageError(`${file}: test '${two.name}' asks for two guests, the suite has no "network": "pair"`);
  const seen = new Set<string>();
  for (const t of parsed.data.tests) {
    if (seen.has(t.name)) throw new UsageError(`${file}: test '${t.name}' is listed twice`);
    seen.add(t.name);
  }
  return { ...parsed.data, name, dir };
}

/** Why a suite or test cannot run on this kernel, or null if it can. */
export function unmetRequirement(
  req: { config: string[]; features: string[] } | undefined,
  kernelConfig: Map<string, string>,
  features: string[],
): string | null {
  if (!req) return null;
  for (const f of req.features) {
    if (!features.includes(f)) return `needs patch feature '${f}' (run with --patch ${f})`;
  }
  for (const item of req.config) {
    const [sym, want = 'y'] = item.split('=', 2) as [string, string?];
    const have = kernelConfig.get(sym) ?? 'n';
    if (have !== want) return `needs ${sym}=${want}, kernel has ${have}`;
  }
  return null;
}
