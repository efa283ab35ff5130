// export-lava --lava-server: submit the exported job to a LAVA server over its REST API, wait
// for it with a progress line, fetch its log and import it as import-lava does.
//
// The API as lava-server 2023.01 (Debian bookworm) implements it, read in Linaro/lava at tag
// 2023.01 (77087d8b; debian/2023.01-2 has the same files):
// - lava_server/urls.py: the REST app under {MOUNT_POINT}api/ (MOUNT_POINT is "" by default,
//   lava_server/settings/common.py), the web UI's job page under {MOUNT_POINT}scheduler/job/<id>
//   (lava_scheduler_app/urls.py);
// - lava_rest_app/urls.py, v02/routers.py: /api/v0.2/jobs/ (TestJobViewSet);
// - lava_rest_app/base/views.py TestJobViewSet.create: POST jobs/ with {"definition": <yaml>}
//   answers 201 {"message", "job_ids": [id]}, or 400 {"message": "Problem with submitted job
//   data: ..." | "job submission failed: ..." | "Specified device or device type not found." |
//   "Devices unavailable: ..."}; a body without definition is a serializer 400
//   {"definition": ["..."]};
//   .logs: GET jobs/<id>/logs/ is the job's output.yaml as application/yaml, 404 while there is
//   none; lines "- {dt, lvl, msg}" (lava_scheduler_app/views.py internal logs view,
//   lava_common/log.py), which parseLavaLog() reads;
// - lava_rest_app/base/serializers.py TestJobSerializer: GET jobs/<id>/ gives "state" and
//   "health" as display names (get_state_display), "actual_device", "start_time", "end_time";
//   lava_scheduler_app/models.py TestJob: state Submitted, Scheduling, Scheduled, Running,
//   Canceling, Finished; health Unknown, Complete, Incomplete, Canceled;
// - authentication: lava_server/settings/common.py REST_FRAMEWORK (SessionAuthentication, then
//   lava_rest_app/authentication.py LavaTokenAuthentication, DRF's TokenAuthentication with
//   keyword "Token": "Authorization: Token <secret>"; IsAuthenticatedOrReadOnly, so a POST
//   needs it). A refused token is {"detail": "Invalid token."}, as 403, not 401: DRF answers
//   401 only when its first authenticator (here the session's) names a WWW-Authenticate.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { InfraError, UsageError } from './errors.ts';
import { importLava } from './lava.ts';
import { log } from './log.ts';
import type { RunRecord } from './types.ts';

export const JOB_STATES = ['Submitted', 'Scheduling', 'Scheduled', 'Running', 'Canceling', 'Finished'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const JOB_HEALTHS = ['Unknown', 'Complete', 'Incomplete', 'Canceled'] as const;
export type JobHealth = (typeof JOB_HEALTHS)[number];

export interface LavaServer {
  /** the REST API's root, ending in /api/v0.2/ */
  api: URL;
  token: string;
}

/**
 * The server as given on the command line (its root, its mount point, or its /api/v0.2/
 * itself) with the token, checked: http(s) only, a token that is not empty.
 */
export function lavaServer(url: string, token: string | undefined): LavaServer {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`export-lava: --lava-server '${url}' is not a URL`, 'give the server\'s address, e.g. https://lava.example.org');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`export-lava: --lava-server '${url}' is not an http(s):// URL`);
  if (u.username || u.password) throw new UsageError('export-lava: --lava-server must not carry credentials', 'give the token with --lava-token or $LAVA_TOKEN');
  if (!token || token.trim() === '') throw new UsageError('export-lava: --lava-server needs a token', 'set LAVA_TOKEN (or --lava-token TOKEN): a token of the server\'s user, from its web UI (API > Authentication Tokens)');
  u.search = '';
  u.hash = '';
  const p = u.pathname.replace(/\/+$/, '');
  u.pathname = /\/api\/v0\.2$/.test(p) ? `${p}/` : `${p}/api/v0.2/`;
  return { api: u, token: token.trim() };
}

export interface LavaRequest {
  url: string;
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string };
}

const headers = (s: LavaServer, accept: string): Record<string, string> => ({ Authorization: `Token ${s.token}`, Accept: accept });

export function submitRequest(s: LavaServer, definition: string): LavaRequest {
  return { url: new URL('jobs/', s.api).href, init: { method: 'POST', headers: { ...headers(s, 'application/json'), 'Content-Type': 'application/json' }, body: JSON.stringify({ definition }) } };
}

export function jobRequest(s: LavaServer, id: number): LavaRequest {
  return { url: new URL(`jobs/${id}/`, s.api).href, init: { method: 'GET', headers: headers(s, 'application/json') } };
}

export function logsRequest(s: LavaServer, id: number): LavaRequest {
  return { url: new URL(`jobs/${id}/logs/`, s.api).href, init: { method: 'GET', headers: headers(s, 'application/yaml, text/plain') } };
}

/** The job's page in the server's web UI, for people. */
export function jobPage(s: LavaServer, id: number): string {
  return new URL(`../../scheduler/job/${id}`, s.api).href;
}

/** What the server said in an error body: DRF's "detail", LAVA's "message", or a field's errors. */
export function serverMessage(body: string): string {
  try {
    const j = JSON.parse(body) as unknown;
    if (j && typeof j === 'object') {
      const o = j as Record<string, unknown>;
      if (typeof o.message === 'string') return o.message;
      if (typeof o.detail === 'string') return o.detail;
      return Object.entries(o)
        .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : String(v)}`)
        .join('; ');
    }
  } catch {
    // not JSON: an HTML error page from a proxy or Django's debug page
  }
  const text = body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 200)}...` : text || '(empty body)';
}

/** An answer that is not the one asked for, as the error whose exit code says whose fault it is. */
export function httpError(what: string, status: number, body: string): Error {
  const msg = serverMessage(body);
  if (status === 401 || status === 403) return new UsageError(`LAVA server refused the token (HTTP ${status}) ${what}: ${msg}`, 'check $LAVA_TOKEN: a token of a user who may submit jobs');
  if (status === 400 && /device type not found|Devices unavailable/i.test(msg)) {
    return new InfraError(`LAVA server cannot run the job (HTTP 400) ${what}: ${msg}`, 'the lab needs an online device of type qemu');
  }
  if (status === 400) return new UsageError(`LAVA server rejected the job (HTTP 400): ${msg}`);
  if (status === 404) return new InfraError(`LAVA server has no such thing (HTTP 404) ${what}: ${msg}`, 'is --lava-server the server\'s root (or its mount point)?');
  return new InfraError(`LAVA server answered HTTP ${status} ${what}: ${msg}`);
}

/** The job id of a 201 answer to a submission. */
export function parseSubmit(status: number, body: string): number {
  if (status !== 201 && status !== 200) throw httpError('to the submission', status, body);
  let ids: unknown;
  try {
    ids = (JSON.parse(body) as { job_ids?: unknown }).job_ids;
  } catch {
    ids = undefined;
  }
  if (!Array.isArray(ids) || ids.length !== 1 || !Number.isInteger(Number(ids[0]))) {
    throw new InfraError(`LAVA server's answer to the submission has no job id: ${serverMessage(body)}`);
  }
  return Number(ids[0]);
}

export interface JobStatus {
  state: JobState;
  health: JobHealth;
  device: string | null;
}

/** The state and health of GET jobs/<id>/, checked against 2023.01's names. */
export function parseJob(body: string): JobStatus {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new InfraError(`LAVA server's job record is not JSON: ${serverMessage(body)}`);
  }
  const state = j.state as JobState;
  const health = j.health as JobHealth;
  if (!JOB_STATES.includes(state) || !JOB_HEALTHS.includes(health)) {
    throw new InfraError(`LAVA server's job record has state '${String(j.state)}' and health '${String(j.health)}', not LAVA's`);
  }
  return { state, health, device: typeof j.actual_device === 'string' ? j.actual_device : null };
}

/** A LAVA timeout ({seconds|minutes|hours|days: N}) in seconds. */
function timeoutS(t: unknown): number | null {
  if (!t || typeof t !== 'object') return null;
  const o = t as Record<string, unknown>;
  const n = (k: string) => (typeof o[k] === 'number' ? (o[k] as number) : 0);
  const s = n('seconds') + 60 * n('minutes') + 3600 * n('hours') + 86400 * n('days');
  return s > 0 ? s : null;
}

/** The job's own timeout (timeouts.job), the longest LAVA lets it run once it starts. */
export function jobTimeoutS(jobYaml: string): number {
  const s = timeoutS((parseYaml(jobYaml) as { timeouts?: { job?: unknown } } | null)?.timeouts?.job);
  if (s === null) throw new UsageError('export-lava: the job has no timeouts.job');
  return s;
}

export interface WaitLimits {
  /** how long the job may wait for a device (Submitted, Scheduling, Scheduled) */
  queueS: number;
  /** the job's own timeout: LAVA ends it by then once it runs */
  jobS: number;
  /** past the job's timeout, for the server to close the job and the worker to send its log */
  graceS: number;
  /** polling interval: from min, growing while nothing changes, never past max */
  pollMinMs: number;
  pollMaxMs: number;
}

export function waitLimits(jobYaml: string): WaitLimits {
  const env = (k: string, d: number) => (Number(process.env[k]) > 0 ? Number(process.env[k]) : d);
  return { queueS: env('KL_LAVA_QUEUE_S', 3600), jobS: jobTimeoutS(jobYaml), graceS: 300, pollMinMs: 2000, pollMaxMs: 30_000 };
}

/**
 * The waiting as a state machine over what each poll saw: the deadline (the queue's until
 * the job runs, then the job's own timeout from its start), the next interval (back to the
 * minimum on a change, else 1.5 times longer up to the maximum), and the end.
 */
export interface WaitState {
  state: JobState | null;
  since: number; // ms: when the job entered this state
  runningSince: number | null;
  deadline: number;
  intervalMs: number;
}

export function initialWait(now: number, l: WaitLimits): WaitState {
  return { state: null, since: now, runningSince: null, deadline: now + (l.queueS + l.jobS + l.graceS) * 1000, intervalMs: l.pollMinMs };
}

export function stepWait(w: WaitState, seen: JobStatus, now: number, l: WaitLimits): { next: WaitState; changed: boolean; done: boolean; timedOut: boolean } {
  const changed = seen.state !== w.state;
  const running = seen.state === 'Running' || seen.state === 'Canceling';
  const runningSince = running ? (w.runningSince ?? now) : w.runningSince;
  // Once the job runs, its own timeout bounds the rest; before, the queue's allowance does.
  const deadline = runningSince !== null ? Math.min(w.deadline, runningSince + (l.jobS + l.graceS) * 1000) : w.deadline;
  const next: WaitState = {
    state: seen.state,
    since: changed ? now : w.since,
    runningSince,
    deadline,
    intervalMs: changed ? l.pollMinMs : Math.min(l.pollMaxMs, Math.round(w.intervalMs * 1.5)),
  };
  const done = seen.state === 'Finished';
  return { next, changed, done, timedOut: !done && now >= deadline };
}

const dur = (ms: number) => {
  const s = Math.round(ms / 1000);
  return s >= 90 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

/**
 * Progress while waiting: a log line per state change; on a terminal one more line, rewritten
 * in place at each poll (elapsed time), erased before the next log line; elsewhere (CI logs)
 * a plain timestamped line every 5 minutes in a state, so a long run is seen to be alive.
 */
export class WaitProgress {
  private live = false;
  private lastQuiet = 0;
  constructor(
    private readonly id: number,
    private readonly tty: boolean = Boolean(process.stderr.isTTY),
    private readonly write: (s: string) => void = (s) => process.stderr.write(s),
    private readonly logLine: (s: string) => void = log,
  ) {}

  private clear(): void {
    if (this.live) this.write('\r\x1b[2K');
    this.live = false;
  }

  change(seen: JobStatus, now: number, started: number): void {
    this.clear();
    const where = seen.device ? ` on ${seen.device}` : '';
    const health = seen.state === 'Finished' ? `, ${seen.health}` : '';
    this.logLine(`LAVA job ${this.id}: ${seen.state}${health}${where} (${dur(now - started)} since submission)`);
    this.lastQuiet = now;
  }

  tick(w: WaitState, now: number): void {
    const text = `LAVA job ${this.id}: ${w.state} for ${dur(now - w.since)}, giving up in ${dur(Math.max(0, w.deadline - now))}`;
    if (this.tty) {
      this.write(`\r\x1b[2K${text}`);
      this.live = true;
    } else if (now - this.lastQuiet >= 300_000) {
      this.logLine(text);
      this.lastQuiet = now;
    }
  }

  end(): void {
    this.clear();
  }
}

export interface Transport {
  fetch: (url: string, init: LavaRequest['init']) => Promise<{ status: number; text: () => Promise<string> }>;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  now: () => number;
}

export const realTransport: Transport = {
  fetch: (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(60_000) }),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    }),
  now: () => Date.now(),
};

/** One request; a server that cannot be reached is the lab's failure, named without the token. */
async function call(t: Transport, r: LavaRequest, what: string): Promise<{ status: number; body: string }> {
  try {
    const res = await t.fetch(r.url, r.init);
    return { status: res.status, body: await res.text() };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.cause?.code ?? e.cause?.message ?? e.message;
    throw new InfraError(`LAVA server not reachable ${what} (${new URL(r.url).origin}): ${why}`);
  }
}

export interface Finished {
  jobId: number;
  health: JobHealth;
  device: string | null;
  log: string;
  page: string;
}

/**
 * Submit the job, wait for it to finish and fetch its log. A poll that fails (the server
 * restarting, a proxy's 502) is retried; five in a row end the wait. A job still not
 * finished past its deadline ends it too (the job keeps running on the server: its page is
 * named).
 */
export async function submitAndWait(s: LavaServer, jobYaml: string, limits: WaitLimits, t: Transport = realTransport, progressFor: (id: number) => WaitProgress = (id) => new WaitProgress(id), signal?: AbortSignal): Promise<Finished> {
  const sub = await call(t, submitRequest(s, jobYaml), 'to submit the job');
  const jobId = parseSubmit(sub.status, sub.body);
  const page = jobPage(s, jobId);
  log(`LAVA job ${jobId} submitted: ${page}`);
  const started = t.now();
  let w = initialWait(started, limits);
  const progress = progressFor(jobId);
  let failures = 0;
  let seen: JobStatus | null = null;
  try {
    for (;;) {
      if (signal?.aborted) throw new InfraError(`stopped waiting for LAVA job ${jobId}; it goes on on the server: ${page}`);
      let r: { status: number; body: string } | null = null;
      try {
        r = await call(t, jobRequest(s, jobId), `about job ${jobId}`);
        if (r.status !== 200) throw httpError(`about job ${jobId}`, r.status, r.body);
        seen = parseJob(r.body);
        failures = 0;
      } catch (err) {
        // a refused token or a job that vanished does not get better by asking again
        if (err instanceof UsageError || r?.status === 404 || ++failures >= 5) throw err;
      }
      const now = t.now();
      if (seen) {
        const step = stepWait(w, seen, now, limits);
        w = step.next;
        if (step.changed) progress.change(seen, now, started);
        if (step.done) break;
        if (step.timedOut) {
          throw new InfraError(`LAVA job ${jobId} is still ${seen.state} after ${dur(now - started)}, past its deadline (queue ${limits.queueS} s, job timeout ${limits.jobS} s): stopped waiting; ${page}`);
        }
        progress.tick(w, now);
      }
      await t.sleep(w.intervalMs, signal);
    }
  } finally {
    progress.end();
  }
  // The worker sends its last log lines as the job ends: the log may lack LAVA's verdict on
  // the job for a moment after the state says Finished.
  let text = '';
  for (let attempt = 0; attempt < 4; attempt++) {
    const r = await call(t, logsRequest(s, jobId), `for job ${jobId}'s log`);
    if (r.status === 200) text = r.body;
    else if (r.status !== 404) throw httpError(`for job ${jobId}'s log`, r.status, r.body);
    if (/"?definition"?: "?lava"?.*"?case"?: "?job"?|"?case"?: "?job"?.*"?definition"?: "?lava"?/.test(text)) break;
    await t.sleep(limits.pollMinMs, signal);
  }
  if (text.trim() === '') throw new InfraError(`LAVA job ${jobId} ended ${seen?.health ?? ''} with no log on the server: ${page}`);
  return { jobId, health: seen!.health, device: seen!.device, log: text, page };
}

/** The server's log where import-lava finds it: DIR/lava-<id>/job.log, export.json in DIR. */
export function saveLog(exportDir: string, f: Finished): string {
  const dir = path.join(exportDir, `lava-${f.jobId}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'job.log'), f.log);
  return dir;
}

/**
 * An exported job (export-lava's directory) run on the server and brought back: submitted,
 * waited for, its log saved as DIR/lava-<id>/job.log and imported as import-lava does, so
 * the run directory is import-lava's. The verdict is the import's: a job LAVA ended with no
 * word from the guest is status error (exit 3, LAVA's error named), a kernel that crashed is
 * a crash (exit 1) even when LAVA calls the job Incomplete.
 */
export async function runOnServer(exportDir: string, s: LavaServer, resultsDir: string, t: Transport = realTransport, limits?: WaitLimits, signal?: AbortSignal): Promise<{ record: RunRecord; exitCode: number; finished: Finished }> {
  const jobYaml = fs.readFileSync(path.join(exportDir, 'job.yaml'), 'utf8');
  const f = await submitAndWait(s, jobYaml, limits ?? waitLimits(jobYaml), t, undefined, signal);
  const dir = saveLog(exportDir, f);
  log(`LAVA job ${f.jobId} ${f.health}: log in ${path.join(dir, 'job.log')}`);
  const r = importLava({ input: dir, exportDir, resultsDir, server: { page: f.page, jobId: f.jobId, health: f.health, device: f.device } });
  if (f.health !== 'Complete' && r.record.status === 'pass') log(`LAVA calls job ${f.jobId} ${f.health} though every test reported: see ${f.page}`);
  return { ...r, finished: f };
}
