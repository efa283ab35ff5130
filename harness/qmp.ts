// A minimal QMP client (QEMU Machine Protocol: JSON lines over a UNIX socket): the greeting,
// qmp_capabilities, then one command at a time. The lab uses it for the post-mortem of a
// hung guest (inject-nmi), so every step is bounded: a QEMU that does not answer is given up.
import net from 'node:net';

export interface QmpReply {
  return?: unknown;
  error?: { class: string; desc: string };
}

export async function qmpCommands(socket: string, commands: { execute: string; arguments?: Record<string, unknown> }[], timeoutMs = 5_000): Promise<QmpReply[]> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socket);
    const replies: QmpReply[] = [];
    let buf = '';
    let greeted = false;
    let capable = false;
    const timer = setTimeout(() => finish(new Error(`QMP at ${socket} did not answer within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const next = () => {
      const c = commands[replies.length];
      if (!c) return finish();
      s.write(`${JSON.stringify(c)}\n`);
    };
    s.on('error', (e) => finish(e));
    s.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return finish(new Error(`QMP at ${socket} sent a line that is not JSON`));
        }
        if ('event' in msg) continue; // asynchronous events are not answers
        if (!greeted) {
          if (!('QMP' in msg)) return finish(new Error(`QMP at ${socket}: no greeting`));
          greeted = true;
          s.write(`${JSON.stringify({ execute: 'qmp_capabilities' })}\n`);
          continue;
        }
        if (!capable) {
          if ('error' in msg) return finish(new Error(`QMP at ${socket}: qmp_capabilities refused`));
          capable = true;
          next();
          continue;
        }
        replies.push(msg as QmpReply);
        next();
      }
    });
    s.on('close', () => finish(replies.length === commands.length ? undefined : new Error(`QMP at ${socket} closed the connection`)));
  });
}
