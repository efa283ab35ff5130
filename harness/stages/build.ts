// Stage 4: out-of-tree build with ccache, cached by (base, patches, final .config, compiler).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { BuildFailure, InfraError } from '../errors.ts';
import { openLog } from '../logfile.ts';
import { checkFreeSpace } from './source.ts';
import { shellQuote, type Recorder } from '../exec.ts';
import { log } from '../log.ts';
import { paths } from '../paths.ts';
import { touchUsed } from '../prune.ts';
import { sha256FileAsync } from '../hash.ts';

export interface BuildInputs {
  tree: string;
  outDir: string;
  baseTree: string;
  stackHash: string;
  configSha256: string;
  configCommand: string[];
  logFile: string;
  /** aborts make (the run was interrupted) */
  signal?: AbortSignal;
  /** --clean: build even when the cache has this key, and replace the cached build */
  clean?: boolean;
  /** before make, when it will run: give a never-built out dir a start (patches.ts: seedOutDir) */
  seed?: () => Promise<void>;
  /** the base tree: its out dir of this configuration is built even when the kernel is cached */
  warmTree?: boolean;
  /** a dry run: what the fragments ask for, read in place of a .config it did not write */
  dryRunConfig?: string;
}

export interface BuildResult {
  key: string;
  dir: string; // builds/<key>: bzImage, System.map, config, headers/, gen_init_cpio, metadata.json; with modules modules.cpio and ko/
  cached: boolean;
  compiler: string;
  /** --clean over a cached build of the same key: it was replaced; were the two vmlinux the same bytes */
  replaced?: { sameVmlinux: boolean };
}

// Bump when what a build directory holds changes.
const RECIPE = 'kl-build-1';

export function buildEnv(): Record<string, string> {
  return {
    ARCH: 'x86_64',
    CCACHE_DIR: paths.ccache,
    CCACHE_BASEDIR: paths.cacheRoot,
    CCACHE_NOHASHDIR: 'true',
    // Depend mode: on a miss ccache hashes the include files gcc's -MMD lists (Kbuild always
    // asks for one) instead of running the preprocessor first. Measured here (6.12, -j2, one
    // .config, empty ccache): plain make 303 s, ccache's default mode 503 s, depend mode 327 s;
    // a series built after the base hit as often in both (1451 and 1453 of about 1500), and
    // depend mode finds the entries the default mode stored.
    CCACHE_DEPEND: 'true',
    // ...and remembers each header's hash by inode and mtime, so the few hundred headers
    // every kernel object includes are hashed once per build, not once per object.
    CCACHE_INODECACHE: 'true',
    KBUILD_BUILD_TIMESTAMP: '2024-01-01',
    // The "#N" of the version string: otherwise the out dir's link count, so a warm out dir
    // and a fresh one would build different bytes from the same inputs.
    KBUILD_BUILD_VERSION: '1',
    KBUILD_BUILD_USER: 'kernel-lab',
    KBUILD_BUILD_HOST: 'kernel-lab',
  };
}

export async function compilerVersion(): Promise<string> {
  const r = await execa('gcc', ['--version'], { reject: false });
  return String(r.stdout).split('\n')[0] ?? 'unknown';
}

export function buildKey(inp: { baseTree: string; stackHash: string; configSha256: string; compiler: string }): string {
  return crypto.createHash('sha256').update([RECIPE, inp.baseTree, inp.stackHash, inp.configSha256, inp.compiler].join('\n')).digest('hex').slice(0, 20);
}

export function makeArgv(outDir: string, targets: string[]): string[] {
  return ['make', `O=${path.basename(outDir)}`, 'ARCH=x86_64', 'CC=ccache gcc', `-j${os.availableParallelism()}`, ...targets];
}

/** A .config that builds modules: CONFIG_MODULES=y and at least one item =m. */
export function configBuildsModules(dotConfigText: string): boolean {
  return /^CONFIG_MODULES=y$/m.test(dotConfigText) && /^CONFIG_[A-Za-z0-9_]+=m$/m.test(dotConfigText);
}

/** The make targets of a build: the kernel, and its modules when the .config has any. */
export function kernelTargets(dotConfigText: string): string[] {
  return configBuildsModules(dotConfigText) ? ['bzImage', 'modules'] : ['bzImage'];
}

/**
 * gen_init_cpio lines for every directory and regular file under root, as /<relative path>
 * (modules_install's tree: lib/modules/<release>/...). Links are left out: modules_install
 * makes none the guest needs.
 */
export function cpioSpecOfTree(root: string): string[] {
  const dirs: string[] = [];
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        dirs.push(`dir /${r} 0755 0 0`);
        walk(r);
      } else if (e.isFile()) {
        files.push(`file /${r} ${path.join(root, r)} 0644 0 0`);
      }
    }
  };
  walk('');
  return [...dirs, ...files];
}

/** Where modules_install stages a build's modules, under the build's temporary dir. */
const modulesRoot = (tmp: string) => path.join(tmp, 'modroot');

/** modules_install into root, stripped; depmod is left to the guest's busybox. */
function modulesInstallTargets(root: string): string[] {
  return ['modules_install', `INSTALL_MOD_PATH=${root}`, 'INSTALL_MOD_STRIP=1', 'DEPMOD=true'];
}

/**
 * The modules of a build, for the guest and for the symbolizer: modules_install into a
 * staging root (stripped; depmod is left to the guest's busybox, so the host needs no kmod),
 * packed as modules.cpio, which the run appends to the initramfs (image.ts: jobInitrd); and
 * each unstripped .ko in ko/, for decode_stacktrace.sh to resolve a module's frames.
 */
async function packModules(rec: Recorder, inp: BuildInputs, tmp: string): Promise<number> {
  const root = modulesRoot(tmp);
  await makeWithProgress(rec, inp.tree, makeArgv(inp.outDir, modulesInstallTargets(root)), inp.logFile, 'modules_install', inp.signal, null);
  const order = fs.readFileSync(path.join(inp.outDir, 'modules.order'), 'utf8').split('\n').filter(Boolean);
  fs.mkdirSync(path.join(tmp, 'ko'));
  for (const o of order) {
    const ko = o.replace(/\.o$/, '.ko');
    fs.copyFileSync(path.join(inp.outDir, ko), path.join(tmp, 'ko', path.basename(ko)));
  }
  const spec = path.join(tmp, 'modules.spec');
  fs.writeFileSync(spec, `${cpioSpecOfTree(root).join('\n')}\n`);
  const r = await execa(path.join(inp.outDir, 'usr', 'gen_init_cpio'), ['-t', '0', spec], { encoding: 'buffer', reject: false, maxBuffer: 1 << 30 });
  if (r.exitCode !== 0) throw new InfraError(`gen_init_cpio failed for the modules: ${Buffer.from(r.stderr as Uint8Array).toString().trim()}`);
  fs.writeFileSync(path.join(tmp, 'modules.cpio'), r.stdout as Uint8Array);
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(spec);
  return order.length;
}

/**
 * Tiny configs hit "Inconsistent kallsyms data" now and then (seen here on the uring-bpf
 * set); Kbuild's answer is one more kallsyms link pass. Only a build that hit it pays for
 * it: the same make again with KALLSYMS_EXTRA_PASS=1, which relinks and compiles nothing.
 */
export function kallsymsRetry(argv: string[], logText: string): string[] | null {
  if (argv.includes('KALLSYMS_EXTRA_PASS=1') || !/Inconsistent kallsyms data/.test(logText)) return null;
  return [argv[0]!, 'KALLSYMS_EXTRA_PASS=1', ...argv.slice(1)];
}

/** The line of a failed build log that says why: a compiler/linker error, else what precedes make's first "***". */
export function buildFailureLine(logText: string): string | null {
  const lines = logText.split('\n');
  const cause = lines.find((l) => /\berror:|undefined reference|Inconsistent kallsyms|No rule to make target/.test(l));
  if (cause) return cause.trim();
  const stop = lines.findIndex((l) => /^make(\[\d+\])?: \*\*\*/.test(l));
  return stop > 0 ? lines[stop - 1]!.trim() : null;
}

/**
 * Whose fault a failed make is: the code's when the compiler or linker said why (an error
 * at file:line, an undefined reference, a missing rule); the lab's when make was killed
 * (the OOM killer, a timeout), the disk filled up, a tool is missing, or no cause is found.
 */
export function buildFailureIsTheCodes(logText: string, signal: string | null): boolean {
  if (signal) return false;
  if (/No space left on device|Cannot allocate memory|virtual memory exhausted|Killed signal terminated program|command not found|not found \(required by|Permission denied/.test(logText)) return false;
  return /^[^\s:]+:\d+(:\d+)?: (fatal )?error: |undefined reference to|No rule to make target|^ERROR: modpost: /m.test(logText);
}

/** Progress of a build: a percentage and time left when the size of the whole build is known. */
export function progressLine(what: string, compiled: number, elapsedS: number, expected: number | null, last: string): string {
  if (!expected || compiled === 0) return `${what}: ${compiled} objects so far, ${Math.round(elapsedS)} s (last: ${last})`;
  const frac = Math.min(compiled / expected, 0.99);
  const left = Math.max(0, Math.round((elapsedS / frac) * (1 - frac)));
  const leftText = left >= 90 ? `${Math.round(left / 60)} min` : `${left} s`;
  return `${what}: ${Math.floor(frac * 100)}% (${compiled} of ~${expected} objects, ${Math.round(elapsedS)} s, ~${leftText} left; last: ${last})`;
}

// How many objects a whole build compiles, the denominator of its progress: counted by the
// last whole build of the same .config, else by the last whole build of any (configurations
// of the lab differ by a few dozen objects in thousands).
const objectsFile = () => path.join(paths.builds, 'objects.json');
interface ObjectCounts {
  byConfig: Record<string, number>;
  last: number | null;
}
function readObjects(): ObjectCounts {
  try {
    const o = JSON.parse(fs.readFileSync(objectsFile(), 'utf8')) as ObjectCounts;
    return { byConfig: o.byConfig ?? {}, last: o.last ?? null };
  } catch {
    return { byConfig: {}, last: null };
  }
}
export function expectedObjects(configSha256: string): number | null {
  const o = readObjects();
  return o.byConfig[configSha256] ?? o.last;
}
function recordObjects(configSha256: string, n: number): void {
  const o = readObjects();
  const all: ObjectCounts = { byConfig: { ...o.byConfig, [configSha256]: n }, last: n };
  fs.mkdirSync(paths.builds, { recursive: true });
  const tmp = `${objectsFile()}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(all, null, 1)}\n`);
  fs.renameSync(tmp, objectsFile());
}

/**
 * Run make, streaming its output to the build log and printing progress every 30 s (every
 * 5 s on a terminal); with `expected` (objects of a whole build), as a percentage.
 * Returns how many objects make compiled.
 */
export async function makeWithProgress(rec: Recorder, tree: string, argv: string[], logFile: string, what: string, signal?: AbortSignal, expected: number | null = null): Promise<number> {
  rec.commands.push(argv);
  let proc: ReturnType<typeof execa> | null = null;
  const out = openLog(logFile, 'a', () => proc?.kill('SIGKILL')); // no log, no build: stop make
  out.write(`$ (cd ${tree} && ${Object.entries(buildEnv()).map(([k, v]) => `${k}=${shellQuote([v])}`).join(' ')} ${shellQuote(argv)})\n`);
  let compiled = 0;
  let last = '';
  let retry: string[] | null = null;
  const started = Date.now();
  const timer = setInterval(() => log(progressLine(what, compiled, (Date.now() - started) / 1000, expected, last)), process.stderr.isTTY ? 5_000 : 30_000);
  try {
    proc = execa(argv[0]!, argv.slice(1), { cwd: tree, env: buildEnv(), all: true, reject: false, buffer: false, ...(signal ? { cancelSignal: signal } : {}) });
    proc.all?.on('data', (chunk: Buffer) => {
      out.write(chunk);
      for (const line of chunk.toString().split('\n')) {
        const m = /^\s+(CC|AS|LD|AR)\s+(\S+)/.exec(line);
        if (m) {
          compiled++;
          last = m[2]!;
        }
      }
    });
    const r = await proc;
    if (out.error) throw new InfraError(`${what}: writing ${logFile} failed: ${out.error.message}`, 'free disk space');
    if (r.isCanceled) throw new InfraError(`${what} interrupted`);
    if (r.exitCode !== 0) {
      const text = fs.readFileSync(logFile, 'utf8');
      retry = kallsymsRetry(argv, text);
      if (retry) log(`${what}: "Inconsistent kallsyms data": linking again with KALLSYMS_EXTRA_PASS=1`);
      else {
        const why = buildFailureLine(text);
        if (buildFailureIsTheCodes(text, r.signal ?? null)) throw new BuildFailure(what, r.exitCode ?? null, why ?? null, logFile);
        throw new InfraError(`${what} failed (exit ${r.exitCode}): ${why ?? 'no error line found'}; see ${logFile}`);
      }
    }
  } finally {
    clearInterval(timer);
    await out.end();
  }
  return retry ? compiled + (await makeWithProgress(rec, tree, retry, logFile, what, signal, null)) : compiled;
}

// An out dir of the lab's config plus the cached build: ~1.5 GB; a --debug one twice that.
const BUILD_NEEDS_GIB = 4;

export async function buildStage(rec: Recorder, inp: BuildInputs): Promise<BuildResult> {
  const compiler = await compilerVersion();
  const key = buildKey({ ...inp, compiler });
  const dir = path.join(paths.builds, key);
  // A dry run reads what the fragments ask for: the out dir's .config, if any, is an older run's.
  const dotConfigText = rec.dryRun ? (inp.dryRunConfig ?? '') : fs.existsSync(path.join(inp.outDir, '.config')) ? fs.readFileSync(path.join(inp.outDir, '.config'), 'utf8') : '';
  const modules = configBuildsModules(dotConfigText);
  // A build of a modules config cached before builds packed their modules has none: rebuild.
  const complete = () => fs.existsSync(path.join(dir, 'metadata.json')) && (!modules || fs.existsSync(path.join(dir, 'modules.cpio')));
  if (complete() && !inp.clean) {
    touchUsed(dir);
    // The base tree keeps a built out dir of each configuration it runs: a new series starts
    // from it (patches.ts: seedOutDir). A kernel from the cache whose base out dir was never
    // built here (the cache filled by other trees, or the out dir pruned) builds it once.
    if (inp.warmTree && !rec.dryRun && !fs.existsSync(path.join(inp.outDir, 'vmlinux'))) {
      log(`kernel ${key} from the cache; building the base tree's ${path.basename(inp.outDir)} once, for the series that start from it`);
      await inp.seed?.();
      await makeWithProgress(rec, inp.tree, makeArgv(inp.outDir, kernelTargets(dotConfigText)), inp.logFile, 'build (the base tree\'s out dir)', inp.signal, null);
      return { key, dir, cached: true, compiler };
    }
    fs.appendFileSync(inp.logFile, `cache hit: ${dir} (key ${key}); nothing rebuilt\n`);
    return { key, dir, cached: true, compiler };
  }
  // Each run builds into its own tmp dir: two runs can never write one half-made build.
  const tmp = `${dir}.tmp-${process.pid}`;
  // One make for both: headers_install's few hundred header copies run beside the link
  // (vmlinux, kallsyms, bzImage: one core busy) instead of after it, ~10 s of a cold build.
  const targets = makeArgv(inp.outDir, [...kernelTargets(dotConfigText), 'headers_install', `INSTALL_HDR_PATH=${path.join(tmp, 'headers')}`]);
  if (rec.dryRun) {
    process.stdout.write(`(cd ${inp.tree} && ${shellQuote(targets)})\n`);
    rec.commands.push(targets);
    if (modules) {
      const install = makeArgv(inp.outDir, modulesInstallTargets(modulesRoot(tmp)));
      process.stdout.write(`(cd ${inp.tree} && ${shellQuote(install)})\n`);
      rec.commands.push(install);
    }
    return { key, dir, cached: false, compiler };
  }
  log(`building kernel ${key} in ${inp.outDir} (-j${os.availableParallelism()}, ccache); log: ${inp.logFile}`);
  const t0 = Date.now();
  fs.rmSync(tmp, { recursive: true, force: true });
  checkFreeSpace(paths.cacheRoot, BUILD_NEEDS_GIB, 'build the kernel');
  fs.mkdirSync(tmp, { recursive: true });
  try {
    // A whole build (no vmlinux in the out dir yet) shows a percentage, against the last
    // whole build of this .config; an incremental one counts its objects.
    await inp.seed?.();
    const whole = !fs.existsSync(path.join(inp.outDir, 'vmlinux'));
    const n = await makeWithProgress(rec, inp.tree, targets, inp.logFile, 'build', inp.signal, whole ? expectedObjects(inp.configSha256) : null);
    if (whole && n > 0) recordObjects(inp.configSha256, n);
  } catch (e) {
    // a failed build leaves nothing half-made in the cache
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (modules) {
    try {
      const n = await packModules(rec, inp, tmp);
      log(`${n} module(s) packed for the guest (modules.cpio) and kept unstripped for the symbolizer (ko/)`);
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }
  const copy = (from: string, to: string) => fs.copyFileSync(path.join(inp.outDir, from), path.join(tmp, to));
  copy('arch/x86/boot/bzImage', 'bzImage');
  copy('System.map', 'System.map');
  copy('.config', 'config');
  copy('vmlinux', 'vmlinux');
  copy('usr/gen_init_cpio', 'gen_init_cpio');
  fs.chmodSync(path.join(tmp, 'gen_init_cpio'), 0o755);
  const env = buildEnv();
  const envStr = Object.entries(env).map(([k, v]) => `${k}=${shellQuote([v])}`).join(' ');
  const metadata = {
    key,
    recipe: RECIPE,
    builtAt: new Date().toISOString(),
    durationS: Math.round((Date.now() - t0) / 1000),
    compiler,
    baseTree: inp.baseTree,
    patchsetHash: inp.stackHash,
    configSha256: inp.configSha256,
    tree: inp.tree,
    reproducer: [
      `cd ${inp.tree}`,
      `ARCH=x86_64 ${shellQuote(inp.configCommand)}`,
      `${envStr} ${shellQuote(makeArgv(inp.outDir, kernelTargets(dotConfigText)))}`,
      ...(modules ? [`${envStr} ${shellQuote(makeArgv(inp.outDir, modulesInstallTargets('<root>')))}`] : []),
    ],
  };
  fs.writeFileSync(path.join(tmp, 'metadata.json'), `${JSON.stringify(metadata, null, 2)}\n`);
  let replaced: BuildResult['replaced'];
  if (inp.clean && fs.existsSync(path.join(dir, 'metadata.json'))) {
    // The fresh build takes the key's place; the old one is moved aside first, so a run
    // that has its files open keeps them.
    const same = fs.existsSync(path.join(dir, 'vmlinux')) && (await sha256FileAsync(path.join(dir, 'vmlinux'))) === (await sha256FileAsync(path.join(tmp, 'vmlinux')));
    const old = `${dir}.old-${process.pid}`;
    fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    fs.rmSync(old, { recursive: true, force: true });
    replaced = { sameVmlinux: same };
    log(`--clean: replaced the cached build ${key}; vmlinux ${same ? 'identical' : 'differs'}`);
  } else if (complete()) {
    fs.rmSync(tmp, { recursive: true, force: true }); // another run finished the same build first
  } else {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  }
  touchUsed(dir);
  log(`kernel built in ${metadata.durationS} s`);
  return { key, dir, cached: false, compiler, ...(replaced ? { replaced } : {}) };
}
