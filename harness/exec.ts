import fs from 'node:fs';
import path from 'node:path';
import { execa, type Options } from 'execa';
import { InfraError } from './errors.ts';
import { GIT_ENV } from './git.ts';
import { log } from './log.ts';

/**
 * Quote an argv for a POSIX shell: for display (metadata.json, --dry-run), and for the one
 * place a command line must be a string, an SSH exec request (remote.ts). Local commands never go through a shell.
 */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/** No child of the harness (git, tar, apt-get, rsync, a compiler) may hang a run: the default bound. */
const CHILD_TIMEOUT_MS = Number(process.env.KL_CHILD_TIMEOUT_S ?? 2 * 3600) * 1000;

export interface Recorder {
  commands: string[][];
  dryRun: boolean;
}

/**
 * Run one external command (argv, never a shell string), recording it in the run.
 * With dryRun the command is only recorded and printed.
 */
export async function run(
  rec: Recorder,
  argv: string[],
  opts: Options & { what?: string } = {},
): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  rec.commands.push(argv);
  if (rec.dryRun) {
    process.stdout.write(`${opts.cwd ? `(cd ${shellQuote([String(opts.cwd)])} && ` : ''}${shellQuote(argv)}${opts.cwd ? ')' : ''}\n`);
    return { stdout: '', stderr: '', exitCode: 0 };
  }
  const { what, ...execaOpts } = opts;
  try {
    // stdin closed: a child that would prompt (git, apt-get, ssh) fails instead of hanging.
    const env = argv[0] === 'git' ? { ...GIT_ENV, ...(execaOpts.env ?? {}) } : execaOpts.env;
    const timeout = execaOpts.timeout ?? CHILD_TIMEOUT_MS;
    const r = await execa(argv[0]!, argv.slice(1), { stdin: 'ignore', ...execaOpts, timeout, env, reject: false, stripFinalNewline: true });
    if (r.timedOut) throw new InfraError(`${what ?? shellQuote(argv.slice(0, 3))} did not finish within ${Math.round(timeout / 1000)} s`, 'a hung step: see the command in run.json');
    if (r.exitCode === undefined && r.failed) {
      throw new InfraError(`${what ?? argv[0]} could not run: ${r.shortMessage}`);
    }
    return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
  } catch (err) {
    if (err instanceof InfraError) throw err;
    throw new InfraError(`${what ?? argv[0]} could not run: ${(err as Error).message}`);
  }
}

/** Like run() but a non-zero exit is an infrastructure error naming the step. */
export async function mustRun(rec: Recorder, argv: string[], opts: Options & { what?: string } = {}): Promise<string> {
  const r = await run(rec, argv, opts);
  if (r.exitCode !== 0) {
    const tail = (r.stderr || r.stdout).split('\n').slice(-15).join('\n');
    log(`${opts.what ?? argv[0]} failed (exit ${r.exitCode}):\n${tail}`);
    throw new InfraError(`${opts.what ?? shellQuote(argv)} failed with exit ${r.exitCode}`);
  }
  return r.stdout;
}

/** Where a host tool is installed (the system's bin directories), resolved; null when it is not. */
export async function which(tool: string): Promise<string | null> {
  for (const d of ['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin']) {
    const p = path.join(d, tool);
    if (fs.existsSync(p)) return fs.realpathSync(p);
  }
  return null;
}
