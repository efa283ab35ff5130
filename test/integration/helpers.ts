import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../../harness/paths.ts';
import type { RunRecord } from '../../harness/types.ts';

export interface LabRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  seconds: number;
  run: RunRecord | null;
  dir: string | null;
}

/** Run the real CLI (no mocks): a fresh results dir per call, run.json read back. */
export async function lab(args: string[], timeoutMs = 60 * 60_000): Promise<LabRun> {
  const results = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-results-'));
  const t0 = Date.now();
  const extra = ['triage', 'list', 'bundle', 'rebase-check', 'export-series', 'reply'].includes(args[0] ?? '') ? [] : ['--results', results];
  const r = await execa('node', [path.join(repoRoot, 'scripts', 'lab.mjs'), ...args, ...extra], {
    cwd: repoRoot,
    reject: false,
    timeout: timeoutMs,
  });
  // lab(['triage'|'list', ...]) takes no --results
  const latest = path.join(results, 'latest');
  const dir = fs.existsSync(latest) ? fs.realpathSync(latest) : null;
  const runFile = dir ? path.join(dir, 'run.json') : null;
  return {
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
    seconds: (Date.now() - t0) / 1000,
    run: runFile && fs.existsSync(runFile) ? (JSON.parse(fs.readFileSync(runFile, 'utf8')) as RunRecord) : null,
    dir,
  };
}

/** The one line a usage error prints (progress lines start with "[lab"). */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('kernel-lab:'));
}

export interface LabCommand {
  exitCode: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** A subcommand of the real CLI exactly as given (no --results added), with extra environment. */
export async function labCommand(args: string[], env: Record<string, string> = {}, timeoutMs = 20 * 60_000): Promise<LabCommand> {
  const t0 = Date.now();
  const r = await execa('node', [path.join(repoRoot, 'scripts', 'lab.mjs'), ...args], { cwd: repoRoot, reject: false, timeout: timeoutMs, env });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), seconds: (Date.now() - t0) / 1000 };
}
