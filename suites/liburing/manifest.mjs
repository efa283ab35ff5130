#!/usr/bin/env node
// manifest.json for the liburing suite from the tests liburing's test/Makefile built:
//   node manifest.mjs <built test dir> > manifest.json   (make -C suites/liburing manifest)
// One lab test per liburing program, in name order, each run by lu-run.sh with liburing's
// runner rules. The build checks that the manifest still lists exactly the built tests.
import fs from 'node:fs';

const dir = process.argv[2];
if (!dir || !fs.existsSync(dir)) {
  process.stderr.write('usage: manifest.mjs <liburing build>/test\n');
  process.exit(2);
}
const names = fs.readdirSync(dir).filter((f) => f.endsWith('.t')).map((f) => f.slice(0, -2)).sort();
const manifest = {
  description: "liburing's own test programs (Debian's liburing 2.3-3 source package), built statically against the tested kernel's uAPI headers and run under liburing's runner rules; known base non-passes are in expected/<base>.json.",
  timeout: 3600,
  testTimeout: 130,
  requires: { config: ['CONFIG_IO_URING'], features: [] },
  tools: ['timeout'],
  tests: names.map((n) => ({ name: n, cmd: `lu-run.sh ${n}` })),
};
// one test per line: the list is long
const text = JSON.stringify({ ...manifest, tests: [] }, null, 2).replace('"tests": []', `"tests": [\n${manifest.tests.map((t) => `    ${JSON.stringify(t).replace(/":/g, '": ').replace(/,"/g, ', "')}`).join(',\n')}\n  ]`);
process.stdout.write(`${text}\n`);
