import test from 'ava';
import { analyse, collectBench, mean, ratioChartSvg, stddev } from '../../harness/perf.ts';
import type { TestRecord } from '../../harness/types.ts';

const t0: TestRecord = {
  suite: 'ublk-perf',
  name: 'loop_randread_64k',
  status: 'pass',
  durationS: 3,
  log: [
    'BENCH {"bench":"ublk-perf","case":"loop/randread/64k","mode":"copy","metric":"iops","unit":"IOPS","samples":[100,110,90],"baseline":"copy"}',
    'BENCH {"bench":"ublk-perf","case":"loop/randread/64k","mode":"fused-zc","metric":"iops","unit":"IOPS","samples":[200,210,190],"baseline":"copy"}',
    'BENCH {"bench":"ublk-perf","case":"loop/randread/64k","mode":"user-copy","metric":"iops","unit":"IOPS","samples":[101,111,91],"baseline":"copy"}',
    'BENCH {not json',
    '# BENCH {"bench":"uring-bpf","case":"chain","mode":"bpf","metric":"ops","unit":"ops/s","samples":[5]}',
    'fio: some other line',
  ],
};

test('mean and sample stddev', (t) => {
  t.is(mean([1, 2, 3]), 2);
  t.is(stddev([2, 4, 4, 4, 5, 5, 7, 9]).toFixed(3), '2.138');
  t.is(stddev([5]), 0);
});

test('BENCH lines become rows; ratios against the baseline mode with a significance call', (t) => {
  const rows = analyse(collectBench([t0]));
  t.is(rows.length, 4, 'a BENCH line behind a KTAP-style # is read too');
  const zc = rows.find((r) => r.mode === 'fused-zc')!;
  t.is(zc.ratio!.toFixed(2), '2.00');
  t.true(zc.significant);
  const uc = rows.find((r) => r.mode === 'user-copy')!;
  t.is(uc.significant, false, '1% apart and overlapping: noise');
  t.is(rows.find((r) => r.mode === 'copy')!.ratio, null);
  t.regex(ratioChartSvg(rows, 'x'), /2\.00x/);
});
