// Stage 5: a hermetic initramfs from images/base: busybox, the agent, each suite built
// against the tested kernel's own headers, and the tools suites need with their shared
// libraries. Reproducible (sorted entries, mtime 0 via gen_init_cpio -t 0) and cached by content.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { suitePlanFiles } from '../agent.ts';
import { listSuites, loadSuite, loadSuiteFrom, type Suite } from '../catalog.ts';
import { InfraError, UsageError } from '../errors.ts';
import { run, which, type Recorder } from '../exec.ts';
import { sha256File } from '../hash.ts';
import { withLock } from '../lock.ts';
import { log } from '../log.ts';
import { paths } from '../paths.ts';
import { touchUsed } from '../prune.ts';

const RECIPE_VERSION = 'kl-image-2';
const SUITE_RECIPE = 'kl-suite-1';

interface Recipe {
  busybox: string;
  init: string;
  tools: string[];
}

export interface ImageResult {
  key: string;
  cpio: string;
  cached: boolean;
  suitesBuilt: string[];
  suiteErrors: Record<string, string>; // suite → first error line of its build
}

/**
 * Content hash of a directory: relative paths and bytes, sorted; build outputs skipped, and
 * suites' expected-results lists (host-side data, never in the guest: editing one must not
 * rebuild the image).
 */
export function dirHash(dir: string): string {
  const h = crypto.createHash('sha256');
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name === 'out' || e.name.startsWith('.') || (e.name === 'expected' && e.isDirectory())) continue;
      const p = path.join(d, e.name);
      // a symlink counts as what it points to: a suite of one's own may link its sources
      const st = e.isSymbolicLink() ? fs.statSync(p, { throwIfNoEntry: false }) : e;
      if (!st) h.update(`${path.relative(dir, p)}\0dangling\0`);
      else if (st.isDirectory()) walk(p);
      else if (st.isFile()) h.update(`${path.relative(dir, p)}\0`).update(fs.readFileSync(p)).update('\0');
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return h.digest('hex');
}

async function sharedLibs(bin: string): Promise<string[]> {
  const r = await execa('ldd', [bin], { reject: false });
  if (r.exitCode !== 0) return []; // static
  const libs: string[] = [];
  for (const line of String(r.stdout).split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s*\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

/**
 * The kernel's uAPI headers (headers_install), by content: all a suite is built from besides
 * its sources. Kept beside the build once computed.
 */
export function headersHash(buildDir: string): string {
  const memo = path.join(buildDir, 'headers.sha256');
  if (fs.existsSync(memo)) return fs.readFileSync(memo, 'utf8').trim();
  const h = dirHash(path.join(buildDir, 'headers'));
  try {
    fs.writeFileSync(`${memo}.${process.pid}`, `${h}\n`);
    fs.renameSync(`${memo}.${process.pid}`, memo);
  } catch {
    // a read-only cache: computed again next time
  }
  return h;
}

let suiteToolsMemo: Promise<string> | null = null;
/** The compilers and the static libraries suites link (liburing, libbpf, libc). */
function suiteToolchain(): Promise<string> {
  suiteToolsMemo ??= (async () => {
    const v = async (cmd: string) => {
      const r = await execa(cmd, ['--version'], { reject: false, stdin: 'ignore' });
      return `${cmd}: ${r.exitCode === 0 ? String(r.stdout).split('\n')[0] : 'absent'}`;
    };
    const pkgs = await execa('dpkg-query', ['-W', '-f', '${Package} ${Version}\n', 'liburing-dev', 'libbpf-dev', 'libc6-dev'], { reject: false, stdin: 'ignore' });
    return [await v('gcc'), await v('clang'), String(pkgs.stdout)].join('\n');
  })();
  return suiteToolsMemo;
}

/** A suite's own inputs: its directory, the shared include dir and make rules, and sibling suites its sources include. */
export function suiteSourceHash(suite: { name: string; dir: string }): string {
  const siblings = new Set<string>();
  for (const f of fs.readdirSync(suite.dir)) {
    const p = path.join(suite.dir, f);
    if (!fs.statSync(p, { throwIfNoEntry: false })?.isFile()) continue;
    for (const m of fs.readFileSync(p, 'utf8').matchAll(/\.\.\/([A-Za-z0-9_-]+)\//g)) if (m[1] !== suite.name) siblings.add(m[1]!);
  }
  // `../common.mk` and `../include` as the suite's make resolves them: the lab's own for an
  // in-tree suite, the ones beside it (or none) for a suite given as a directory.
  const parent = path.dirname(suite.dir);
  const include = path.join(parent, 'include');
  const common = path.join(parent, 'common.mk');
  const h = crypto.createHash('sha256').update(`${dirHash(suite.dir)}\n${fs.existsSync(include) ? dirHash(include) : 'no include'}\n`);
  h.update(fs.existsSync(common) ? fs.readFileSync(common) : 'no common.mk');
  for (const s of [...siblings].sort()) h.update(`\n${s}:${fs.existsSync(path.join(parent, s)) ? dirHash(path.join(parent, s)) : 'absent'}`);
  return h.digest('hex');
}

/**
 * The parts of the tested kernel's tree the given suites build from (their kernelSources),
 * copied into a fresh temporary dir that make gets as KSRC. The pipeline takes the copy
 * while it holds the tree, so the suites build the revision this run built even if the
 * next run checks out another one. Null when no suite needs one; the caller removes it.
 */
export function snapshotKernelSources(tree: string, suites: Pick<Suite, 'kernelSources'>[]): string | null {
  const rels = [...new Set(suites.flatMap((s) => s.kernelSources))].sort();
  if (rels.length === 0) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-ksrc-'));
  for (const rel of rels) {
    const from = path.join(tree, rel);
    if (!fs.existsSync(from)) continue; // absent in this tree: the suite's build says what it misses
    fs.cpSync(from, path.join(dir, rel), { recursive: true, dereference: true });
  }
  return dir;
}

/** The parts of the tested kernel's tree a suite builds from (its kernelSources), by content. */
export function kernelSourcesHash(tree: string, rels: string[]): string {
  const h = crypto.createHash('sha256');
  for (const rel of [...rels].sort()) {
    const p = path.join(tree, rel);
    const st = fs.statSync(p, { throwIfNoEntry: false });
    h.update(`${rel}:${!st ? 'absent' : st.isDirectory() ? dirHash(p) : sha256File(p)}\n`);
  }
  return h.digest('hex');
}

interface SuiteBuild {
  out: string | null; // the built suite, with its plan files; null: it failed to build
  error?: string;
  cached: boolean;
}

/**
 * One suite built against these headers, from the suite cache when its sources, the
 * headers and the toolchain are the same: a patch that leaves the uAPI alone rebuilds no suite.
 */
async function buildSuite(rec: Recorder, s: Suite, buildDir: string, hdrHash: string, logFile: string, ksrc: string | null, ksrcHash: string): Promise<SuiteBuild> {
  const sources = suiteSourceHash(s);
  const key = crypto.createHash('sha256').update([SUITE_RECIPE, s.name, sources, hdrHash, ...(ksrcHash ? [ksrcHash] : []), await suiteToolchain()].join('\n')).digest('hex').slice(0, 20);
  const dir = path.join(paths.suiteCache, `${s.name}-${key}`);
  const status = path.join(dir, 'status.json');
  // The plan comes from the manifest as the run read it, the programs from the files as
  // make finds them: a suite edited in between would be cached with the one not matching
  // the other (new tests the plan never lists, reported as not run, run after run).
  const changed = () => suiteChangedSince(s, sources);
  // its files were hashed just above: what can differ by now is the manifest the run read
  const before = suiteTestsChanged(s);
  if (before) throw new UsageError(`suite ${s.name} changed after this run read it (${before})`, 'run again once the edit is saved');
  return withLock(`suite-${s.name}-${key}`, async () => {
    if (fs.existsSync(status)) {
      const st = JSON.parse(fs.readFileSync(status, 'utf8')) as { ok: boolean; error?: string };
      touchUsed(dir);
      return st.ok ? { out: path.join(dir, 'out'), cached: true } : { out: null, error: st.error, cached: true };
    }
    // A suite built from upstream sources (suites/liburing) fetches them into the cache
    // first, sha256-checked, with its fetch.mjs (make deps runs it too). A fetch that
    // fails is the lab's fault, never the patch's: it stops the run (exit 3).
    const fetcher = path.join(s.dir, 'fetch.mjs');
    if (fs.existsSync(fetcher)) {
      const f = await run(rec, [process.execPath, fetcher], {});
      fs.appendFileSync(logFile, `\n$ node ${fetcher}\n${f.stdout}\n${f.stderr}\n`);
      if (f.exitCode !== 0) throw new InfraError(`suite ${s.name}: its sources could not be fetched: ${f.stderr.trim().split('\n').pop() ?? `exit ${f.exitCode}`}`, 'run `make deps` with network access to deb.debian.org');
    }
    const tmp = `${dir}.tmp.${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    const out = path.join(tmp, 'out');
    fs.mkdirSync(out, { recursive: true });
    const r = await run(rec, ['make', '-C', s.dir, `O=${out}`, `KHDR=${path.join(buildDir, 'headers')}`, ...(ksrc && s.kernelSources.length > 0 ? [`KSRC=${ksrc}`] : []), `-j${os.availableParallelism()}`], {});
    fs.appendFileSync(logFile, `\n$ make -C ${s.dir} O=${out}${ksrc && s.kernelSources.length > 0 ? ` KSRC=${ksrc}` : ''}\n${r.stdout}\n${r.stderr}\n`);
    let result: SuiteBuild;
    if (r.exitCode !== 0) {
      const error = (r.stderr.split('\n').find((l) => /error/.test(l)) ?? r.stderr.split('\n').slice(-1)[0] ?? 'build failed').trim();
      fs.rmSync(out, { recursive: true, force: true });
      fs.writeFileSync(path.join(tmp, 'status.json'), JSON.stringify({ ok: false, error }));
      result = { out: null, error, cached: false };
    } else {
      for (const [f, text] of Object.entries(suitePlanFiles(s))) fs.writeFileSync(path.join(out, f), text);
      fs.writeFileSync(path.join(tmp, 'status.json'), JSON.stringify({ ok: true }));
      result = { out: path.join(dir, 'out'), cached: false };
    }
    const during = changed();
    if (during) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new UsageError(`suite ${s.name} changed while this run was building it (${during}); nothing of it was cached`, 'run again once the edit is saved');
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    touchUsed(dir);
    return result;
  });
}

/** What of a suite differs from the run's view of it: its files (by hash) or its manifest's tests; null when nothing. */
export function suiteChangedSince(s: Suite, sources: string): string | null {
  return suiteSourceHash(s) !== sources ? 'its files' : suiteTestsChanged(s);
}

/** Whether the suite's manifest on disk now plans other tests than the run read. */
function suiteTestsChanged(s: Suite): string | null {
  let now: Suite;
  try {
    now = loadSuiteFrom(s.name, s.dir);
  } catch {
    return 'its manifest no longer loads';
  }
  return JSON.stringify(now.tests) === JSON.stringify(s.tests) ? null : "its manifest's tests";
}

/** Suites and the suites their commands run programs of (`$KL_SUITES/<suite>/...`). */
export function withUsed(names: string[]): string[] {
  return withUsedSuites(names.filter((n) => listSuites().includes(n)).map(loadSuite)).map((s) => s.name);
}

/** The same for suite objects (a suite from outside the tree among them): the given ones, and the in-tree suites they use. */
export function withUsedSuites(given: Suite[]): Suite[] {
  const all = new Map(given.map((s) => [s.name, s]));
  const known = listSuites();
  for (const s of given) {
    for (const t of s.tests) {
      for (const m of t.cmd.matchAll(/\$\{?KL_SUITES\}?\/([A-Za-z0-9_-]+)\//g)) if (!all.has(m[1]!) && known.includes(m[1]!)) all.set(m[1]!, loadSuite(m[1]!));
    }
  }
  return [...all.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The guest image for a run: the base (busybox, agent, tools) and the suites the run plans
 * (all of them when `only` is absent). Each suite comes from the suite cache, so composing
 * an image for another selection is cheap, and a run does not boot what it does not run
 * (liburing's 145 static programs triple the initramfs and the boot).
 */
export async function imageStage(rec: Recorder, buildDir: string, buildKey: string, logFile: string, ksrc: string | null, only?: Suite[]): Promise<ImageResult> {
  const recipe = JSON.parse(fs.readFileSync(path.join(paths.images, 'base', 'recipe.json'), 'utf8')) as Recipe;
  const suites = only ? withUsedSuites(only) : listSuites().map(loadSuite);
  const toolNames = [...new Set([...recipe.tools, ...suites.flatMap((s) => s.tools)])].sort();
  const tools: { name: string; path: string }[] = [];
  for (const t of toolNames) {
    const p = await which(t);
    if (!p) throw new InfraError(`guest tool '${t}' is not installed on the host`, 'run `make deps`');
    tools.push({ name: t, path: p });
  }
  // Files suites ask for at their own host path (verbs provider plugins and their
  // /etc/libibverbs.d entries, which no ldd finds).
  const extraFiles = [...new Set(suites.flatMap((s) => s.files))].sort();
  for (const f of extraFiles) {
    if (!fs.existsSync(f)) throw new InfraError(`guest file '${f}' (asked for by suite ${suites.find((s) => s.files.includes(f))!.name}) is not on the host`, 'run `make deps`');
  }
  // The image depends on the kernel only through its uAPI headers: a patch that changes no
  // uAPI reuses the image of the previous build.
  const hdrHash = rec.dryRun ? buildKey : headersHash(buildDir);
  // Suites built from the kernel's own tree (its selftests) depend on those files too.
  const ksrcHash = new Map(suites.map((s) => [s.name, s.kernelSources.length > 0 && ksrc ? kernelSourcesHash(ksrc, s.kernelSources) : '']));
  const toolStamp = [...tools.map((t) => `${t.name}:${t.path}:${fs.statSync(t.path).size}`), ...extraFiles.map((f) => `${f}:${fs.statSync(f).size}`)].join(',');
  const key = crypto
    .createHash('sha256')
    .update([RECIPE_VERSION, hdrHash, dirHash(paths.images), ...suites.map((s) => `${s.name}:${suiteSourceHash(s)}${ksrcHash.get(s.name) ? `:${ksrcHash.get(s.name)}` : ''}`), toolStamp, await suiteToolchain()].join('\n'))
    .digest('hex')
    .slice(0, 20);
  const dir = path.join(paths.imageCache, key);
  const cpio = path.join(dir, 'initramfs.cpio');
  const summaryFile = path.join(dir, 'suites.json');
  if (rec.dryRun) return { key, cpio, cached: fs.existsSync(cpio), suitesBuilt: suites.map((s) => s.name), suiteErrors: {} };
  return withLock(`image-${key}`, async () => {
    if (fs.existsSync(cpio) && fs.existsSync(summaryFile)) {
      const s = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as { built: string[]; errors: Record<string, string> };
      touchUsed(dir);
      return { key, cpio, cached: true, suitesBuilt: s.built, suiteErrors: s.errors };
    }
    log(`packing guest image ${key}`);
    const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-image-'));
    try {
      const entries: string[] = [];
      const dirs = new Set<string>();
      const addDir = (d: string) => {
        const parts = d.split('/').filter(Boolean);
        for (let i = 1; i <= parts.length; i++) dirs.add(`/${parts.slice(0, i).join('/')}`);
      };
      const addFile = (dest: string, src: string, mode: string) => {
        addDir(path.dirname(dest));
        entries.push(`file ${dest} ${src} ${mode} 0 0`);
      };
      for (const d of ['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/dev', '/proc', '/sys', '/tmp', '/run', '/mnt', '/root', '/etc', '/kl/bin', '/kl/suites']) addDir(d);
      addFile('/bin/busybox', recipe.busybox, '0755');
      addFile('/init', path.join(paths.images, 'base', recipe.init), '0755');
      entries.push('nod /dev/console 0600 0 0 c 5 1', 'nod /dev/null 0666 0 0 c 1 3');
      fs.writeFileSync(path.join(stage, 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
      fs.writeFileSync(path.join(stage, 'group'), 'root:x:0:\n');
      addFile('/etc/passwd', path.join(stage, 'passwd'), '0644');
      addFile('/etc/group', path.join(stage, 'group'), '0644');
      const libs = new Set<string>();
      for (const t of tools) {
        addFile(`/kl/bin/${t.name}`, t.path, '0755');
        for (const l of await sharedLibs(t.path)) libs.add(l);
      }
      for (const f of extraFiles) {
        const real = fs.realpathSync(f);
        addFile(f, real, (fs.statSync(real).mode & 0o111) !== 0 ? '0755' : '0644');
        for (const l of await sharedLibs(f)) libs.add(l);
      }
      for (const l of [...libs].filter((x) => !extraFiles.includes(x)).sort()) {
        addFile(l, fs.realpathSync(l), '0755');
        // The loader and libraries are looked up by the names ldd printed.
      }
      // Suites: each built against this kernel's headers; a suite that fails to build
      // is left out and reported, so one broken suite does not stop the others.
      const built: string[] = [];
      const errors: Record<string, string> = {};
      const reused: string[] = [];
      for (const s of suites) {
        const b = await buildSuite(rec, s, buildDir, hdrHash, logFile, ksrc, ksrcHash.get(s.name)!);
        if (b.cached) reused.push(s.name);
        if (!b.out) {
          errors[s.name] = b.error ?? 'build failed';
          log(`suite ${s.name} failed to build: ${errors[s.name]}`);
          continue;
        }
        const out = b.out;
        for (const f of fs.readdirSync(out).sort()) {
          const p = path.join(out, f);
          if (fs.statSync(p).isFile()) addFile(`/kl/suites/${s.name}/${f}`, p, (fs.statSync(p).mode & 0o111) !== 0 ? '0755' : '0644');
        }
        built.push(s.name);
      }
      if (reused.length > 0) log(`suites unchanged since their last build (sources, uAPI headers, toolchain): ${reused.join(', ')}`);
      const spec = [...[...dirs].sort().map((d) => `dir ${d} 0755 0 0`), ...entries.sort()].join('\n') + '\n';
      fs.writeFileSync(path.join(stage, 'cpio.spec'), spec);
      fs.mkdirSync(dir, { recursive: true });
      const r = await execa(path.join(buildDir, 'gen_init_cpio'), ['-t', '0', path.join(stage, 'cpio.spec')], { encoding: 'buffer', reject: false, maxBuffer: 1 << 30 });
      rec.commands.push([path.join(buildDir, 'gen_init_cpio'), '-t', '0', 'cpio.spec']);
      if (r.exitCode !== 0) throw new InfraError(`gen_init_cpio failed: ${Buffer.from(r.stderr as Uint8Array).toString().trim()}`);
      fs.writeFileSync(`${cpio}.tmp`, r.stdout as Uint8Array);
      fs.copyFileSync(path.join(stage, 'cpio.spec'), path.join(dir, 'cpio.spec'));
      fs.writeFileSync(summaryFile, JSON.stringify({ built, errors }, null, 2));
      fs.renameSync(`${cpio}.tmp`, cpio);
      touchUsed(dir);
      return { key, cpio, cached: false, suitesBuilt: built, suiteErrors: errors };
    } finally {
      fs.rmSync(stage, { recursive: true, force: true });
    }
  });
}

/**
 * The per-run job (agent.ts: jobFiles) as a second cpio archive appended to the image, after
 * the build's modules (build.ts: modules.cpio) when it has any: the image depends on the
 * kernel only through its headers, the modules on the whole build.
 * Writes base + modules + job to outFile; returns modules + job (a remote host caches the base).
 */
export async function jobInitrd(rec: Recorder, buildDir: string, baseCpio: string, files: Record<string, string>, outFile: string): Promise<Uint8Array> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-job-'));
  try {
    const spec = ['dir /kl 0755 0 0'];
    fs.mkdirSync(path.join(tmp, 'kl'));
    for (const [name, text] of Object.entries(files).sort()) {
      if (!/^[a-z][a-z0-9.-]*$/.test(name)) throw new Error(`job file name '${name}'`);
      fs.writeFileSync(path.join(tmp, 'kl', name), text);
      spec.push(`file /kl/${name} ${path.join(tmp, 'kl', name)} 0644 0 0`);
    }
    fs.writeFileSync(path.join(tmp, 'spec'), `${spec.join('\n')}\n`);
    const r = await execa(path.join(buildDir, 'gen_init_cpio'), ['-t', '0', path.join(tmp, 'spec')], { encoding: 'buffer', reject: false });
    if (r.exitCode !== 0) throw new InfraError('gen_init_cpio failed for the job archive');
    const modules = path.join(buildDir, 'modules.cpio');
    const tail = fs.existsSync(modules) ? Buffer.concat([fs.readFileSync(modules), r.stdout as Uint8Array]) : (r.stdout as Uint8Array);
    fs.copyFileSync(baseCpio, outFile);
    fs.appendFileSync(outFile, tail);
    return tail;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
