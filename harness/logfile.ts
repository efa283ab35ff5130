// An append-only log the harness writes while a child runs (build.log, console.log). A
// write error (ENOSPC, EIO) must not become an uncaught exception, which would end node
// with exit 1, read as "the kernel failed": it is kept, and the caller ends the step as
// an infrastructure error naming the file.
import fs from 'node:fs';

export interface LogFile {
  write(text: string | Buffer): void;
  end(): Promise<void>;
  /** The first write error, if any. */
  readonly error: Error | null;
}

export function openLog(file: string, flags = 'w', onError?: (err: Error) => void): LogFile {
  const out = fs.createWriteStream(file, { flags });
  let error: Error | null = null;
  out.on('error', (err) => {
    if (error) return;
    error = err;
    onError?.(err);
  });
  return {
    write(text) {
      if (!error && !out.destroyed) out.write(text);
    },
    end() {
      return new Promise((res) => {
        if (out.closed) return res();
        out.once('close', () => res()); // after finish, or after an error destroyed the stream
        out.end();
      });
    },
    get error() {
      return error;
    },
  };
}
