#!/bin/sh
# rdma_bzc_perf.sh rxe SIZE: what a kernel ULP costs over user verbs on one link between two
# guests. Each round runs, a to b: TCP (qperf tcp_bw), qperf's RDMA WRITE and READ
# (rc_rdma_write_bw, rc_rdma_read_bw, through the RDMA CM) and bzc's WRITE and READ
# (bzc_bw: 8 commands of SIZE in flight through io_uring). Modes interleave, SAMPLES rounds
# (KL_PERF_SAMPLES, 5), each run KL_PERF_TIME seconds (2): drift of the emulated machine
# hits every mode alike. a prints per mode one BENCH line of bandwidth (MB/s) and one of CPU
# cost (busy seconds of both guests per GB moved), ratios to qperf's RDMA WRITE. Under TCG
# the figures are the emulator's: compare the ratios.
. ./rdma_lib.sh
P=$(provider_arg "$1")
SIZE=$2
case "$SIZE" in [0-9]*) ;; *) kl_fail "usage: $0 rxe SIZE (e.g. 64K; got '$SIZE')" ;; esac
# siw: qperf cannot run there (suites/rdma-perf/README.md), so there is nothing to compare with
[ "$P" = rxe ] || kl_fail "$P: qperf runs on rxe only; this benchmark compares bzc with it"
SAMPLES=${KL_PERF_SAMPLES:-5}
TIME=${KL_PERF_TIME:-2}
need_pair
# one device for both: rxe takes one device per netdev, and bzc uses whichever the CM routes to
link_add "$P"

if [ "$KL_ROLE" = b ]; then
	qperf >"$T/server" 2>&1 &
	SRV=$!
	BG_PIDS="$SRV"
	# qperf listens on TCP 19765 (0x4D35), on IPv6's :: as Debian builds it
	i=0
	until cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$2 ~ /:4D35$/ && $4 == "0A" { f = 1 } END { exit !f }'; do
		kill -0 $SRV 2>/dev/null || kl_fail "$P: qperf server on b exited: $(tr '\n' ' ' <"$T/server" | cut -c1-300)"
		[ $i -lt "$(scaled 10)" ] || kl_fail "$P: qperf server on b not listening after $(scaled 10) s"
		sleep 1
		i=$((i + 1))
	done
	kl_barrier listening
	round=1
	while [ $round -le "$SAMPLES" ]; do
		for m in write read; do
			bzc_bw b $m "$SIZE" "r$round-$m" >"$T/bzc" 2>&1 ||
				kl_fail "$P: bzc_bw b $m $SIZE, round $round: $(tr '\n' ' ' <"$T/bzc" | cut -c1-300)"
		done
		round=$((round + 1))
	done
	kl_barrier done "$(scaled 60)"
	kl_info "$P: b served qperf and bzc"
	exit 0
fi

# qperf_run TEST: one qperf run of TEST to b; its output in $T/q, MB/s in bw
qperf_run() {
	opts=
	[ "$1" = tcp_bw ] || opts="-cm1"
	# shellcheck disable=SC2086 # opts is one word or none
	timeout "$(scaled $((TIME + 30)))" qperf "$KL_PEER" -m "$SIZE" -t "$TIME" -v -uu $opts "$1" >"$T/q" 2>&1 ||
		kl_fail "$P: qperf $1 -m $SIZE to $KL_PEER: exit $?: $(tr '\n' ' ' <"$T/q" | cut -c1-300)"
	bw=$(awk '$1 == "bw" && $4 == "bytes/sec" { printf "%.2f", $3 / 1e6 }' "$T/q")
}

kl_barrier listening
MODES="tcp:tcp_bw qperf-write:rc_rdma_write_bw qperf-read:rc_rdma_read_bw bzc-write:write bzc-read:read"
round=1
while [ $round -le "$SAMPLES" ]; do
	for mt in $MODES; do
		m=${mt%%:*}
		test=${mt#*:}
		case "$m" in
		bzc-*)
			timeout "$(scaled $((TIME + 60)))" bzc_bw a "$test" "$SIZE" "r$round-$test" >"$T/q" 2>&1 ||
				kl_fail "$P: bzc_bw a $test $SIZE, round $round: exit $?: $(tr '\n' ' ' <"$T/q" | cut -c1-300)"
			grep '^bzc_bw: ' "$T/q" | grep -v ' result ' | sed 's/^/# /'
			bw=$(awk '$1 == "bzc_bw:" && $2 == "result" { print $3 }' "$T/q")
			cost=$(awk '$1 == "bzc_bw:" && $2 == "result" { print $4 }' "$T/q")
			;;
		*)
			qperf_run "$test"
			# a 16M tcp_bw under TCG has once moved no whole message in 2 s (bw 0, both
			# ends busy): that run is said and repeated once, never counted as 0
			if ! awk -v b="$bw" 'BEGIN { exit !(b > 0) }'; then
				kl_info "# round $round $m: qperf reported no bandwidth, run again: $(tr '\n' ' ' <"$T/q" | tr -s ' ' | cut -c1-200)"
				qperf_run "$test"
			fi
			cost=$(awk '$1 ~ /_cost$/ && $4 == "ns/GB" { s += $3; n++ } END { if (n == 2) printf "%.3f", s / 1e9 }' "$T/q")
			;;
		esac
		awk -v b="$bw" 'BEGIN { exit !(b > 0) }' || kl_fail "$P: $m -m $SIZE: no bandwidth above zero: $(tr '\n' ' ' <"$T/q" | cut -c1-300)"
		[ -n "$cost" ] || kl_fail "$P: $m $SIZE: no CPU cost: $(tr '\n' ' ' <"$T/q" | cut -c1-300)"
		v=$(echo "$m" | tr - _)
		eval "bw_$v=\"\$bw_$v $bw\" cost_$v=\"\$cost_$v $cost\""
		kl_info "round $round $m: $bw MB/s, $cost s of CPU per GB"
	done
	round=$((round + 1))
done
kl_barrier done "$(scaled 60)"

json_list() { echo "$1" | sed 's/^ *//; s/ *$//; s/  */,/g'; }
for mt in $MODES; do
	m=${mt%%:*}
	v=$(echo "$m" | tr - _)
	eval "b=\$bw_$v c=\$cost_$v"
	echo "BENCH {\"bench\":\"rdma-bzc-perf\",\"case\":\"$P/$SIZE\",\"mode\":\"$m\",\"metric\":\"bw\",\"unit\":\"MB/s\",\"samples\":[$(json_list "$b")],\"baseline\":\"qperf-write\"}"
	echo "BENCH {\"bench\":\"rdma-bzc-perf\",\"case\":\"$P/$SIZE\",\"mode\":\"$m\",\"metric\":\"cpu\",\"unit\":\"CPU s/GB\",\"samples\":[$(json_list "$c")],\"baseline\":\"qperf-write\",\"higherIsBetter\":false}"
done
exit 0
