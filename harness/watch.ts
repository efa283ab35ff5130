// `npm run lab -- watch <run options>`: the inner loop without retyping. The run's own inputs
// (the series' patches, --config fragments, --known-issues, the suites it runs, a
// --kernel-src tree) are watched; each saved change reruns the lab and prints one verdict
// line. Each run is the ordinary CLI in a child process, so a watched run and a typed one
// are the same run: same record, same exit code, same locks.
import fs from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { watch as chokidar } from 'chokidar';
import { log } from './log.ts';
import { paths } from './paths.ts';

export interface WatchInputs {
  patch: string[];
  suites: string[] | null;
  configFragments: string[];
  knownIssues?: string;
  kernelSrc: string | null;
}

/** What a change to would change the run's verdict: the paths watch follows. */
export function watchedPaths(o: WatchInputs, setNames: string[], defaultSuites: string[]): string[] {
  const out = new Set<string>();
  for (const p of o.patch) {
    if (p === 'none') continue;
    if (setNames.includes(p)) out.add(path.join(paths.patchSets, p));
    else out.add(path.resolve(p));
  }
  for (const f of o.configFragments) out.add(path.resolve(f));
  if (o.knownIssues) out.add(path.resolve(o.knownIssues));
  else out.add(path.join(paths.suites, 'known-issues.json'));
  for (const s of o.suites ?? defaultSuites) out.add(s.includes('/') ? path.resolve(s) : path.join(paths.suites, s));
  out.add(path.join(paths.suites, 'include'));
  if (o.kernelSrc && fs.existsSync(o.kernelSrc) && fs.statSync(o.kernelSrc).isDirectory()) out.add(path.resolve(o.kernelSrc));
  return [...out].filter((p) => fs.existsSync(p)).sort();
}

// Build products and VCS state in a watched tree are not edits.
const IGNORED = /(^|\/)(\.git|kl-out[^/]*|\.tmp_[^/]*)(\/|$)|\.(o|a|ko|mod|mod\.c|cmd|d|order|symvers|swp|swx)$|~$|(^|\/)\.#/;

/**
 * Run once now, then again after each burst of changes (settled for `quietMs`). A change
 * during a run queues exactly one more run after it; the running one is never killed for
 * it (its build is mostly the next one's too). SIGINT/SIGTERM stop the run and the watch.
 */
export async function watchRuns(runArgs: string[], watched: string[], opts: { quietMs?: number; out?: NodeJS.WritableStream } = {}): Promise<number> {
  const out = opts.out ?? process.stdout;
  const quietMs = opts.quietMs ?? 400;
  // Each run is a fresh `npm run lab` (the launcher bundles the sources again if watch saw them change).
  const cli = path.join(paths.repoRoot, 'scripts', 'lab.mjs');
  let child: ResultPromise | null = null;
  let pending: string | null = 'start';
  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let wake: (() => void) | null = null;
  let n = 0;

  log(`watching ${watched.length} path(s): ${watched.map((p) => path.relative(process.cwd(), p) || '.').join(', ')}`);
  const w = chokidar(watched, { ignoreInitial: true, ignored: (p: string) => IGNORED.test(p), awaitWriteFinish: { stabilityThreshold: 150, pollInterval: 50 } });
  const changed = (what: string) => (file: string) => {
    if (stopping) return;
    const rel = path.relative(process.cwd(), file);
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      pending = `${what} ${rel.startsWith('..') ? file : rel}`;
      if (child) log(`change seen during run ${n}: one more run after it (${pending})`);
      wake?.();
    }, quietMs);
  };
  w.on('change', changed('changed')).on('add', changed('added')).on('unlink', changed('removed'));
  await new Promise<void>((resolve) => w.once('ready', () => resolve()));

  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping the watch${child ? ' and its run' : ''}`);
    child?.kill('SIGTERM');
    wake?.();
  };
  const onInt = () => stop('SIGINT');
  const onTerm = () => stop('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    while (!stopping) {
      if (pending === null) {
        await new Promise<void>((r) => (wake = r));
        wake = null;
        continue;
      }
      const why = pending;
      pending = null;
      n++;
      const t0 = Date.now();
      child = execa(process.execPath, [cli, ...runArgs], { cwd: process.cwd(), reject: false, stdout: 'pipe', stderr: 'inherit', stdin: 'ignore' });
      const r = await child;
      child = null;
      if (stopping) break;
      const lines = String(r.stdout).trimEnd().split('\n');
      const verdict = [...lines].reverse().find((l) => /^[A-Z]+: /.test(l)) ?? 'no verdict (see the lines above)';
      const where = lines.at(-1)?.startsWith('  ') ? lines.at(-1)!.trim() : '';
      const stamp = new Date().toISOString().slice(11, 19);
      out.write(`[watch ${stamp}] run ${n} (${why}): ${verdict.trim()} [exit ${r.exitCode}, ${Math.round((Date.now() - t0) / 1000)} s]${where ? ` ${where}` : ''}\n`);
      if (pending === null) log('waiting for a change (Ctrl-C to stop)');
    }
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    if (timer) clearTimeout(timer);
    await w.close();
  }
  return 0;
}
