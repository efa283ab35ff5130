// Stage 3: merge fragments with scripts/kconfig/merge_config.sh on top of allnoconfig,
// then check that every requested symbol survived into the final .config.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.ts';
import { execa } from 'execa';
import { mustRun, run, type Recorder } from '../exec.ts';
import { log } from '../log.ts';
import { explainDrop, parseDotConfig, parseFragment, satisfied, effectiveRequests, type ConfigRequest } from '../kconfig.ts';
import { paths } from '../paths.ts';

export interface FragmentInput {
  source: string; // name for messages: file path or "--config-item"
  text: string;
}

export interface ConfigResult {
  outDir: string; // O= directory
  dotConfig: string; // path
  config: Map<string, string>;
  configSha256: string;
  fragments: string[]; // files given to merge_config.sh, in order
  command: string[];
  cached: boolean; // taken from the config cache: merge_config.sh did not run
  matchesCache?: boolean | null; // --clean: the fresh .config is the cached one of the same key (null: none cached)
  /** a dry run's stand-in for the .config it did not write: the items the fragments ask for */
  requested?: string;
}

export interface Checkers {
  debug: boolean; // KASAN, KFENCE, UBSAN, lockdep...
  kmemleak?: boolean;
  clean?: boolean; // --clean: a fresh out dir, no config cache
}

/** Each kind of kernel gets its own out dir, so switching kinds never rebuilds from scratch. */
export function buildVariant(c: Checkers): string {
  return [c.debug ? 'debug' : '', c.kmemleak ? 'kmemleak' : ''].filter(Boolean).join('-') || 'default';
}

/**
 * One out dir per configuration in each tree, named by the variant and the fragments' texts
 * (what makes the .config, besides the tree): switching suites or --config-item values on a
 * tree never rebuilds what another configuration built there, and a new series tree copies
 * the base tree's out dir of its own configuration (patches.ts: seedOutDir). A direct child
 * of the tree: Kbuild then uses a relative srctree (..), so ccache hits across the base and
 * patched worktrees and a copied out dir is valid in another tree.
 */
export function outDirFor(tree: string, c: Checkers, frags: FragmentInput[]): string {
  if (c.clean) return path.join(tree, `kl-out-clean-${buildVariant(c)}`); // emptied after its build
  const id = crypto.createHash('sha256').update(JSON.stringify(frags.map((f) => f.text))).digest('hex').slice(0, 8);
  return path.join(tree, `kl-out-${buildVariant(c)}-${id}`);
}

export function fragmentFiles(opts: Checkers): FragmentInput[] {
  const list = [path.join(paths.kconfig, 'base.config')];
  if (opts.debug) list.push(path.join(paths.kconfig, 'debug.config'));
  if (opts.kmemleak) list.push(path.join(paths.kconfig, 'kmemleak.config'));
  return list.map((f) => ({ source: path.relative(paths.repoRoot, f), text: fs.readFileSync(f, 'utf8') }));
}

export function collectRequests(frags: FragmentInput[]): ConfigRequest[] {
  const all: ConfigRequest[] = [];
  for (const f of frags) {
    const { requests, bad } = parseFragment(f.text, f.source);
    if (bad.length > 0) {
      throw new UsageError(`${f.source}:${bad[0]!.line}: '${bad[0]!.text}' is not a config item`, 'write CONFIG_X=y, CONFIG_X=value or # CONFIG_X is not set');
    }
    all.push(...requests);
  }
  return all;
}

/**
 * What Kconfig reads besides the tree and the fragments: the toolchain's versions (they land
 * in .config as CC_VERSION_TEXT, LD_VERSION, PAHOLE_VERSION, RUSTC_VERSION, and decide every
 * cc-option). Probed once per process; a missing tool is part of the identity too.
 */
let toolchainMemo: Promise<string> | null = null;
export function toolchainId(): Promise<string> {
  toolchainMemo ??= Promise.all(
    [['gcc', '--version'], ['ld', '--version'], ['pahole', '--version'], ['rustc', '--version'], ['bindgen', '--version']].map(async ([cmd, arg]) => {
      const r = await execa(cmd!, [arg!], { reject: false, stdin: 'ignore', timeout: 30_000 });
      return `${cmd}: ${r.exitCode === 0 ? String(r.stdout).split('\n')[0] : 'absent'}`;
    }),
  ).then((l) => l.join('\n'));
  return toolchainMemo;
}

/**
 * The config cache key: the exact source tree (base tree + patch stack), the variant, the
 * fragments' texts in order and the toolchain. The same key always yields the same .config,
 * so a warm run skips merge_config.sh (about 6 s here).
 */
export async function configKey(treeId: string, checkers: Checkers, frags: FragmentInput[]): Promise<string> {
  const h = crypto.createHash('sha256');
  h.update(JSON.stringify({ recipe: 'kl-config-1', treeId, variant: buildVariant(checkers), fragments: frags.map((f) => f.text), toolchain: await toolchainId() }));
  return h.digest('hex').slice(0, 24);
}

export async function configStage(rec: Recorder, tree: string, checkers: Checkers, frags: FragmentInput[], kconfigFilesCache?: string[], treeId?: string): Promise<ConfigResult> {
  const requests = effectiveRequests(collectRequests(frags));
  const outDir = outDirFor(tree, checkers, frags);
  // --clean starts from nothing: no .config, no objects, no generated headers.
  if (checkers.clean && !rec.dryRun) fs.rmSync(outDir, { recursive: true, force: true });
  // A dry run only names the fragment files: it writes nothing into the tree.
  if (!rec.dryRun) fs.mkdirSync(path.join(outDir, 'kl-fragments'), { recursive: true });
  const files = frags.map((f, i) => {
    const p = path.join(outDir, 'kl-fragments', `${String(i).padStart(2, '0')}-${path.basename(f.source).replace(/[^\w.-]/g, '_')}.config`);
    if (!rec.dryRun) fs.writeFileSync(p, f.text.endsWith('\n') ? f.text : `${f.text}\n`);
    return p;
  });
  const command = ['scripts/kconfig/merge_config.sh', '-n', '-O', outDir, ...files];
  const dotConfig = path.join(outDir, '.config');
  const key = treeId && !rec.dryRun ? await configKey(treeId, checkers, frags) : null;
  const cachedFile = key ? path.join(paths.configCache, `${key}.config`) : null;
  let cached = false;
  if (cachedFile && fs.existsSync(cachedFile) && !checkers.clean) {
    const want = fs.readFileSync(cachedFile, 'utf8');
    // Rewritten only when it differs: an unchanged mtime keeps make from re-running syncconfig.
    if (!fs.existsSync(dotConfig) || fs.readFileSync(dotConfig, 'utf8') !== want) fs.writeFileSync(dotConfig, want);
    cached = true;
    log(`config: cache hit ${key} (merge_config.sh not run)`);
  } else {
    await mustRun(rec, command, { cwd: tree, env: { ARCH: 'x86_64' }, what: 'merge_config.sh' });
  }
  if (rec.dryRun) {
    const requested = requests.map((r) => (r.value === 'n' ? `# ${r.symbol} is not set` : `${r.symbol}=${r.value}`)).join('\n');
    return { outDir, dotConfig, config: new Map(), configSha256: 'dry-run', fragments: files, command, cached, requested };
  }
  const text = fs.readFileSync(dotConfig, 'utf8');
  const config = parseDotConfig(text);
  const dropped = requests.filter((r) => !satisfied(r, config));
  if (dropped.length > 0) {
    const kfiles = kconfigFilesCache ?? (await run({ ...rec, dryRun: false }, ['git', '-C', tree, 'ls-files', '*Kconfig*'], {})).stdout.split('\n').filter(Boolean);
    const first = dropped[0]!;
    const why = explainDrop(tree, first.symbol, config, kfiles) ?? `${first.symbol} is not defined in this kernel's Kconfig`;
    const more = dropped.length > 1 ? ` (and ${dropped.length - 1} more: ${dropped.slice(1, 6).map((d) => d.symbol).join(', ')})` : '';
    throw new UsageError(
      `config ${first.symbol}=${first.value} (from ${first.source}) was dropped; final .config has ${config.get(first.symbol) ?? 'n'}: ${why}${more}`,
      'add the missing dependency to the fragment',
    );
  }
  const configSha256 = crypto.createHash('sha256').update(text).digest('hex');
  let matchesCache: boolean | null = null;
  if (checkers.clean && cachedFile && fs.existsSync(cachedFile)) {
    matchesCache = fs.readFileSync(cachedFile, 'utf8') === text;
    if (!matchesCache) log(`config: the fresh .config differs from the cached one of key ${key}; the cache is replaced`);
  }
  if (cachedFile && !cached) {
    // Only a .config that passed the checks is kept; written whole or not at all.
    fs.mkdirSync(paths.configCache, { recursive: true });
    const tmp = `${cachedFile}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, cachedFile);
  }
  return { outDir, dotConfig, config, configSha256, fragments: files, command, cached, ...(checkers.clean ? { matchesCache } : {}) };
}
