#!/bin/sh
# ublk_perf.sh <kl-ublk> <null|loop> <randread|randwrite> <bs>: fio throughput through
# the lab's ublk server (its path is an argument so the lab packs suites/ublk too) in
# every mode the kernel has, SAMPLES rounds, modes interleaved within a round so slow
# drift of the (emulated) machine hits every mode alike. Prints one BENCH line per mode
# and metric; the lab computes ratios to copy mode.
#
# A number is only worth something if the mode really ran, so the test fails
#  - when a mode the kernel has does not start: a mode is expected when Linux 6.12 has
#    it (copy, user-copy), when the run applies the patch set that brings it
#    (KL_FEATURES), or when `kl-ublk features` (GET_FEATURES) offers it;
#  - when, around any sample, the server's counters (`kl-ublk stats`) do not show the
#    mode's data path: fewer bytes served than fio moved, a failed request, a zero-copy
#    mode that copied any byte (driver copy into its buffer, pread/pwrite on the char
#    device, zero-fill) or that did not lend/register/auto-register every request's
#    pages, a copy mode that did not copy every byte once.
UBLK=$1 target=$2 rw=$3 bs=$4
SAMPLES=${KL_PERF_SAMPLES:-3}
RUNTIME=${KL_PERF_RUNTIME:-3}
[ -x "$UBLK" ] || { echo "FAIL: no ublk server at '$UBLK'"; exit 1; }
MODES="copy user-copy fused-zc reg-zc auto-zc"
ids= modes=

cleanup() {
	for id in $ids; do "$UBLK" del -n "$id" >/dev/null 2>&1; done
	rm -f "$KL_TMP"/backing-*
}
trap cleanup EXIT

# terse v3: fields 6/7/8 read KiB, KiB/s and IOPS; 47/48/49 the same for writes
case $rw in
randread) kbf=6 bwf=7 iopsf=8 ;;
randwrite) kbf=47 bwf=48 iopsf=49 ;;
*) echo "FAIL: rw must be randread or randwrite, got $rw"; exit 1 ;;
esac

# The patch set that brings a mode; empty: Linux 6.12 has it.
mode_set() {
	case $1 in
	fused-zc) echo fused ;;
	reg-zc | auto-zc) echo ublk-zc ;;
	esac
}

features=$("$UBLK" features 2>&1)
case $? in
0) ;;
4) echo "$features"; exit 4 ;;	# no ublk at all: kl-ublk says SKIP and why
*) echo "FAIL: kl-ublk features: $features"; exit 1 ;;
esac
echo "kl-ublk features: $(echo "$features" | grep '^mode ' | tr '\n' ';')"

# Why the kernel must have mode $1 (exit 1: it need not).
must_have() {
	set_name=$(mode_set "$1")
	[ -n "$set_name" ] || { echo "Linux 6.12 has it"; return 0; }
	case ",$KL_FEATURES," in
	*",$set_name,"*) echo "the run applies '$set_name'"; return 0 ;;
	esac
	echo "$features" | grep -qx "mode $1: ok" && { echo "GET_FEATURES offers it"; return 0; }
	return 1
}

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
		reason=$(echo "$out" | sed -n 's/^SKIP: //p')
		if why=$(must_have "$m"); then
			echo "FAIL: mode $m did not start though $why: $reason"
			exit 1
		fi
		echo "mode $m not measured: $reason"
		continue
	fi
	[ $rc -eq 0 ] || { echo "FAIL: kl-ublk add -m $m: $out"; exit 1; }
	id=$(echo "$out" | tail -n 1)
	ids="$ids $id"
	modes="$modes $m:$id"
done
[ -n "$modes" ] || { echo "FAIL: no ublk mode could start"; exit 1; }

stats() {
	st_out=$("$UBLK" stats -n "$1" 2>&1) || { echo "FAIL: kl-ublk stats -n $1: $st_out"; return 1; }
	echo "$st_out"
}

# check_sample <mode> <fio bytes> <stats before> <stats after>: one line saying what the
# server did for this sample, "FAIL: ..." if that is not the mode's data path.
check_sample() {
	awk -v mode="$1" -v fio="$2" -v before="$3" -v after="$4" -v tgt="$target" '
	function parse(line, a,   n, f, i) {
		n = split(line, f, " ")
		for (i = 1; i < n; i += 2) a[f[i]] = f[i + 1]
	}
	BEGIN {
		parse(before, b); parse(after, e)
		split("reqs req_bytes errs drv_copy_bytes ucopy_calls ucopy_bytes ucopy_ns fill_bytes fill_ns fused buf_regs auto_regs zc_bytes", k, " ")
		for (i in k) d[k[i]] = e[k[i]] - b[k[i]]
		r = d["reqs"]
		copied = d["drv_copy_bytes"] + d["ucopy_bytes"] + d["fill_bytes"]
		msg = sprintf("server: %.0f requests, %.0f bytes; copied %.0f by the driver, %.0f by %.0f pread/pwrite, %.0f zero-filled; %.0f fused, %.0f registered, %.0f auto-registered, %.0f bytes on request pages",
			r, d["req_bytes"], d["drv_copy_bytes"], d["ucopy_bytes"], d["ucopy_calls"], d["fill_bytes"],
			d["fused"], d["buf_regs"], d["auto_regs"], d["zc_bytes"])
		if (mode == "user-copy" && r > 0)
			msg = msg sprintf(" (per request: %.2f calls, %.0f us in them, %.0f us zero-filling)",
				d["ucopy_calls"] / r, d["ucopy_ns"] / r / 1000, d["fill_ns"] / r / 1000)
		err = ""
		if (d["errs"] > 0)
			err = sprintf("%.0f requests failed in the server", d["errs"])
		else if (r == 0 || d["req_bytes"] < fio)
			err = sprintf("fio moved %.0f bytes, the server served %.0f in this mode", fio, d["req_bytes"])
		else if (mode == "copy" && (d["drv_copy_bytes"] != d["req_bytes"] || d["ucopy_bytes"] > 0))
			err = "copy mode did not have the driver copy each byte once"
		else if (mode == "user-copy" && (d["ucopy_bytes"] != d["req_bytes"] || d["drv_copy_bytes"] > 0))
			err = "user-copy did not move each byte once with pread/pwrite"
		else if (mode ~ /-zc$/ && copied > 0)
			err = sprintf("zero-copy mode copied %.0f bytes", copied)
		else if (mode == "fused-zc" && (d["fused"] < r || d["zc_bytes"] != d["req_bytes"]))
			err = "not every request was served by a fused command on its own pages"
		else if (mode == "reg-zc" && d["buf_regs"] < r)
			err = "not every request had its buffer registered"
		else if (mode == "auto-zc" && d["auto_regs"] < r)
			err = "not every request came with an auto-registered buffer"
		else if ((mode == "reg-zc" || mode == "auto-zc") && tgt == "loop" && d["zc_bytes"] != d["req_bytes"])
			err = "the backing file IO did not move every byte on the request pages"
		if (err != "") print "FAIL: " mode ": " err "; " msg
		else print msg
	}'
}

round=1
while [ $round -le "$SAMPLES" ]; do
	for mi in $modes; do
		m=${mi%%:*} id=${mi#*:}
		before=$(stats "$id") || { echo "$before"; exit 1; }
		line=$(fio --name=perf --filename=/dev/ublkb$id --rw=$rw --bs=$bs --ioengine=io_uring \
			--iodepth=32 --direct=1 --runtime=$RUNTIME --time_based --size=96m \
			--output-format=terse --terse-version=3 2>/dev/null)
		after=$(stats "$id") || { echo "$after"; exit 1; }
		kb=$(echo "$line" | awk -F';' -v f=$kbf '{print $f}')
		bw=$(echo "$line" | awk -F';' -v f=$bwf '{print $f}')
		iops=$(echo "$line" | awk -F';' -v f=$iopsf '{print $f}')
		[ -n "$iops" ] && [ "$iops" -gt 0 ] 2>/dev/null || { echo "FAIL: fio on $m ($target) gave no result: $line"; exit 1; }
		seen=$(check_sample "$m" $((kb * 1024)) "$before" "$after")
		echo "round $round $m: $iops IOPS, $((bw / 1024)) MiB/s; $seen"
		case $seen in FAIL:*)
			echo "FAIL: $m ($target $rw $bs) round $round: ${seen#FAIL: $m: }"
			exit 1 ;;
		esac
		eval "iops_$(echo "$m" | tr - _)=\"\$iops_$(echo "$m" | tr - _) $iops\""
		eval "bw_$(echo "$m" | tr - _)=\"\$bw_$(echo "$m" | tr - _) $((bw / 1024))\""
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
