import test from 'ava';
import { buildKey } from '../../harness/stages/build.ts';
import { dirHash, planLines } from '../../harness/stages/image.ts';
import { paths } from '../../harness/paths.ts';
import { loadSuite } from '../../harness/catalog.ts';

const base = { baseTree: 't1', stackHash: 'p1', configSha256: 'c1', compiler: 'gcc 12' };

test('build key is stable and changes with each of base, patches, config and compiler', (t) => {
  t.is(buildKey(base), buildKey({ ...base }));
  const keys = new Set([
    buildKey(base),
    buildKey({ ...base, baseTree: 't2' }),
    buildKey({ ...base, stackHash: 'p2' }),
    buildKey({ ...base, configSha256: 'c2' }),
    buildKey({ ...base, compiler: 'gcc 13' }),
  ]);
  t.is(keys.size, 5);
});

test('image inputs hash by content, and the agent plan mirrors the manifest', (t) => {
  t.is(dirHash(paths.images), dirHash(paths.images));
  const uring = loadSuite('uring');
  const lines = planLines(uring).trim().split('\n');
  t.is(lines.length, uring.tests.length);
  t.regex(lines[0]!, /^nop_completes_with_user_data\t30\tnop_completes_with_user_data$/);
});
