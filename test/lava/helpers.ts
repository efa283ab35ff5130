// The LAVA tests need Debian's LAVA packages (make lava-deps), which make deps does not
// install: without them they fail saying so, never skip.
import fs from 'node:fs';
import { execa } from 'execa';

export const PYTHON = '/usr/bin/python3'; // Debian's, where lava_common is (not a pyenv shim)

/** Why the LAVA packages cannot be used here, or null. */
export function lavaMissing(need: 'schema' | 'run'): string | null {
  if (!fs.existsSync('/usr/lib/python3/dist-packages/lava_common/schemas/__init__.py')) return 'lava-common is not installed: run make lava-deps';
  if (need === 'run' && !fs.existsSync('/usr/bin/lava-run')) return 'lava-run (lava-dispatcher) is not installed: run make lava-deps';
  if (need === 'run' && process.getuid?.() !== 0) return 'lava-run runs a job as root only (Debian\'s 2023.01 has no --skip-sudo-warning): run this test as root';
  return null;
}

/**
 * lava-common's own strict check of a job definition (lava_common.schemas.validate, what
 * lava-schema.py and the server's /jobs/validate/ call): null when valid, else its error.
 */
export async function lavaSchemaError(jobYaml: string): Promise<string | null> {
  const py = [
    'import sys, yaml',
    'from lava_common.schemas import validate',
    'try:',
    '    validate(yaml.safe_load(sys.stdin.read()), strict=True)',
    'except Exception as e:',
    '    print("%s: %s" % (type(e).__name__, e)); sys.exit(1)',
  ].join('\n');
  const r = await execa(PYTHON, ['-c', py], { input: jobYaml, reject: false });
  return r.exitCode === 0 ? null : (r.stdout || r.stderr).trim();
}
