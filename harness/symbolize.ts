// File:line for kernel reports, and who to tell: each report's stack through the tree's own
// scripts/decode_stacktrace.sh (addr2line over the built vmlinux), then the guilty frame's
// file through scripts/get_maintainer.pl. Needs a kernel built with line tables
// (CONFIG_DEBUG_INFO: the --debug variant carries full DWARF, which drgn needs too).
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { CrashRecord } from './types.ts';

export interface SymbolizeInputs {
  vmlinux: string;
  tree: string; // the source tree the kernel was built from (MAINTAINERS, scripts/)
  outDir?: string; // its O= directory, whose relative paths the line tables name
}

/** A source path as the tree names it (drivers/x.c), from what addr2line printed. */
export function treePath(file: string, inp: Pick<SymbolizeInputs, 'tree' | 'outDir'>): string {
  const abs = path.isAbsolute(file) ? file : path.resolve(inp.outDir ?? inp.tree, file);
  const rel = path.relative(inp.tree, abs);
  return rel.startsWith('..') ? file : rel;
}

/**
 * The guilty frame's file:line in decode_stacktrace.sh's output, where a decoded frame reads
 * `f (file:line)`, or `f (inlined.h:12 file:line)` when code was inlined into it (addr2line
 * -i: innermost first). The frame's own line, the last, is what a developer opens.
 */
export function frameLocation(decoded: string, frame: string): string | null {
  const esc = frame.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`(?:^|[\\s\\]])${esc} \\(([^()]*(?:\\([^()]*\\)[^()]*)*)\\)`);
  for (const line of decoded.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const locs = m[1]!.replace(/\(discriminator \d+\)/g, ' ').split(/\s+/).filter((w) => /:\d+$/.test(w));
    if (locs.length > 0) return locs[locs.length - 1]!;
  }
  return null;
}

/** Maintainers and lists for a file, people first, as get_maintainer.pl prints them. */
export async function maintainersOf(tree: string, file: string): Promise<string[]> {
  const script = path.join(tree, 'scripts', 'get_maintainer.pl');
  if (!fs.existsSync(script) || !fs.existsSync(path.join(tree, file))) return [];
  const r = await execa('perl', [script, '--no-git', '--no-git-fallback', '--no-rolestats', '--no-tree', '-f', file], { cwd: tree, reject: false, timeout: 60_000 });
  if (r.exitCode !== 0) return [];
  return String(r.stdout).split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Adds decoded, location and maintainers to each report (reports it cannot decode are left as they are). */
export async function symbolizeCrashes(crashes: CrashRecord[], inp: SymbolizeInputs): Promise<{ decoded: number; error?: string }> {
  const script = path.join(inp.tree, 'scripts', 'decode_stacktrace.sh');
  if (!fs.existsSync(script)) return { decoded: 0, error: `${script} is missing` };
  if (!fs.existsSync(inp.vmlinux)) return { decoded: 0, error: `${inp.vmlinux} is missing` };
  let decoded = 0;
  let error: string | undefined;
  const maintainers = new Map<string, string[]>();
  for (const c of crashes) {
    const r = await execa('bash', [script, inp.vmlinux, inp.outDir ?? inp.tree], { input: c.report, reject: false, timeout: 300_000 });
    if (r.exitCode !== 0) {
      error ??= `decode_stacktrace.sh exited ${r.exitCode}: ${String(r.stderr).trim().split('\n').pop() ?? ''}`;
      continue;
    }
    const raw = String(r.stdout);
    // Paths relative to the out dir (../drivers/x.c) read as the tree's own (drivers/x.c).
    c.decoded = inp.outDir && path.dirname(path.resolve(inp.outDir)) === path.resolve(inp.tree) ? raw.replace(/(?<=[( ])\.\.\//g, '') : raw;
    decoded++;
    const loc = c.frame ? frameLocation(raw, c.frame) : null;
    if (!loc) continue;
    const [file, line] = [loc.slice(0, loc.lastIndexOf(':')), loc.slice(loc.lastIndexOf(':') + 1)];
    const rel = treePath(file, inp);
    c.location = `${rel}:${line}`;
    if (!maintainers.has(rel)) maintainers.set(rel, await maintainersOf(inp.tree, rel));
    const m = maintainers.get(rel)!;
    if (m.length > 0) c.maintainers = m;
  }
  return { decoded, ...(error ? { error } : {}) };
}
