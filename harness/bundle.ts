// A run directory packed as <run-id>.tar.gz, for a CI artifact or a reply on the list.
import fs from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { UsageError } from './errors.ts';

export async function bundleRun(runDir: string): Promise<string> {
  const dir = fs.existsSync(runDir) ? fs.realpathSync(runDir) : runDir;
  if (!fs.existsSync(path.join(dir, 'run.json'))) throw new UsageError(`bundle: ${runDir} is not a run directory (no run.json)`, 'give results/<run-id> or results/latest');
  const out = `${dir}.tar.gz`;
  await tar.c({ gzip: true, file: out, cwd: path.dirname(dir), portable: true, filter: (p) => !/(initrd\.cpio|scratch\.img)$/.test(p) }, [path.basename(dir)]);
  return out;
}
