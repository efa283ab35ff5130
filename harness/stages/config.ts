// Stage 3: merge fragments with scripts/kconfig/merge_config.sh on top of allnoconfig,
// then check that every requested symbol survived into the final .config.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.ts';
import { mustRun, run, type Recorder } from '../exec.ts';
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
}

export interface Checkers {
  debug: boolean; // KASAN, KFENCE, UBSAN, lockdep...
  kmemleak?: boolean;
}

/** Each kind of kernel gets its own out dir, so switching kinds never rebuilds from scratch. */
export function buildVariant(c: Checkers): string {
  return [c.debug ? 'debug' : '', c.kmemleak ? 'kmemleak' : ''].filter(Boolean).join('-') || 'default';
}

export function outDirFor(tree: string, c: Checkers): string {
  // A direct child of the tree: Kbuild then uses a relative srctree (..), so ccache
  // hits across the base and patched worktrees.
  return path.join(tree, `kl-out-${buildVariant(c)}`);
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

export async function configStage(rec: Recorder, tree: string, checkers: Checkers, frags: FragmentInput[], kconfigFilesCache?: string[]): Promise<ConfigResult> {
  const requests = effectiveRequests(collectRequests(frags));
  const outDir = outDirFor(tree, checkers);
  // A dry run only names the fragment files: it writes nothing into the tree.
  if (!rec.dryRun) fs.mkdirSync(path.join(outDir, 'kl-fragments'), { recursive: true });
  const files = frags.map((f, i) => {
    const p = path.join(outDir, 'kl-fragments', `${String(i).padStart(2, '0')}-${path.basename(f.source).replace(/[^\w.-]/g, '_')}.config`);
    if (!rec.dryRun) fs.writeFileSync(p, f.text.endsWith('\n') ? f.text : `${f.text}\n`);
    return p;
  });
  const command = ['scripts/kconfig/merge_config.sh', '-n', '-O', outDir, ...files];
  await mustRun(rec, command, { cwd: tree, env: { ARCH: 'x86_64' }, what: 'merge_config.sh' });
  const dotConfig = path.join(outDir, '.config');
  if (rec.dryRun) return { outDir, dotConfig, config: new Map(), configSha256: 'dry-run', fragments: files, command };
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
  return { outDir, dotConfig, config, configSha256, fragments: files, command };
}
