// Benchmarks: a workload prints `BENCH {json}` lines (one per case and mode, with its
// samples); the lab turns them into perf.json, a table and an SVG chart of ratios to the
// baseline mode. Statistics follow lkp's compare: mean, stddev, change %, and a change
// counts as significant only if it is ≥ 5% and the mean±stddev ranges do not overlap.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { TestRecord } from './types.ts';

const benchLine = z.object({
  bench: z.string(), // e.g. ublk-perf
  case: z.string(), // e.g. loop/randread/64k
  mode: z.string(), // e.g. fused-zc
  metric: z.string(), // e.g. iops
  unit: z.string(),
  samples: z.array(z.number()).min(1),
  baseline: z.string().optional(), // mode the ratio is taken against
  higherIsBetter: z.boolean().default(true),
});
export type BenchSample = z.infer<typeof benchLine>;

export interface BenchRow extends BenchSample {
  mean: number;
  stddev: number;
  n: number;
  ratio: number | null; // mean / baseline mean
  changePct: number | null;
  significant: boolean | null;
}

export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function stddev(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

export function collectBench(tests: TestRecord[]): BenchSample[] {
  const out: BenchSample[] = [];
  for (const t of tests) {
    for (const line of t.log ?? []) {
      const m = /^(?:#\s*)?BENCH (\{.*\})\s*$/.exec(line);
      if (!m) continue;
      try {
        const parsed = benchLine.safeParse(JSON.parse(m[1]!));
        if (parsed.success) out.push(parsed.data);
      } catch {
        // a garbled line is skipped, not fatal
      }
    }
  }
  return out;
}

export function analyse(samples: BenchSample[]): BenchRow[] {
  const rows: BenchRow[] = samples.map((s) => ({ ...s, mean: mean(s.samples), stddev: stddev(s.samples), n: s.samples.length, ratio: null, changePct: null, significant: null }));
  for (const r of rows) {
    const baseMode = r.baseline;
    if (!baseMode || baseMode === r.mode) continue;
    const b = rows.find((x) => x.bench === r.bench && x.case === r.case && x.metric === r.metric && x.mode === baseMode);
    if (!b || b.mean === 0) continue;
    r.ratio = r.mean / b.mean;
    r.changePct = (r.ratio - 1) * 100;
    const overlap = r.mean - r.stddev <= b.mean + b.stddev && b.mean - b.stddev <= r.mean + r.stddev;
    r.significant = Math.abs(r.changePct) >= 5 && !overlap;
  }
  return rows;
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));

export function benchTable(rows: BenchRow[]): string {
  const lines = ['| bench | case | mode | metric | mean ± stddev (n) | vs baseline |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    const vs = r.ratio === null ? '—' : `${r.ratio.toFixed(2)}x (${r.changePct! >= 0 ? '+' : ''}${r.changePct!.toFixed(1)}%${r.significant ? ', significant' : ', within noise'})`;
    lines.push(`| ${r.bench} | ${r.case} | ${r.mode} | ${r.metric} (${r.unit}) | ${fmt(r.mean)} ± ${fmt(r.stddev)} (${r.n}) | ${vs} |`);
  }
  return lines.join('\n');
}

/** A horizontal bar chart of ratios to the baseline mode, one bar per case and mode. */
export function ratioChartSvg(rows: BenchRow[], title: string): string {
  const bars = rows.filter((r) => r.ratio !== null);
  const barH = 18;
  const left = 300;
  const width = 760;
  const maxRatio = Math.max(2, ...bars.map((b) => b.ratio!));
  const scale = (width - left - 60) / maxRatio;
  const h = 50 + bars.length * (barH + 6) + 30;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  bars.forEach((b, i) => {
    const y = 40 + i * (barH + 6);
    const w = Math.max(1, b.ratio! * scale);
    const color = b.significant ? (b.ratio! >= 1 ? '#2a7d2a' : '#b03030') : '#888888';
    parts.push(`<text x="${left - 8}" y="${y + 13}" text-anchor="end">${esc(`${b.case} ${b.metric} ${b.mode}`)}</text>`);
    parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color}"/>`);
    parts.push(`<text x="${left + w + 4}" y="${y + 13}">${b.ratio!.toFixed(2)}x</text>`);
  });
  const oneX = left + scale;
  parts.push(`<line x1="${oneX}" y1="32" x2="${oneX}" y2="${h - 24}" stroke="black" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${oneX}" y="${h - 8}" text-anchor="middle">1.0x = baseline mode</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

export function writePerf(dir: string, tests: TestRecord[]): BenchRow[] {
  const rows = analyse(collectBench(tests));
  if (rows.length === 0) return rows;
  fs.writeFileSync(path.join(dir, 'perf.json'), `${JSON.stringify(rows, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'perf.svg'), ratioChartSvg(rows, 'ratio to baseline mode (mean; green/red = significant)'));
  return rows;
}
