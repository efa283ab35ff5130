import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { effectiveRequests, explainDrop, parseConfigItem, parseDotConfig, parseFragment, satisfied } from '../../harness/kconfig.ts';

test('fragment lines become requests; comments are skipped; junk is reported with its line', (t) => {
  const { requests, bad } = parseFragment('# hello\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x y"\nnonsense\n', 'frag');
  t.deepEqual(
    requests.map((r) => [r.symbol, r.value, r.source]),
    [['CONFIG_A', 'y', 'frag:2'], ['CONFIG_B', 'n', 'frag:3'], ['CONFIG_C', '"x y"', 'frag:4']],
  );
  t.deepEqual(bad, [{ line: 5, text: 'nonsense' }]);
});

test('a later request for the same symbol wins, as in merge_config.sh', (t) => {
  const reqs = [parseConfigItem('CONFIG_X=y', 'a')!, parseConfigItem('CONFIG_Y=y', 'a')!, parseConfigItem('CONFIG_X=n', 'b')!];
  t.deepEqual(effectiveRequests(reqs).map((r) => `${r.symbol}=${r.value}@${r.source}`), ['CONFIG_X=n@b', 'CONFIG_Y=y@a']);
});

test('=n is satisfied by "is not set" and by absence; y is not satisfied by m', (t) => {
  const cfg = parseDotConfig('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_M=m\n');
  t.true(satisfied(parseConfigItem('CONFIG_B=n', '')!, cfg));
  t.true(satisfied(parseConfigItem('CONFIG_ABSENT=n', '')!, cfg));
  t.true(satisfied(parseConfigItem('CONFIG_A=y', '')!, cfg));
  t.false(satisfied(parseConfigItem('CONFIG_M=y', '')!, cfg));
  t.false(satisfied(parseConfigItem('CONFIG_ABSENT=y', '')!, cfg));
});

test('a dropped symbol is explained by its depends-on and enclosing if, naming what is off', (t) => {
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-kconfig-'));
  fs.mkdirSync(path.join(tree, 'lib'));
  fs.writeFileSync(
    path.join(tree, 'lib/Kconfig.debug'),
    'menuconfig RUNTIME_TESTING_MENU\n\tbool "Runtime testing"\n\nif RUNTIME_TESTING_MENU\n\nconfig LKDTM\n\ttristate "LKDTM"\n\tdepends on DEBUG_FS\n\thelp\n\t  x\n\nendif\n',
  );
  const cfg = parseDotConfig('CONFIG_DEBUG_FS=y\n# CONFIG_RUNTIME_TESTING_MENU is not set\n');
  const why = explainDrop(tree, 'CONFIG_LKDTM', cfg, ['lib/Kconfig.debug']);
  t.is(why, 'lib/Kconfig.debug: LKDTM depends on RUNTIME_TESTING_MENU && DEBUG_FS; not set: CONFIG_RUNTIME_TESTING_MENU');
  t.is(explainDrop(tree, 'CONFIG_NOPE', cfg, ['lib/Kconfig.debug']), null);
});
