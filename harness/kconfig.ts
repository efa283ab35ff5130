// Kconfig fragments and .config files: parse, verify, explain.
import fs from 'node:fs';
import path from 'node:path';

export interface ConfigRequest {
  symbol: string; // CONFIG_X
  value: string; // y, m, n, or a literal
  source: string; // where it was asked for
}

const ITEM = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const UNSET = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/;

export function parseConfigItem(item: string, source: string): ConfigRequest | null {
  const line = item.trim();
  const m = ITEM.exec(line);
  if (m) return { symbol: m[1]!, value: m[2]!, source };
  const u = UNSET.exec(line);
  if (u) return { symbol: u[1]!, value: 'n', source };
  return null;
}

export function parseFragment(text: string, source: string): { requests: ConfigRequest[]; bad: { line: number; text: string }[] } {
  const requests: ConfigRequest[] = [];
  const bad: { line: number; text: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const req = parseConfigItem(line, `${source}:${i + 1}`);
    if (req) requests.push(req);
    else if (!line.startsWith('#')) bad.push({ line: i + 1, text: line });
  });
  return { requests, bad };
}

/** Final .config as symbol → value ("n" for "is not set"). */
export function parseDotConfig(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const r = parseConfigItem(line, '');
    if (r) m.set(r.symbol, r.value);
  }
  return m;
}

export function satisfied(req: ConfigRequest, config: Map<string, string>): boolean {
  const have = config.get(req.symbol) ?? 'n';
  return have === req.value || (req.value === 'n' && !config.has(req.symbol));
}

/** Later requests win, as merge_config.sh does; returns the effective request per symbol. */
export function effectiveRequests(reqs: ConfigRequest[]): ConfigRequest[] {
  const last = new Map<string, ConfigRequest>();
  for (const r of reqs) last.set(r.symbol, r);
  return [...last.values()];
}

const SYM = /\b([A-Z][A-Z0-9_]+)\b/g;

/**
 * Explain why a symbol did not get its value: its `depends on` lines and enclosing
 * `if` blocks, naming the symbols they reference that are off in the final config.
 */
export function explainDrop(tree: string, symbol: string, config: Map<string, string>, kconfigFiles: string[]): string | null {
  const name = symbol.replace(/^CONFIG_/, '');
  const defRe = new RegExp(`^\\s*(?:menu)?config\\s+${name}\\s*$`);
  for (const rel of kconfigFiles) {
    const file = path.join(tree, rel);
    let lines: string[];
    try {
      lines = fs.readFileSync(file, 'utf8').split('\n');
    } catch {
      continue;
    }
    const at = lines.findIndex((l) => defRe.test(l));
    if (at < 0) continue;
    const conds: string[] = [];
    const ifStack: string[] = [];
    for (let i = 0; i < at; i++) {
      const l = lines[i]!.trim();
      if (l.startsWith('if ')) ifStack.push(l.slice(3).trim());
      else if (l === 'endif') ifStack.pop();
    }
    conds.push(...ifStack);
    for (let i = at + 1; i < lines.length; i++) {
      const l = lines[i]!;
      if (/^\s*(config|menuconfig|choice|endchoice|menu|endmenu|if|endif|source|comment)\b/.test(l)) break;
      const d = /^\s*depends on\s+(.*)$/.exec(l);
      if (d) conds.push(d[1]!.trim());
    }
    if (conds.length === 0) return `${rel} defines ${name} with no dependencies (check 'select' conflicts or choices)`;
    const off = new Set<string>();
    for (const c of conds) {
      for (const m of c.matchAll(SYM)) {
        const s = `CONFIG_${m[1]}`;
        if ((config.get(s) ?? 'n') === 'n') off.add(s);
      }
    }
    const offList = [...off];
    return `${rel}: ${name} depends on ${conds.join(' && ')}${offList.length ? `; not set: ${offList.join(', ')}` : ''}`;
  }
  return null;
}
