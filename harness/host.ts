// Where the guest runs. The qemu stage (probe and boot) is written against this small
// interface: spawn a process, stat/read a range of a file, put a file, remove a directory.
// localHost is this machine (execa and fs, exactly what the stage always did); remote.ts
// implements the same over SSH for a machine that has KVM.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { execa } from 'execa';
import type { RemoteRecord } from './types.ts';

export interface HostProcess {
  stdout: Readable;
  stderr: Readable;
  /** SIGKILL. Safe to call more than once, and after the process has ended. */
  kill(): void;
  /**
   * Settles once the process is gone and its output has been read. exitCode null: killed
   * by a signal. lost: the process's host went away (a dropped SSH connection).
   */
  exited: Promise<{ exitCode: number | null; lost?: string }>;
}

export interface RunResult {
  exitCode: number | null; // null: killed (timeout) or could not run
  stdout: string;
  stderr: string;
}

export interface Host {
  /** "local", or user@host:port */
  readonly label: string;
  readonly remote: boolean;
  exists(file: string): Promise<boolean>;
  /** A new private directory in the host's temporary directory. */
  mkdtemp(prefix: string): Promise<string>;
  /** Copy a file of this machine to the host. */
  putFile(localFile: string, file: string): Promise<void>;
  writeFile(file: string, data: string | Uint8Array): Promise<void>;
  /** Set a file's size (a sparse file when it grows). */
  truncate(file: string, bytes: number): Promise<void>;
  size(file: string): Promise<number>;
  /** Bytes [start, end) of a file. */
  read(file: string, start: number, end: number): Promise<Buffer>;
  removeDir(dir: string): Promise<void>;
  /** Run a command to completion; killed after timeoutMs. Never rejects for a non-zero exit. */
  run(argv: string[], opts?: { timeoutMs?: number }): Promise<RunResult>;
  /** Start a long-running process (QEMU); stdin is /dev/null. Its stdout must be consumed. */
  spawn(argv: string[]): Promise<HostProcess>;
  close(): Promise<void>;
  /** What a run records about where its guest ran: null for this machine. */
  describe(): RemoteRecord | null;
}

/**
 * A child that dies with the harness, even when the harness gets SIGKILL (no handler runs
 * then, so execa's cleanup cannot): setpriv (util-linux) sets PR_SET_PDEATHSIG to KILL and
 * execs the command, so the pid is the command's own. QEMU started this way never outlives us.
 */
export function orphanProof(argv: string[]): string[] {
  return fs.existsSync('/usr/bin/setpriv') && /(^|\/)qemu-system-/.test(argv[0]!) ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', ...argv] : argv;
}

export const localHost: Host = {
  label: 'local',
  remote: false,
  async exists(file) {
    return fs.existsSync(file);
  },
  async mkdtemp(prefix) {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  },
  async putFile(localFile, file) {
    if (path.resolve(localFile) !== path.resolve(file)) fs.copyFileSync(localFile, file);
  },
  async writeFile(file, data) {
    fs.writeFileSync(file, data);
  },
  async truncate(file, bytes) {
    fs.truncateSync(file, bytes);
  },
  async size(file) {
    return fs.statSync(file).size;
  },
  async read(file, start, end) {
    const buf = Buffer.alloc(Math.max(0, end - start));
    const fd = fs.openSync(file, 'r');
    try {
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, start + got);
        if (n === 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    } finally {
      fs.closeSync(fd);
    }
  },
  async removeDir(dir) {
    fs.rmSync(dir, { recursive: true, force: true });
  },
  async run(argv, opts = {}) {
    const [cmd, ...args] = orphanProof(argv);
    const r = await execa(cmd!, args, { reject: false, stdin: 'ignore', ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}) });
    return { exitCode: r.exitCode ?? null, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  },
  async spawn(argv) {
    const [cmd, ...args] = orphanProof(argv);
    const proc = execa(cmd!, args, { reject: false, stdin: 'ignore', buffer: false, cleanup: true, forceKillAfterDelay: 3000 });
    return {
      stdout: proc.stdout!,
      stderr: proc.stderr!,
      kill: () => proc.kill('SIGKILL'),
      exited: proc.then((r) => ({ exitCode: r.exitCode ?? null })),
    };
  },
  async close() {},
  describe() {
    return null;
  },
};
