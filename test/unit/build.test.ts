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

test('a failed build is summarised by its cause, not by a file name that contains "error"', async (t) => {
  const { buildFailureLine } = await import('../../harness/stages/build.ts');
  const log = '  CC      drivers/acpi/acpica/uterror.o\n  LD      vmlinux\nInconsistent kallsyms data\nTry "make KALLSYMS_EXTRA_PASS=1" as a workaround\nmake[3]: *** [x] Error 1\n';
  t.is(buildFailureLine(log), 'Inconsistent kallsyms data');
  t.is(buildFailureLine('  CC      io_uring/fused.o\n../io_uring/fused.c:12:5: error: unknown type name ‘foo’\nmake[4]: *** [y] Error 1\n'), '../io_uring/fused.c:12:5: error: unknown type name ‘foo’');
  t.is(buildFailureLine('  LD      x\nsomething odd\nmake: *** [z] Error 2\n'), 'something odd');
});
