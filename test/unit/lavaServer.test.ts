import test from 'ava';
import { stringify as toYaml } from 'yaml';
import { InfraError, UsageError } from '../../harness/errors.ts';
import { lavaJob, type LavaJobInput } from '../../harness/lava.ts';
import {
  httpError,
  initialWait,
  jobPage,
  jobRequest,
  jobTimeoutS,
  lavaServer,
  logsRequest,
  parseJob,
  parseSubmit,
  stepWait,
  submitAndWait,
  submitRequest,
  WaitProgress,
  type JobStatus,
  type Transport,
  type WaitLimits,
} from '../../harness/lavaServer.ts';

const TOKEN = 's3cr3t-t0ken-never-printed';

test('the server address: its root, a mount point or its /api/v0.2/ itself all name the same API; anything else is refused before a build', (t) => {
  t.is(lavaServer('https://lava.example.org', TOKEN).api.href, 'https://lava.example.org/api/v0.2/');
  t.is(lavaServer('https://lava.example.org/', TOKEN).api.href, 'https://lava.example.org/api/v0.2/');
  t.is(lavaServer('https://example.org/lava/?x=1#y', TOKEN).api.href, 'https://example.org/lava/api/v0.2/');
  t.is(lavaServer('http://127.0.0.1:8000/api/v0.2', TOKEN).api.href, 'http://127.0.0.1:8000/api/v0.2/');
  t.is(lavaServer('https://lava.example.org', `  ${TOKEN}\n`).token, TOKEN);
  const bad: [string, string | undefined, RegExp][] = [
    ['lava.example.org', TOKEN, /--lava-server 'lava\.example\.org' is not a URL/],
    ['ftp://lava.example.org', TOKEN, /is not an http\(s\):\/\/ URL/],
    ['https://user:pw@lava.example.org', TOKEN, /must not carry credentials/],
    ['https://lava.example.org', undefined, /needs a token/],
    ['https://lava.example.org', ' ', /needs a token/],
  ];
  for (const [url, token, re] of bad) {
    const err = t.throws(() => lavaServer(url, token), { instanceOf: UsageError, message: re });
    t.false(err!.message.includes(TOKEN));
  }
});

test('the requests: the job as {"definition": yaml} to POST jobs/, the token as "Authorization: Token", the job\'s record, log and page', (t) => {
  const s = lavaServer('https://lava.example.org/lava', TOKEN);
  const sub = submitRequest(s, 'device_type: qemu\n');
  t.is(sub.url, 'https://lava.example.org/lava/api/v0.2/jobs/');
  t.is(sub.init.method, 'POST');
  t.is(sub.init.headers.Authorization, `Token ${TOKEN}`);
  t.is(sub.init.headers['Content-Type'], 'application/json');
  t.deepEqual(JSON.parse(sub.init.body!), { definition: 'device_type: qemu\n' });
  t.is(jobRequest(s, 42).url, 'https://lava.example.org/lava/api/v0.2/jobs/42/');
  t.is(jobRequest(s, 42).init.method, 'GET');
  t.is(logsRequest(s, 42).url, 'https://lava.example.org/lava/api/v0.2/jobs/42/logs/');
  t.is(jobPage(s, 42), 'https://lava.example.org/lava/scheduler/job/42');
});

test('the answers: a 201\'s job id; a refused token, a rejected job, a lab without the device and a server error each as its own error, LAVA\'s words kept', (t) => {
  t.is(parseSubmit(201, '{"message": "job(s) successfully submitted", "job_ids": [4711]}'), 4711);
  const cases: [number, string, new (...a: any[]) => Error, RegExp][] = [
    [403, '{"detail": "Invalid token."}', UsageError, /refused the token \(HTTP 403\) to the submission: Invalid token\./],
    [401, '{"detail": "Authentication credentials were not provided."}', UsageError, /refused the token \(HTTP 401\)/],
    [400, '{"message": "Problem with submitted job data: extra keys not allowed @ data[\'foo\']"}', UsageError, /rejected the job \(HTTP 400\): Problem with submitted job data: extra keys not allowed/],
    [400, '{"definition": ["This field is required."]}', UsageError, /rejected the job \(HTTP 400\): definition: This field is required\./],
    [400, '{"message": "Specified device or device type not found."}', InfraError, /cannot run the job \(HTTP 400\).*device type not found/],
    [400, '{"message": "Devices unavailable: qemu"}', InfraError, /cannot run the job/],
    [404, '<h1>Not Found</h1>', InfraError, /no such thing \(HTTP 404\) to the submission: Not Found/],
    [502, '<html><body>Bad Gateway</body></html>', InfraError, /answered HTTP 502 to the submission: Bad Gateway/],
    [201, '{"message": "job(s) successfully submitted"}', InfraError, /has no job id/],
  ];
  for (const [status, body, cls, re] of cases) t.throws(() => parseSubmit(status, body), { instanceOf: cls, message: re }, `${status} ${body}`);
  t.is(httpError('x', 403, '{"detail": "Invalid token."}').constructor, UsageError);
});

test('a job record: state and health by LAVA 2023.01\'s names, anything else is the server\'s problem', (t) => {
  t.deepEqual(parseJob('{"id": 7, "state": "Running", "health": "Unknown", "actual_device": "qemu-01"}'), { state: 'Running', health: 'Unknown', device: 'qemu-01' });
  t.deepEqual(parseJob('{"id": 7, "state": "Finished", "health": "Incomplete", "actual_device": null}'), { state: 'Finished', health: 'Incomplete', device: null });
  t.throws(() => parseJob('{"state": 3, "health": 0}'), { instanceOf: InfraError, message: /state '3' and health '0', not LAVA's/ });
  t.throws(() => parseJob('<html>'), { instanceOf: InfraError, message: /not JSON/ });
});

const input: LavaJobInput = {
  name: 'kernel-lab none (6.12): smoke',
  runId: 'r',
  kernelUrl: 'https://a.example.org/bzImage',
  kernelSha256: 'a'.repeat(64),
  initrdUrl: 'https://a.example.org/initramfs.cpio',
  initrdSha256: 'b'.repeat(64),
  scratchUrl: 'https://a.example.org/scratch.img.gz',
  scratchSha256: 'c'.repeat(64),
  cmdline: ['console=ttyS0'],
  noKvm: true,
  memoryMiB: 2048,
  cpus: 2,
  bootS: 240,
  testS: 480,
  metadata: {},
};

test('the wait\'s bound comes from the job: its own timeouts.job, in any of LAVA\'s units', (t) => {
  t.is(jobTimeoutS(toYaml(lavaJob(input))), 600 + 240 + 480 + 300);
  t.is(jobTimeoutS('timeouts:\n  job: {minutes: 90}\n'), 5400);
  t.is(jobTimeoutS('timeouts:\n  job: {hours: 1, minutes: 2, seconds: 3}\n'), 3723);
  t.throws(() => jobTimeoutS('device_type: qemu\n'), { instanceOf: UsageError, message: /no timeouts\.job/ });
});

const L: WaitLimits = { queueS: 100, jobS: 50, graceS: 10, pollMinMs: 1000, pollMaxMs: 5000 };
const st = (state: JobStatus['state'], health: JobStatus['health'] = 'Unknown'): JobStatus => ({ state, health, device: null });

test('the wait as a state machine: queue allowance until it runs, then the job\'s timeout from its start; polls back off while nothing changes and speed up on a change', (t) => {
  let w = initialWait(0, L);
  t.is(w.deadline, 160_000);
  let s = stepWait(w, st('Submitted'), 0, L);
  t.true(s.changed);
  t.is(s.next.intervalMs, 1000);
  s = stepWait(s.next, st('Submitted'), 1000, L);
  t.false(s.changed);
  t.is(s.next.intervalMs, 1500);
  s = stepWait(s.next, st('Submitted'), 2500, L);
  s = stepWait(s.next, st('Submitted'), 4750, L);
  s = stepWait(s.next, st('Submitted'), 8125, L);
  s = stepWait(s.next, st('Submitted'), 13_000, L);
  t.is(s.next.intervalMs, 5000, 'never past the maximum');
  s = stepWait(s.next, st('Running'), 20_000, L);
  t.true(s.changed);
  t.is(s.next.intervalMs, 1000);
  t.is(s.next.deadline, 20_000 + 60_000, 'running: the job timeout and grace from its start');
  s = stepWait(s.next, st('Running'), 79_999, L);
  t.false(s.timedOut);
  const late = stepWait(s.next, st('Running'), 80_000, L);
  t.true(late.timedOut);
  t.false(late.done);
  const fin = stepWait(s.next, st('Finished', 'Complete'), 90_000, L);
  t.true(fin.done);
  t.false(fin.timedOut, 'a finished job is never a timeout, however late the poll');
  // A job that never leaves the queue: the whole allowance, then the end.
  w = initialWait(0, L);
  t.true(stepWait(w, st('Scheduled'), 160_000, L).timedOut);
  // Running late in the queue allowance: the earlier of the two deadlines stands.
  t.is(stepWait(initialWait(0, L), st('Running'), 150_000, L).next.deadline, 160_000);
});

test('progress: one log line per state change; on a terminal one more line rewritten in place and erased before the next log line; elsewhere a line per 5 minutes', (t) => {
  const out: string[] = [];
  const logs: string[] = [];
  const p = new WaitProgress(9, true, (s) => out.push(s), (s) => logs.push(s));
  let w = initialWait(0, L);
  w = stepWait(w, st('Submitted'), 0, L).next;
  p.change(st('Submitted'), 0, 0);
  p.tick(w, 3000);
  p.tick(w, 6000);
  t.deepEqual(out, ['\r\x1b[2KLAVA job 9: Submitted for 3s, giving up in 2m37s', '\r\x1b[2KLAVA job 9: Submitted for 6s, giving up in 2m34s']);
  p.change({ state: 'Running', health: 'Unknown', device: 'qemu-01' }, 100_000, 0);
  t.is(out.at(-1), '\r\x1b[2K', 'the live line erased before the log line');
  t.deepEqual(logs, ['LAVA job 9: Submitted (0s since submission)', 'LAVA job 9: Running on qemu-01 (1m40s since submission)']);
  p.change(st('Finished', 'Complete'), 130_000, 0);
  t.is(logs.at(-1), 'LAVA job 9: Finished, Complete (2m10s since submission)');

  const plain: string[] = [];
  const plainLogs: string[] = [];
  const q = new WaitProgress(9, false, (s) => plain.push(s), (s) => plainLogs.push(s));
  q.change(st('Running'), 0, 0);
  for (let s = 10; s < 600; s += 10) q.tick({ ...w, state: 'Running', since: 0, deadline: 1_000_000 }, s * 1000);
  q.end();
  t.deepEqual(plain, [], 'no terminal control in a log file');
  t.deepEqual(plainLogs.slice(1), ['LAVA job 9: Running for 5m00s, giving up in 11m40s']);
});

/** A transport answering from a script, with a clock that moves only when the client sleeps. */
function scripted(answers: Record<string, (n: number) => { status: number; body: string } | Error>): Transport & { calls: string[] } {
  let clock = 0;
  const seen: Record<string, number> = {};
  const calls: string[] = [];
  return {
    calls,
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
    },
    fetch: async (url, init) => {
      const key = `${init.method} ${new URL(url).pathname}`;
      calls.push(key);
      seen[key] = (seen[key] ?? 0) + 1;
      const a = answers[key]?.(seen[key]!) ?? { status: 404, body: '{"detail": "Not found."}' };
      if (a instanceof Error) throw a;
      return { status: a.status, text: async () => a.body };
    },
  };
}

const server = lavaServer('http://lava.test', TOKEN);
const JOB_LINE = '- {"dt": "2026-12-05T01:36:10", "lvl": "results", "msg": {"case": "job", "definition": "lava", "result": "pass"}}\n';
const quiet = (id: number) => new WaitProgress(id, false, () => {}, () => {});
const job = (state: string, health = 'Unknown') => ({ status: 200, body: JSON.stringify({ id: 5, state, health, actual_device: 'qemu-01' }) });

test('submit and wait: a flaky poll is asked again, the log is fetched again until it holds LAVA\'s verdict on the job', async (t) => {
  const tr = scripted({
    'POST /api/v0.2/jobs/': () => ({ status: 201, body: '{"job_ids": [5]}' }),
    'GET /api/v0.2/jobs/5/': (n) => (n === 2 ? { status: 502, body: 'Bad Gateway' } : n === 3 ? new TypeError('fetch failed') : n < 5 ? job('Running') : job('Finished', 'Complete')),
    'GET /api/v0.2/jobs/5/logs/': (n) => ({ status: 200, body: n === 1 ? '- {"dt": "x", "lvl": "info", "msg": "start"}\n' : JOB_LINE }),
  });
  const f = await submitAndWait(server, 'timeouts: {job: {seconds: 60}}\n', L, tr, quiet);
  t.is(f.jobId, 5);
  t.is(f.health, 'Complete');
  t.is(f.device, 'qemu-01');
  t.is(f.log, JOB_LINE);
  t.is(f.page, 'http://lava.test/scheduler/job/5');
  t.is(tr.calls.filter((c) => c.endsWith('/logs/')).length, 2);
});

test('submit and wait: a job that outlives its deadline, a server that stays down, a token refused mid-wait and a finished job with no log each end the wait with one error', async (t) => {
  const base = { 'POST /api/v0.2/jobs/': () => ({ status: 201, body: '{"job_ids": [5]}' }) };
  const stuck = scripted({ ...base, 'GET /api/v0.2/jobs/5/': () => job('Running') });
  await t.throwsAsync(submitAndWait(server, '', L, stuck, quiet), { instanceOf: InfraError, message: /LAVA job 5 is still Running after 6\ds, past its deadline .*job timeout 50 s.*http:\/\/lava\.test\/scheduler\/job\/5/ });
  const down = scripted({ ...base, 'GET /api/v0.2/jobs/5/': () => new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }) });
  await t.throwsAsync(submitAndWait(server, '', L, down, quiet), { instanceOf: InfraError, message: /not reachable about job 5 \(http:\/\/lava\.test\): ECONNREFUSED/ });
  t.is(down.calls.length, 1 + 5, 'five polls, then the end');
  const refused = scripted({ ...base, 'GET /api/v0.2/jobs/5/': () => ({ status: 403, body: '{"detail": "Invalid token."}' }) });
  const err = await t.throwsAsync(submitAndWait(server, '', L, refused, quiet), { instanceOf: UsageError, message: /refused the token \(HTTP 403\) about job 5/ });
  t.false(err!.message.includes(TOKEN));
  t.is(refused.calls.length, 2, 'a refused token is not asked again');
  const nolog = scripted({ ...base, 'GET /api/v0.2/jobs/5/': () => job('Finished', 'Canceled') });
  await t.throwsAsync(submitAndWait(server, '', L, nolog, quiet), { instanceOf: InfraError, message: /LAVA job 5 ended Canceled with no log on the server/ });
  const unreachable = scripted({ 'POST /api/v0.2/jobs/': () => new TypeError('fetch failed', { cause: { code: 'ENOTFOUND' } }) });
  await t.throwsAsync(submitAndWait(server, '', L, unreachable, quiet), { instanceOf: InfraError, message: /not reachable to submit the job \(http:\/\/lava\.test\): ENOTFOUND/ });
  const aborted = new AbortController();
  aborted.abort();
  await t.throwsAsync(submitAndWait(server, '', L, scripted(base), quiet, aborted.signal), { instanceOf: InfraError, message: /stopped waiting for LAVA job 5; it goes on on the server/ });
});
