// Progress goes to stderr so stdout stays clean for machine-readable output (triage, list --json).
const t0 = Date.now();
let quiet = false;

export function setQuiet(q: boolean): void {
  quiet = q;
}

export function log(msg: string): void {
  if (quiet) return;
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[lab ${s}s] ${msg}\n`);
}
