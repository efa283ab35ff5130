#!/bin/sh
# ublk-perf <null|loop> <randread|randwrite> <bs>: fio throughput through kl-ublk in
# every mode the kernel has, SAMPLES rounds, modes interleaved within a round so slow
# drift of the (emulated) machine hits every mode alike. Prints one BENCH line per mode
# and metric; the lab computes ratios to copy mode.
target=$1 rw=$2 bs=$3
SAMPLES=${KL_PERF_SAMPLES:-3}
RUNTIME=${KL_PERF_RUNTIME:-3}
UBLK=$KL_SUITES/ublk/kl-ublk
MODES="copy user-copy fused-zc reg-zc auto-zc"
ids= modes=

cleanup() {
	for id in $ids; do "$UBLK" del -n "$id" >/dev/null 2>&1; done
	rm -f "$KL_TMP"/backing-*
}
trap cleanup EXIT

for m in $MODES; do
	if [ "$target" = loop ]; then
		file=$KL_TMP/backing-$m
		dd if=/dev/zero of="$file" bs=1M count=128 2>/dev/null ||
			{ echo "FAIL: cannot make a 128 MiB backing file in $KL_TMP: $(df -h "$KL_TMP" | tail -n 1)"; exit 1; }
		out=$("$UBLK" add -t loop -q 1 -d 64 -m "$m" "$file" 2>&1)
	else
		out=$("$UBLK" add -t null -q 1 -d 64 -m "$m" -s 256 2>&1)
	fi
	rc=$?
	if [ $rc -eq 4 ]; then
		echo "mode $m not measured: $(echo "$out" | sed -n 's/^SKIP: //p')"
		continue
	fi
	[ $rc -eq 0 ] || { echo "FAIL: kl-ublk add -m $m: $out"; exit 1; }
	id=$(echo "$out" | tail -n 1)
	ids="$ids $id"
	modes="$modes $m:$id"
done
[ -n "$modes" ] || { echo "SKIP: no ublk mode could start"; exit 4; }

# terse v3: field 7/8 read KiB/s and IOPS, 48/49 write KiB/s and IOPS
case $rw in
randread) bwf=7 iopsf=8 ;;
randwrite) bwf=48 iopsf=49 ;;
*) echo "FAIL: rw must be randread or randwrite, got $rw"; exit 1 ;;
esac

round=1
while [ $round -le "$SAMPLES" ]; do
	for mi in $modes; do
		m=${mi%%:*} id=${mi#*:}
		line=$(fio --name=perf --filename=/dev/ublkb$id --rw=$rw --bs=$bs --ioengine=io_uring \
			--iodepth=32 --direct=1 --runtime=$RUNTIME --time_based --size=96m \
			--output-format=terse --terse-version=3 2>/dev/null)
		bw=$(echo "$line" | awk -F';' -v f=$bwf '{print $f}')
		iops=$(echo "$line" | awk -F';' -v f=$iopsf '{print $f}')
		[ -n "$iops" ] && [ "$iops" -gt 0 ] 2>/dev/null || { echo "FAIL: fio on $m ($target) gave no result: $line"; exit 1; }
		eval "iops_$(echo "$m" | tr - _)=\"\$iops_$(echo "$m" | tr - _) $iops\""
		eval "bw_$(echo "$m" | tr - _)=\"\$bw_$(echo "$m" | tr - _) $((bw / 1024))\""
		echo "round $round $m: $iops IOPS, $((bw / 1024)) MiB/s"
	done
	round=$((round + 1))
done

json_list() { echo "$1" | sed 's/^ *//; s/ *$//; s/  */,/g'; }
for mi in $modes; do
	m=${mi%%:*} v=$(echo "$m" | tr - _)
	eval "i=\$iops_$v b=\$bw_$v"
	echo "BENCH {\"bench\":\"ublk-perf\",\"case\":\"$target/$rw/$bs\",\"mode\":\"$m\",\"metric\":\"iops\",\"unit\":\"IOPS\",\"samples\":[$(json_list "$i")],\"baseline\":\"copy\"}"
	echo "BENCH {\"bench\":\"ublk-perf\",\"case\":\"$target/$rw/$bs\",\"mode\":\"$m\",\"metric\":\"bw\",\"unit\":\"MiB/s\",\"samples\":[$(json_list "$b")],\"baseline\":\"copy\"}"
done
exit 0
