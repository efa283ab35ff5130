// --remote user@host[:port]: the guest runs on another machine (one with KVM) over SSH,
// with ssh2: commands on exec channels, files over SFTP. The kernel is built here; the
// qemu stage uploads it and reads the guest's streams back through the Host interface.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import ssh2, { type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { InfraError, UsageError } from './errors.ts';
import { shellQuote } from './exec.ts';
import type { Host, HostProcess, RunResult } from './host.ts';
import { log } from './log.ts';

const { Client, utils } = ssh2; // CommonJS: Node sees no named exports
type Client = InstanceType<typeof Client>;

export interface RemoteTarget {
  user: string;
  host: string; // a name or address; IPv6 without brackets
  port: number;
  label: string; // user@host:port, as it appears in logs and the run record
  keyPath: string;
  key: Buffer;
}

/** user@host[:port], host a name, an IPv4 address or a bracketed IPv6 address. */
export function parseRemote(spec: string): { user: string; host: string; port: number } | null {
  const m = /^([A-Za-z0-9_][A-Za-z0-9._-]*)@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?$/.exec(spec);
  if (!m) return null;
  const port = m[3] === undefined ? 22 : Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { user: m[1]!, host: m[2]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/** The key --remote uses when neither --remote-key nor KL_REMOTE_KEY names one. */
export function defaultRemoteKey(): string | undefined {
  return ['id_ed25519', 'id_rsa'].map((k) => path.join(os.homedir(), '.ssh', k)).find((p) => fs.existsSync(p));
}

/** Check --remote and its key before anything is created: bad input is a usage error. */
export function checkRemote(spec: string, keyPath: string | undefined): RemoteTarget {
  const t = parseRemote(spec);
  if (!t) throw new UsageError(`--remote '${spec}' is not user@host[:port]`, 'e.g. --remote ci@kvm-box or --remote ci@10.0.0.7:2222');
  if (!keyPath) throw new UsageError(`--remote ${spec}: no SSH key (neither ~/.ssh/id_ed25519 nor ~/.ssh/id_rsa exists)`, 'give --remote-key or set KL_REMOTE_KEY');
  const file = keyPath.replace(/^~(?=\/)/, os.homedir());
  let key: Buffer;
  try {
    key = fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`--remote-key ${keyPath}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const parsed = utils.parseKey(key);
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!first || first instanceof Error) throw new UsageError(`--remote-key ${keyPath}: not a usable private key (${first instanceof Error ? first.message : 'empty'})`, 'an unencrypted OpenSSH or PEM private key');
  if (!first.isPrivateKey()) throw new UsageError(`--remote-key ${keyPath} is a public key`, 'give the private key');
  const label = `${t.user}@${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
  return { ...t, label, keyPath: file, key };
}

// ---- host keys ---------------------------------------------------------------------------

export function fingerprint(key: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** How known_hosts names a host: "name", or "[name]:port" off port 22. */
function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [salt, hash] = pattern.slice(3).split('|');
    if (!salt || !hash) return false;
    return crypto.createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

/** The keys a known_hosts file lists for host:port (plain, wildcard or hashed names; @revoked apart). */
export function knownHostKeys(text: string, host: string, port: number): { keys: { type: string; key: Buffer }[]; revoked: Buffer[] } {
  const name = knownHostsName(host, port);
  const keys: { type: string; key: Buffer }[] = [];
  const revoked: Buffer[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const f = line.split(/\s+/);
    const marker = f[0]!.startsWith('@') ? f.shift()! : null;
    if (marker === '@cert-authority' || f.length < 3) continue;
    const pats = f[0]!.split(',');
    if (pats.some((p) => p.startsWith('!') && patternMatches(p.slice(1), name))) continue;
    if (!pats.some((p) => !p.startsWith('!') && patternMatches(p, name))) continue;
    const key = Buffer.from(f[2]!, 'base64');
    if (marker === '@revoked') revoked.push(key);
    else keys.push({ type: f[1]!, key });
  }
  return { keys, revoked };
}

/** Host key algorithms to offer so the server presents a key of a type known_hosts has. */
function algorithmsFor(types: string[]): string[] {
  const map: Record<string, string[]> = {
    'ssh-ed25519': ['ssh-ed25519'],
    'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
    'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
    'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
    'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  };
  return [...new Set(types.flatMap((t) => map[t] ?? []))];
}

export function knownHostsFile(): string {
  return process.env.KL_REMOTE_KNOWN_HOSTS || path.join(os.homedir(), '.ssh', 'known_hosts');
}

// ---- the SSH host ------------------------------------------------------------------------

/**
 * The command line for a remote process that dies with its session. sshd gives a command
 * no signal when the connection drops, so a watcher holds the session's stdin: EOF (our
 * kill(), the harness exiting or being killed, the network going) SIGKILLs the command,
 * which runs as the shell's own pid ($$) via exec, with stdin /dev/null. (After a normal
 * exit the kill hits a pid that has just been reaped: harmless.) Needs a POSIX login shell.
 */
export function dieWithSession(argv: string[]): string {
  return `exec 3<&0 </dev/null; { cat <&3 >/dev/null 2>&1; kill -9 $$ 2>/dev/null; } >/dev/null 2>&1 & exec 3<&- ${shellQuote(argv)}`;
}

export interface SshHost extends Host {
  readonly target: RemoteTarget;
  readonly hostKey: string; // SHA256 fingerprint of the key the server presented
  readonly knownHost: boolean; // the key matched an entry of known_hosts
  readonly qemuVersion: string;
}

/** What connectRemote learns after the connection is up (the host's fields read it). */
interface Learned {
  hostKey: string;
  qemuVersion: string;
}

class SshProcess implements HostProcess {
  stdout: Readable;
  stderr: Readable;
  exited: Promise<{ exitCode: number | null; lost?: string }>;
  private killed = false;
  constructor(
    private ch: ClientChannel,
    lostReason: () => string | null,
  ) {
    this.stdout = ch;
    this.stderr = ch.stderr;
    let code: number | null = null;
    let sawExit = false;
    let chError: string | null = null;
    ch.on('error', (err: Error) => (chError ??= err.message));
    ch.on('exit', (c: number | null) => {
      sawExit = true;
      code = typeof c === 'number' ? c : null;
    });
    this.exited = new Promise((resolve) => {
      ch.on('close', () => {
        const lost = sawExit ? null : (lostReason() ?? chError ?? 'the SSH channel closed without an exit status');
        resolve(lost && !this.killed ? { exitCode: null, lost } : { exitCode: code });
      });
    });
  }
  kill(): void {
    if (this.killed) return;
    this.killed = true;
    try {
      this.ch.signal('KILL'); // OpenSSH >= 7.9 delivers it to the command
    } catch {}
    try {
      this.ch.end(); // and the watcher kills it on stdin EOF, with any sshd
    } catch {}
    // A session that does not close on its own is closed from here.
    setTimeout(() => {
      try {
        this.ch.close();
      } catch {}
    }, 10_000).unref();
  }
}

function connectError(t: RemoteTarget, err: Error & { level?: string; code?: string }, mismatch: string | null): InfraError {
  if (mismatch) return new InfraError(`${t.label}: ${mismatch}`, `if the host was reinstalled, update ${knownHostsFile()}`);
  if (err.level === 'client-authentication') return new InfraError(`${t.label}: the server refused key ${t.keyPath}`, `add ${t.keyPath}.pub to the remote's authorized_keys`);
  if (err.code === 'ECONNREFUSED') return new InfraError(`cannot connect to ${t.label}: connection refused`, 'is sshd running there, on that port?');
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return new InfraError(`cannot connect to ${t.label}: no such host`);
  return new InfraError(`cannot connect to ${t.label}: ${err.message}`);
}

/** One SSH connection; `lost` says why it is gone. */
interface Conn {
  client: Client;
  lost: string | null;
  sftp: Promise<SFTPWrapper> | null;
}

/**
 * Connect, verify the host key, and check that the host has QEMU. A host listed in
 * known_hosts must present a listed key; an unlisted one is accepted (its fingerprint is
 * logged and recorded) and pinned: a reconnection must present the same key.
 */
export async function connectRemote(t: RemoteTarget): Promise<SshHost> {
  let known: { keys: { type: string; key: Buffer }[]; revoked: Buffer[] } = { keys: [], revoked: [] };
  try {
    known = knownHostKeys(fs.readFileSync(knownHostsFile(), 'utf8'), t.host, t.port);
  } catch {}
  let pinned: Buffer | null = null;
  const algos = algorithmsFor(known.keys.map((k) => k.type));
  const open = () =>
    new Promise<Conn>((resolve, reject) => {
      let mismatch: string | null = null;
      const client = new Client();
      const onError = (err: Error) => reject(connectError(t, err, mismatch));
      client.once('error', onError);
      client.once('ready', () => {
        client.off('error', onError);
        const conn: Conn = { client, lost: null, sftp: null };
        client.on('error', (err) => (conn.lost ??= err.message));
        client.on('close', () => (conn.lost ??= 'connection closed'));
        resolve(conn);
      });
      client.connect({
        host: t.host,
        port: t.port,
        username: t.user,
        privateKey: t.key,
        readyTimeout: 20_000,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        ...(algos.length > 0 ? { algorithms: { serverHostKey: algos as never } } : {}),
        hostVerifier: (key: Buffer) => {
          if (known.revoked.some((k) => k.equals(key))) mismatch = `host key ${fingerprint(key)} is marked @revoked in ${knownHostsFile()}`;
          else if (known.keys.length > 0 && !known.keys.some((k) => k.key.equals(key))) mismatch = `host key ${fingerprint(key)} does not match ${knownHostsFile()} (possible man-in-the-middle)`;
          else if (pinned && !pinned.equals(key)) mismatch = `host key changed to ${fingerprint(key)} since this run connected (possible man-in-the-middle)`;
          pinned ??= key;
          return mismatch === null;
        },
      } satisfies ConnectConfig);
    });
  const learned: Learned = { hostKey: '', qemuVersion: '' };
  const host = makeHost(t, await open(), open, known.keys.length > 0, learned);
  if (!host.knownHost) log(`${t.label}: host key ${fingerprint(pinned!)} is not in ${knownHostsFile()}; accepted`);
  learned.hostKey = fingerprint(pinned!);
  try {
    const q = await host.run(['sh', '-c', 'command -v qemu-system-x86_64 >/dev/null && qemu-system-x86_64 --version'], { timeoutMs: 30_000 });
    const version = q.stdout.split('\n').find((l) => /QEMU emulator version/.test(l));
    if (q.exitCode !== 0 || !version) throw new InfraError(`${t.label} has no qemu-system-x86_64 on its PATH`, 'install qemu-system-x86 there');
    learned.qemuVersion = version.trim();
  } catch (err) {
    await host.close();
    throw err;
  }
  return host;
}

function makeHost(target: RemoteTarget, first: Conn, reopen: () => Promise<Conn>, knownHost: boolean, learned: Learned): SshHost {
  let conn = first;
  let closed = false;
  /**
   * The connection, reopened if it dropped since (the build can take longer than a NAT or
   * a laptop keeps an idle connection). A process that ran on a dropped one reports it lost.
   */
  let reopening: Promise<Conn> | null = null;
  const ensure = async (): Promise<Conn> => {
    if (closed) throw new InfraError(`${target.label}: connection already closed`);
    if (!conn.lost) return conn;
    reopening ??= (async () => {
      log(`${target.label}: ${conn.lost}; reconnecting`);
      try {
        return (conn = await reopen());
      } finally {
        reopening = null;
      }
    })();
    return reopening;
  };
  const sftp = async (): Promise<SFTPWrapper> => {
    const c = await ensure();
    if (!c.sftp) {
      const p = new Promise<SFTPWrapper>((resolve, reject) => {
        c.client.sftp((err, s) => {
          if (err) return reject(new InfraError(`${target.label}: SFTP: ${err.message}`));
          // Errors surface through each request's callback; a closed session is reopened.
          s.on('error', () => {});
          s.on('close', () => c.sftp === p && (c.sftp = null));
          resolve(s);
        });
      });
      c.sftp = p;
      p.catch(() => c.sftp === p && (c.sftp = null));
    }
    return c.sftp;
  };
  const call = <T>(what: string, fn: (s: SFTPWrapper, cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> =>
    sftp().then(
      (s) =>
        new Promise<T>((resolve, reject) =>
          fn(s, (err, v) => (err ? reject(new InfraError(`${target.label}: ${what}: ${err.message}`)) : resolve(v as T))),
        ),
    );
  const exec = async (argv: string[]): Promise<SshProcess> => {
    const c = await ensure();
    const ch = await new Promise<ClientChannel>((resolve, reject) =>
      c.client.exec(dieWithSession(argv), (err, ch) => (err ? reject(new InfraError(`${target.label}: cannot run ${argv[0]}: ${err.message}`)) : resolve(ch))),
    );
    return new SshProcess(ch, () => c.lost);
  };
  const run = async (argv: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> => {
    const p = await exec(argv);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = opts.timeoutMs ? setTimeout(() => p.kill(), opts.timeoutMs) : null;
    const r = await p.exited;
    if (timer) clearTimeout(timer);
    if (r.lost) throw new InfraError(`${target.label}: ${r.lost}`);
    return { exitCode: r.exitCode, stdout, stderr };
  };
  return {
    label: target.label,
    remote: true,
    target,
    get hostKey() {
      return learned.hostKey;
    },
    knownHost,
    get qemuVersion() {
      return learned.qemuVersion;
    },
    describe() {
      return { target: target.label, qemu: learned.qemuVersion, hostKey: learned.hostKey, knownHost };
    },
    async exists(file) {
      return call<unknown>('stat', (s, cb) => s.stat(file, cb)).then(
        () => true,
        () => false,
      );
    },
    async mkdtemp(prefix) {
      const r = await run(['mktemp', '-d', '-t', `${prefix}XXXXXX`]);
      const dir = r.stdout.trim().split('\n').pop() ?? '';
      if (r.exitCode !== 0 || !dir.startsWith('/')) throw new InfraError(`${target.label}: mktemp -d failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
      return dir;
    },
    async putFile(localFile, file) {
      await call<void>(`upload ${path.basename(localFile)}`, (s, cb) => s.fastPut(localFile, file, cb));
    },
    async writeFile(file, data) {
      // ssh2 writes anything but a Buffer as a string ('' + data): a Uint8Array would become "1,2,3"
      const buf = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      await call<void>(`write ${file}`, (s, cb) => s.writeFile(file, buf, cb));
    },
    async truncate(file, bytes) {
      await call<void>(`truncate ${file}`, (s, cb) => s.setstat(file, { size: bytes }, cb));
    },
    async size(file) {
      const st = await call<{ size: number }>(`stat ${file}`, (s, cb) => s.stat(file, cb));
      return st.size;
    },
    async read(file, start, end) {
      const s = await sftp();
      const handle = await call<Buffer>(`open ${file}`, (x, cb) => x.open(file, 'r', cb));
      try {
        const buf = Buffer.alloc(Math.max(0, end - start));
        let got = 0;
        while (got < buf.length) {
          const n = await new Promise<number>((resolve, reject) =>
            s.read(handle, buf, got, Math.min(buf.length - got, 1 << 20), start + got, (err, bytes) => (err ? reject(new InfraError(`${target.label}: read ${file}: ${err.message}`)) : resolve(bytes))),
          );
          if (n === 0) break;
          got += n;
        }
        return buf.subarray(0, got);
      } finally {
        await new Promise<void>((resolve) => s.close(handle, () => resolve()));
      }
    },
    async removeDir(dir) {
      const r = await run(['rm', '-rf', '--', dir]);
      if (r.exitCode !== 0) throw new InfraError(`${target.label}: rm -rf ${dir} failed: ${r.stderr.trim()}`);
    },
    run,
    spawn: exec,
    async close() {
      if (closed) return;
      closed = true;
      if (conn.lost) return;
      const c = conn.client;
      await new Promise<void>((resolve) => {
        c.once('close', () => resolve());
        c.end();
        setTimeout(resolve, 5_000).unref();
      });
    },
  };
}
