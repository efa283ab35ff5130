// Progress goes to stderr so stdout stays clean for machine-readable output (triage, list).
// On a terminal: time since start. Elsewhere (CI logs, nohup): the UTC wall clock as well,
// so a line can be matched against the host's own logs and the guest's console.
const t0 = Date.now();
const wallClock = !process.stderr.isTTY;

export function log(msg: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  const wall = wallClock ? ` ${new Date().toISOString().slice(0, 19)}Z` : '';
  process.stderr.write(`[lab ${s}s${wall}] ${msg}\n`);
}
