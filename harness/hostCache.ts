// The remote host's cache of kernels and initramfs images, by content, beside the SSH host
// it serves: the boot stage puts files through it and gets their remote paths back.
import fs from 'node:fs';
import path from 'node:path';
import { InfraError } from './errors.ts';
import { sha256FileAsync } from './hash.ts';
import type { Host } from './host.ts';

/**
 * The remote's cache of kernels and initramfs images, by content: $XDG_CACHE_HOME (or
 * ~/.cache)/kernel-lab-remote. Files unused for two days are removed on the way.
 */
export async function remoteCache(host: Host): Promise<string> {
  const script = 'd="${XDG_CACHE_HOME:-$HOME/.cache}/kernel-lab-remote" && mkdir -p "$d" && { find "$d" -type f -mmin +2880 -delete 2>/dev/null; printf %s "$d"; }';
  const r = await host.run(['sh', '-c', script]);
  const dir = r.stdout.trim();
  if (r.exitCode !== 0 || !dir.startsWith('/')) throw new InfraError(`${host.label}: cannot make its cache directory: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  return dir;
}

/** Put a file in the remote cache unless it is there already (same content): its remote path. */
export async function cachedPut(host: Host, cache: string, local: string): Promise<{ file: string; uploaded: boolean; size: number }> {
  const size = fs.statSync(local).size;
  const file = path.posix.join(cache, `${(await sha256FileAsync(local)).slice(0, 32)}-${path.basename(local)}`);
  if ((await host.exists(file)) && (await host.size(file)) === size) {
    await host.run(['touch', '--', file]);
    return { file, uploaded: false, size };
  }
  // Upload under a private name and rename: a concurrent run never sees half a file.
  const part = `${file}.${process.pid}.${Date.now()}.part`;
  await host.putFile(local, part);
  const mv = await host.run(['mv', '-f', '--', part, file]);
  if (mv.exitCode !== 0) throw new InfraError(`${host.label}: cannot move ${part} into its cache: ${mv.stderr.trim()}`);
  return { file, uploaded: true, size };
}
