// The nightly CI workflow: valid against GitHub's workflow schema (action-validator, which
// checks SchemaStore's github-workflow schema), and wired to the lab's matrix commands.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { parse } from 'yaml';
import { repoRoot } from '../../harness/paths.ts';

const workflow = path.join(repoRoot, '.github', 'workflows', 'nightly.yml');
const validator = path.join(repoRoot, 'node_modules', '.bin', 'action-validator');

async function validate(file: string) {
  const r = await execa(validator, [file], { reject: false });
  return { exitCode: r.exitCode, out: `${r.stdout}\n${r.stderr}` };
}

test('nightly.yml passes the workflow schema; a copy with a misspelt key or a bad trigger does not', async (t) => {
  const ok = await validate(workflow);
  t.is(ok.exitCode, 0, ok.out);
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kl-wf-')), '.github', 'workflows');
  fs.mkdirSync(dir, { recursive: true });
  const text = fs.readFileSync(workflow, 'utf8');
  const broken: [string, string, RegExp][] = [
    ['runs-on', text.replace('runs-on: ubuntu-24.04\n    container: debian:bookworm\n    timeout-minutes: 20\n    outputs:', 'runs-onn: ubuntu-24.04\n    container: debian:bookworm\n    timeout-minutes: 20\n    outputs:'), /runs-onn/],
    ['trigger', text.replace("    - cron: '17 1 * * *'", '    - crontab: nightly'), /crontab/],
  ];
  for (const [what, copy, re] of broken) {
    t.not(copy, text, `${what}: the copy differs`);
    const f = path.join(dir, `broken-${what}.yml`);
    fs.writeFileSync(f, copy);
    const r = await validate(f);
    t.is(r.exitCode, 1, `${what}: ${r.out}`);
    t.regex(r.out, re, what);
  }
});

interface Step {
  run?: string;
  uses?: string;
  with?: Record<string, string>;
  if?: string;
}
interface Job {
  needs?: string | string[];
  if?: string;
  strategy?: { 'fail-fast'?: boolean; matrix?: { include?: string } };
  steps: Step[];
}

test('nightly.yml: plan emits the shards, one job per shard runs its cells with the lab cache and ccache keyed by its kernels, report runs matrix-report on every shard with the plan', (t) => {
  const wf = parse(fs.readFileSync(workflow, 'utf8')) as { env: Record<string, string>; jobs: Record<string, Job> };
  t.deepEqual(Object.keys(wf.jobs), ['plan', 'shard', 'report']);
  t.truthy(wf.env.KERNEL_LAB_CACHE);
  const runs = (j: Job) => j.steps.map((s) => s.run ?? '').join('\n');
  const { plan, shard, report } = wf.jobs as { plan: Job; shard: Job; report: Job };
  t.regex(runs(plan), /npm run -s lab -- plan --json --nightly --shards "\$SHARDS" > plan\.json/);
  t.regex(runs(plan), /GITHUB_OUTPUT/);
  t.is(shard.needs, 'plan');
  t.is(shard.strategy?.matrix?.include, '${{ fromJSON(needs.plan.outputs.shards) }}');
  t.false(shard.strategy?.['fail-fast']);
  t.regex(runs(shard), /npm run -s lab -- nightly --plan plan\.json --shard "\$\{\{ matrix\.shard \}\}"/);
  const caches = shard.steps.filter((s) => s.uses?.startsWith('actions/cache/'));
  t.true(caches.some((s) => s.with?.path?.includes('${{ env.KERNEL_LAB_CACHE }}/builds') && s.with.key === 'kl-lab-${{ matrix.kernels }}'));
  t.true(caches.some((s) => s.with?.path === '${{ env.KERNEL_LAB_CACHE }}/ccache' && s.with.key?.startsWith('kl-ccache-${{ matrix.kernels }}-')));
  t.true(shard.steps.some((s) => s.uses?.startsWith('actions/upload-artifact') && s.if === 'always()' && s.with?.name === 'shard-${{ matrix.index }}'));
  t.deepEqual(report.needs, ['plan', 'shard']);
  t.regex(report.if ?? '', /always\(\)/);
  t.true(report.steps.some((s) => s.uses?.startsWith('actions/download-artifact') && s.with?.pattern === 'shard-*'));
  t.regex(runs(report), /npm run -s lab -- matrix-report shards\/shard-\* --plan plan\.json/);
});
