// Results the host writes from what the guest said: valid XML whatever a test printed, and
// skips judged by what the run applied.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { judgeSkips, writeJunit, xmlText } from '../../harness/stages/results.ts';
import type { Suite } from '../../harness/catalog.ts';
import type { RunRecord, TestRecord } from '../../harness/types.ts';

test('junit.xml parses (strict expat) when tests print control characters and lone surrogates', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-junit-'));
  const nasty = 'a\u0000b\u0001c\u001bd\u000be \ud800 f\uffff <&>"\'';
  const rec = {
    id: 'x', dir, tests: [
      { suite: 's', name: 'fails', status: 'fail', durationS: 1, reason: `want 0, got ${nasty}`, log: [nasty, 'second line'] },
      { suite: 's', name: 'skips', status: 'skip', durationS: 0, reason: nasty },
    ], crashes: [{ type: 'BUG', title: `kernel BUG in ${nasty}`, test: 's/fails', fatal: false, report: nasty, line: 1, count: 1 }],
  } as unknown as RunRecord;
  writeJunit(rec);
  const xml = path.join(dir, 'junit.xml');
  const r = await execa('python3', ['-c', 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); print(len(r.iter("testcase").__next__().attrib["name"]), sum(1 for _ in r.iter("testcase")))', xml], { reject: false });
  t.is(r.exitCode, 0, `junit.xml is not valid XML: ${r.stderr}`);
  t.is(r.stdout.trim(), '5 2');
  t.true(fs.readFileSync(xml, 'utf8').includes('want 0, got a\ufffdb\ufffdc\ufffdd\ufffde \ufffd f\ufffd'), 'what cannot be carried is replaced, the rest kept');
  t.is(xmlText('tab\tand\nnewline\rok'), 'tab\tand\nnewline\rok');
  t.is(xmlText('pair \ud83d\ude00 kept'), 'pair \ud83d\ude00 kept');
});

const suite = (name: string, features: string[], tests: { name: string; features?: string[]; config?: string[] }[]): Suite =>
  ({ name, dir: '', description: '', timeout: 60, testTimeout: 10, requires: { config: [], features }, tools: [], files: [], kernelSources: [], output: 'plain', bench: false, tests: tests.map((x) => ({ name: x.name, cmd: 'true', requires: { features: x.features ?? [], config: x.config ?? [] } })) }) as Suite;

test('a SKIP is a FAIL when the run applies the feature; it stands only when something left out explains it', (t) => {
  const suites = [suite('fused', ['fused'], [{ name: 'probe' }]), suite('ublk', [], [{ name: 'zc', features: ['ublk-zc'] }, { name: 'plain' }, { name: 'needs_kasan', config: ['CONFIG_KASAN'] }])];
  const skip = (s: string, n: string, reason = 'opcode 96 not supported'): TestRecord => ({ suite: s, name: n, status: 'skip', durationS: 0, reason });
  const tests = [skip('fused', 'probe'), skip('ublk', 'zc'), skip('ublk', 'plain', 'no /dev/ublk-control'), skip('ublk', 'needs_kasan'), { suite: 'exec', name: 'command', status: 'skip', durationS: 0 } as TestRecord];
  const config = new Map([['CONFIG_IO_URING', 'y']]);
  const withFused = judgeSkips(tests, suites, ['fused'], config);
  const st = (r: TestRecord[]) => Object.fromEntries(r.map((x) => [`${x.suite}/${x.name}`, x.status]));
  t.deepEqual(st(withFused), { 'fused/probe': 'fail', 'ublk/zc': 'skip', 'ublk/plain': 'fail', 'ublk/needs_kasan': 'skip', 'exec/command': 'skip' });
  t.is(withFused[0]!.reason, 'skipped although the run applies fused: opcode 96 not supported');
  t.regex(withFused[2]!.reason!, /^skipped, and nothing the run left out explains it: no \/dev\/ublk-control/);
  const base = judgeSkips(tests, suites, [], config);
  t.deepEqual(st(base), { 'fused/probe': 'skip', 'ublk/zc': 'skip', 'ublk/plain': 'fail', 'ublk/needs_kasan': 'skip', 'exec/command': 'skip' });
  t.is(judgeSkips(tests, suites, [], new Map([['CONFIG_KASAN', 'y']]))[3]!.status, 'fail', 'the config is there: the skip is not explained');
});
