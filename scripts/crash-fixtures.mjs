#!/usr/bin/env zx
// Make crash fixtures from real lab kernels: boot with lkdtm, provoke each crash type,
// keep the console log under test/fixtures/console/<name>.log. The expected type and
// title of each is written by a person into expected.json after reading the log, so the
// parser test can fail.
//   npx zx scripts/crash-fixtures.mjs [--debug] [--patch SETS] [NAME...]
//   npx zx scripts/crash-fixtures.mjs --debug --patch test/fixtures/lab-crashers lock_inversion ...
import fs from 'node:fs';
import path from 'node:path';

$.nothrow = true;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
cd(root);
const args = process.argv.slice(process.argv.findIndex((a) => a.endsWith('crash-fixtures.mjs')) + 1);
const debug = args.includes('--debug');
const patchAt = args.indexOf('--patch');
const patch = patchAt >= 0 ? args.splice(patchAt, 2)[1] : 'none';
const lkdtm = (t) => `echo ${t} > /sys/kernel/debug/provoke-crash/DIRECT`;
const all = {
  // name: [guest command, --timeout]
  bug: [lkdtm('BUG'), 120],
  warning: [lkdtm('WARNING'), 120],
  warning_message: [lkdtm('WARNING_MESSAGE'), 120],
  null_deref: [lkdtm('EXCEPTION'), 120],
  panic: [lkdtm('PANIC'), 120],
  hung_task: [lkdtm('HUNG_TASK'), 400],
  soft_lockup: [lkdtm('SOFTLOCKUP'), 400],
  ...(debug
    ? {
        kasan_slab_oob: [lkdtm('SLAB_LINEAR_OVERFLOW'), 240],
        kasan_uaf_read: [lkdtm('READ_AFTER_FREE'), 240],
        ubsan_array_bounds: [lkdtm('ARRAY_BOUNDS'), 240],
        kfence_uaf: ['echo 0 > /sys/module/kasan/parameters/fault 2>/dev/null; for i in $(seq 200); do echo READ_AFTER_FREE > /sys/kernel/debug/provoke-crash/DIRECT; done', 400],
      }
    : {}),
  // With the lab's own lkdtm crash types: --debug --patch test/fixtures/lab-crashers
  ...(debug && patch.includes('lab-crashers')
    ? {
        lock_inversion: [lkdtm('LOCK_INVERSION'), 300],
        sleep_in_atomic: [lkdtm('SLEEP_IN_ATOMIC'), 300],
        rcu_stall: [`echo 10 > /sys/module/rcupdate/parameters/rcu_cpu_stall_timeout; ${lkdtm('RCU_STALL')}`, 400],
        odebug_free_active: [lkdtm('ODEBUG_FREE_ACTIVE'), 300],
        ubsan_shift: [lkdtm('UBSAN_SHIFT'), 300],
        refcount_underflow: [lkdtm('REFCOUNT_DEC_NEGATIVE'), 300],
        two_reports: [`${lkdtm('WARNING')}; ${lkdtm('UBSAN_SHIFT')}`, 300],
        // Another task writes to the console while the WARNING prints: its lines interleave.
        interleaved: [`(i=0; while [ $i -lt 400 ]; do echo "kl-noise $i" > /dev/kmsg; i=$((i+1)); done) & ${lkdtm('WARNING')}; wait`, 300],
      }
    : {}),
};
const named = args.filter((a) => !a.startsWith('--'));
for (const n of named) if (!all[n]) throw new Error(`unknown fixture ${n}; known: ${Object.keys(all).join(', ')}`);
const wanted = named.length ? named : Object.keys(all);
const dest = path.join(root, 'test', 'fixtures', 'console');
fs.mkdirSync(dest, { recursive: true });
for (const name of wanted) {
  const [cmd, timeout] = all[name];
  const results = fs.mkdtempSync('/tmp/kl-fixture-');
  await $`npm run -s lab -- --patch ${patch} ${debug ? ['--debug'] : []} --exec ${cmd} --timeout ${timeout} --results ${results}`;
  const log = path.join(results, 'latest', 'console.log');
  if (!fs.existsSync(log)) {
    echo(`${name}: no console.log`);
    continue;
  }
  fs.copyFileSync(log, path.join(dest, `${name}.log`));
  const run = JSON.parse(fs.readFileSync(path.join(results, 'latest', 'run.json'), 'utf8'));
  echo(`${name}: status ${run.status}; parser says ${JSON.stringify(run.crashes.map((c) => [c.type, c.title, c.test]))}`);
}
