// Content digests of files: the cache keys and pins are sha256 of what a file holds.
import crypto from 'node:crypto';
import fs from 'node:fs';

export function sha256File(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

const digests = new Map<string, string>(); // path:size:mtime → sha256

/** The same without blocking the event loop (a kernel image while watchdogs run), memoized by path, size and mtime. */
export async function sha256FileAsync(file: string): Promise<string> {
  const st = fs.statSync(file);
  const memo = `${file}:${st.size}:${st.mtimeMs}`;
  const known = digests.get(memo);
  if (known) return known;
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  const d = h.digest('hex');
  digests.set(memo, d);
  return d;
}
