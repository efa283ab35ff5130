// export-lava --lava-server against a STAND-IN of lava-server's REST API, not a real
// lava-server: Debian's lava-server 2023.01 needs a PostgreSQL database (its settings name no
// other engine), gunicorn, lava-scheduler and a lava-worker with a qemu device, more than
// this machine's CI budget sets up (README, "Running the lab's jobs on LAVA"). The stand-in
// speaks the subset the client uses, with 2023.01's paths, status codes, field names and
// error bodies (harness/lavaServer.ts names the source files), and serves the log of a real
// lava-run job (test/fixtures/lava-smoke) as a server stores it. Needs no LAVA package.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { lavaServer, runOnServer, type WaitLimits } from '../../harness/lavaServer.ts';
import { paths } from '../../harness/paths.ts';
import { errorLines, lab, labCommand } from '../integration/helpers.ts';

const FIXTURE = path.join(paths.repoRoot, 'test', 'fixtures', 'lava-smoke');
const TOKEN = 'stand-in-token-5f2a';
const FAST: WaitLimits = { queueS: 30, jobS: 30, graceS: 5, pollMinMs: 20, pollMaxMs: 100 };

interface StandIn {
  url: string;
  requests: string[];
  close: () => Promise<void>;
}

/**
 * lava-server's /api/v0.2/ as far as the client uses it: POST jobs/ (token required, the
 * definition parsed as YAML), GET jobs/<id>/ walking Submitted, Scheduled, Running (twice),
 * Finished, GET jobs/<id>/logs/ (404 until finished, then the log as output.yaml has it:
 * each entry "- {...}").
 */
async function standIn(logFile: string, health: 'Complete' | 'Incomplete'): Promise<StandIn> {
  const states = ['Submitted', 'Scheduled', 'Running', 'Running', 'Finished'];
  const polls = new Map<number, number>();
  const requests: string[] = [];
  let nextId = 100;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url}`);
      const send = (status: number, data: unknown, type = 'application/json') => {
        res.writeHead(status, { 'Content-Type': type });
        res.end(typeof data === 'string' ? data : JSON.stringify(data));
      };
      // lava_rest_app/authentication.py + DRF: a bad token is 403 {"detail": "Invalid token."}
      const auth = req.headers.authorization;
      if (auth !== undefined && auth !== `Token ${TOKEN}`) return send(403, { detail: 'Invalid token.' });
      if (req.method === 'POST' && req.url === '/api/v0.2/jobs/') {
        if (auth === undefined) return send(403, { detail: 'Authentication credentials were not provided.' });
        let definition: unknown;
        try {
          definition = (JSON.parse(body) as { definition?: unknown }).definition;
        } catch {
          return send(400, { detail: 'JSON parse error' });
        }
        if (typeof definition !== 'string') return send(400, { definition: ['This field is required.'] });
        const job = parseYaml(definition) as { device_type?: string };
        if (job?.device_type !== 'qemu') return send(400, { message: 'Specified device or device type not found.' });
        const id = nextId++;
        polls.set(id, 0);
        return send(201, { message: 'job(s) successfully submitted', job_ids: [id] });
      }
      const m = /^\/api\/v0\.2\/jobs\/(\d+)\/(logs\/)?$/.exec(req.url ?? '');
      if (req.method === 'GET' && m && polls.has(Number(m[1]))) {
        const id = Number(m[1]);
        const n = polls.get(id)!;
        const state = states[Math.min(n, states.length - 1)]!;
        if (m[2]) {
          if (state !== 'Finished') return send(404, { detail: 'Not found.' });
          const text = fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => `- ${l}\n`).join('');
          return send(200, text, 'application/yaml');
        }
        polls.set(id, n + 1);
        return send(200, { id, state, health: state === 'Finished' ? health : 'Unknown', actual_device: state === 'Submitted' ? null : 'qemu-standin-01', submit_time: '2026-12-05T01:36:00Z' });
      }
      send(404, { detail: 'Not found.' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** An export-lava directory of the fixture's job (job.yaml, export.json), in a scratch place. */
function exportDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-lavasrv-'));
  for (const f of ['job.yaml', 'export.json']) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  return dir;
}

const read = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8');

test('against a stand-in of lava-server\'s REST API: a real job\'s log comes back as exactly the run directory import-lava writes of it', async (t) => {
  const srv = await standIn(path.join(FIXTURE, 'job.log'), 'Complete');
  const dir = exportDir();
  const results = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-lavasrv-results-'));
  try {
    const r = await runOnServer(dir, lavaServer(srv.url, TOKEN), results, undefined, FAST);
    t.is(r.exitCode, 0);
    t.is(r.record.status, 'pass');
    t.is(r.record.tests.length, 5);
    t.true(r.record.tests.every((x) => x.status === 'pass'));
    t.deepEqual(r.record.lava?.server, { page: `${srv.url}/scheduler/job/100`, jobId: 100, health: 'Complete', device: 'qemu-standin-01' });
    t.deepEqual(r.record.lava?.problems, []);
    t.is(srv.requests[0], 'POST /api/v0.2/jobs/');
    t.true(srv.requests.filter((q) => q === 'GET /api/v0.2/jobs/100/').length >= 5);
    // the saved log is the server's (entries "- {...}"), and import-lava of it agrees
    const saved = path.join(dir, 'lava-100', 'job.log');
    t.true(read(path.dirname(saved), 'job.log').startsWith('- {"dt"'));
    const imp = await labCommand(['import-lava', path.dirname(saved), '--results', results]);
    t.is(imp.exitCode, 0, imp.stderr);
    const again = fs.realpathSync(path.join(results, 'latest'));
    t.not(again, r.record.dir);
    t.deepEqual(fs.readdirSync(again).sort(), fs.readdirSync(r.record.dir).sort(), 'the same files');
    for (const f of ['results.ktap', 'ktap.raw', 'status.raw', 'console.log']) t.is(read(again, f), read(r.record.dir, f), f);
    const strip = (j: string) => j.replace(/timestamp="[^"]*"/g, '').replace(/\d{8}-\d{6}-[0-9a-f]{4}-lava/g, 'RUN-ID'); // each import is a run of its own
    t.is(strip(read(again, 'junit.xml')), strip(read(r.record.dir, 'junit.xml')));
    const run = JSON.parse(read(again, 'run.json'));
    t.is(run.status, r.record.status);
    t.deepEqual(run.tests.map((x: { name: string; status: string }) => `${x.name} ${x.status}`), r.record.tests.map((x) => `${x.name} ${x.status}`));
    t.is(run.lava.server, undefined, 'import-lava alone knows no server');
  } finally {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(results, { recursive: true, force: true });
  }
});

test('against a stand-in of lava-server\'s REST API: a job LAVA ended at deploy (Incomplete) is the lab\'s error, exit 3, LAVA\'s error named', async (t) => {
  const srv = await standIn(path.join(FIXTURE, 'job-bad-sha256.log'), 'Incomplete');
  const dir = exportDir();
  const results = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-lavasrv-results-'));
  try {
    const r = await runOnServer(dir, lavaServer(srv.url, TOKEN), results, undefined, FAST);
    t.is(r.exitCode, 3);
    t.is(r.record.status, 'error');
    t.regex(r.record.reason ?? '', /LAVA job did not run the guest to the end: Job: sha256 for .*bzImage' does not match/);
    t.is(r.record.lava?.server?.health, 'Incomplete');
  } finally {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(results, { recursive: true, force: true });
  }
});

test('against a stand-in of lava-server\'s REST API: a refused token and a job the lab cannot run end with one line each, the token never shown', async (t) => {
  const srv = await standIn(path.join(FIXTURE, 'job.log'), 'Complete');
  const dir = exportDir();
  try {
    const refused = await t.throwsAsync(runOnServer(dir, lavaServer(srv.url, 'wrong-token-77'), dir, undefined, FAST));
    t.regex(refused!.message, /refused the token \(HTTP 403\) to the submission: Invalid token\./);
    t.false(refused!.message.includes('wrong-token-77'));
    fs.writeFileSync(path.join(dir, 'job.yaml'), read(dir, 'job.yaml').replace('device_type: qemu', 'device_type: beaglebone-black'));
    const nodev = await t.throwsAsync(runOnServer(dir, lavaServer(srv.url, TOKEN), dir, undefined, FAST));
    t.regex(nodev!.message, /cannot run the job \(HTTP 400\) to the submission: Specified device or device type not found\./);
  } finally {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('export-lava --lava-server: a bad address, no token or no --artifact-url is refused before the build, one line, exit 2, the token never shown', async (t) => {
  const out = path.join(os.tmpdir(), `kl-lavasrv-never-${process.pid}`);
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--lava-server', 'lava.example.org', '--lava-token', TOKEN, '--artifact-url', 'https://a.example.org/'], {}, /--lava-server 'lava\.example\.org' is not a URL/],
    [['--lava-server', 'https://lava.example.org', '--artifact-url', 'https://a.example.org/'], { LAVA_TOKEN: '' }, /--lava-server needs a token .*LAVA_TOKEN/],
    [['--lava-server', 'https://lava.example.org', '--lava-token', TOKEN], {}, /--lava-server needs --artifact-url: the server's worker fetches/],
    [['--lava-server', 'https://lava.example.org'], { LAVA_TOKEN: TOKEN }, /--lava-server needs --artifact-url/],
    [['--lava-token', TOKEN], {}, /--lava-token belongs to --lava-server/],
  ];
  for (const [args, env, re] of cases) {
    const r = await labCommand(['export-lava', '--patch', 'none', '--suite', 'smoke', '--out', out, ...args], env);
    t.is(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
    t.is(errorLines(r.stderr).length, 1, r.stderr);
    t.regex(errorLines(r.stderr)[0]!, re);
    t.false(`${r.stdout}${r.stderr}`.includes(TOKEN), 'the token is never printed');
    t.false(fs.existsSync(out), 'nothing exported');
  }
  const local = await lab(['--patch', 'none', '--lava-server', 'https://lava.example.org']);
  t.is(local.exitCode, 2);
  t.regex(errorLines(local.stderr)[0]!, /--lava-server and --lava-token belong to export-lava/);
});
