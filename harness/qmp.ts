// A minimal QMP client (QEMU Machine Protocol: JSON lines over a UNIX socket): the greeting,
// qmp_capabilities, then commands matched to answers by id, and events as they come. The
// lab uses it for the post-mortem of a hung guest (inject-nmi) and the dump of a panicked
// one (GUEST_PANICKED, dump-guest-memory, cont), so every step is bounded: a QEMU that
// does not answer is given up.
import net from 'node:net';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

/** One QMP connection held for the whole boot: events as they come, commands one at a time. */
export interface QmpMonitor {
  command(execute: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<unknown>;
  close(): void;
}

/**
 * Connect to a UNIX socket QEMU listens on (QMP, a chardev), retrying while QEMU has not
 * created it yet, up to connectMs or until gone() says QEMU has ended.
 */
export async function connectUnix(socket: string, gone: () => boolean = () => false, connectMs = 10_000): Promise<net.Socket> {
  const until = Date.now() + connectMs;
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const c = net.createConnection(socket);
        c.once('connect', () => resolve(c));
        c.once('error', reject);
      });
    } catch (err) {
      if (Date.now() > until || gone()) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Connect to QEMU's QMP socket (retrying while QEMU has not created it yet, up to
 * connectMs), negotiate capabilities and hand every event to onEvent. QEMU serves one QMP
 * client per socket: every command of the boot goes through this connection.
 */
export async function openQmp(socket: string, onEvent: (e: QmpEvent) => void, gone: () => boolean = () => false, connectMs = 10_000): Promise<QmpMonitor> {
  const until = Date.now() + connectMs;
  const s = await connectUnix(socket, gone, connectMs).catch((err: Error) => {
    throw new Error(`QMP at ${socket}: ${err.message}`);
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  let closed: Error | null = null;
  let buf = '';
  let ready: (err?: Error) => void = () => {};
  const negotiated = new Promise<void>((resolve, reject) => (ready = (err) => (err ? reject(err) : resolve())));
  let greeted = false;
  const failAll = (err: Error) => {
    closed ??= err;
    ready(err);
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    pending.clear();
  };
  s.on('error', (e) => failAll(new Error(`QMP at ${socket}: ${e.message}`)));
  s.on('close', () => failAll(new Error(`QMP at ${socket} closed the connection`)));
  s.on('data', (d) => {
    buf += d.toString();
    if (buf.length > 1 << 20) return s.destroy(new Error('a QMP line over 1 MiB'));
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return s.destroy(new Error('a line that is not JSON'));
      }
      if (!greeted) {
        greeted = true;
        if (!('QMP' in msg)) return s.destroy(new Error('no greeting'));
        s.write(`${JSON.stringify({ execute: 'qmp_capabilities', id: 0 })}\n`);
        continue;
      }
      if (typeof msg.event === 'string') {
        onEvent({ event: msg.event, data: msg.data as Record<string, unknown> | undefined });
        continue;
      }
      if (msg.id === 0) {
        ready('error' in msg ? new Error(`QMP at ${socket}: qmp_capabilities refused`) : undefined);
        continue;
      }
      const p = pending.get(msg.id as number);
      if (!p) continue;
      pending.delete(msg.id as number);
      clearTimeout(p.timer);
      const e = msg.error as { class?: string; desc?: string } | undefined;
      if (e) p.reject(new Error(`${e.class ?? 'error'}: ${e.desc ?? ''}`));
      else p.resolve(msg.return);
    }
  });
  const t = setTimeout(() => failAll(new Error(`QMP at ${socket} did not negotiate within ${connectMs} ms`)), Math.max(1000, until - Date.now()));
  try {
    await negotiated;
  } finally {
    clearTimeout(t);
  }
  return {
    command(execute, args, timeoutMs = 5_000) {
      if (closed) return Promise.reject(closed);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`QMP ${execute} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        s.write(`${JSON.stringify({ execute, ...(args ? { arguments: args } : {}), id })}\n`);
      });
    },
    close() {
      failAll(new Error('closed'));
      s.destroy();
    },
  };
}
