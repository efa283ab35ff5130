#!/bin/sh
# rdma_perf.sh rxe|siw SIZE: what one message size costs between two guests on one link,
# measured by qperf from a to b for each mode: TCP (tcp_bw, the baseline), RC SEND/RECV
# (rc_bw), RDMA WRITE (rc_rdma_write_bw) and RDMA READ (rc_rdma_read_bw) over the provider
# through the RDMA CM. Modes interleave, SAMPLES rounds (KL_PERF_SAMPLES, 5), each run
# KL_PERF_TIME seconds (2): drift of the emulated machine hits every mode alike. a prints
# per mode one BENCH line of bandwidth (MB/s) and one of CPU cost (seconds of CPU, both
# guests, per GB moved). Under TCG the figures are the emulator's: compare the ratios.
. ./rdma_lib.sh
P=$(provider_arg "$1")
SIZE=$2
case "$SIZE" in [0-9]*) ;; *) kl_fail "usage: $0 rxe|siw SIZE (e.g. 64K; got '$SIZE')" ;; esac
SAMPLES=${KL_PERF_SAMPLES:-5}
TIME=${KL_PERF_TIME:-2}
need_pair
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
	kl_barrier done "$(scaled $((SAMPLES * 4 * (TIME + 8) + 30)))"
	kl_info "$P: b served qperf"
	exit 0
fi

kl_barrier listening
MODES="tcp:tcp_bw send:rc_bw write:rc_rdma_write_bw read:rc_rdma_read_bw"
round=1
while [ $round -le "$SAMPLES" ]; do
	for mt in $MODES; do
		m=${mt%%:*}
		test=${mt#*:}
		opts=
		[ "$m" = tcp ] || opts="-cm1"
		# shellcheck disable=SC2086 # opts is one word or none
		timeout "$(scaled $((TIME + 30)))" qperf "$KL_PEER" -m "$SIZE" -t "$TIME" -v -uu $opts "$test" >"$T/q" 2>&1 ||
			kl_fail "$P: qperf $test -m $SIZE to $KL_PEER: exit $?: $(tr '\n' ' ' <"$T/q" | cut -c1-300)"
		bw=$(awk '$1 == "bw" && $4 == "bytes/sec" { printf "%.2f", $3 / 1e6 }' "$T/q")
		cost=$(awk '$1 ~ /_cost$/ && $4 == "ns/GB" { s += $3; n++ } END { if (n == 2) printf "%.3f", s / 1e9 }' "$T/q")
		awk -v b="$bw" 'BEGIN { exit !(b > 0) }' || kl_fail "$P: qperf $test -m $SIZE: no bandwidth above zero: $(tr '\n' ' ' <"$T/q" | cut -c1-300)"
		[ -n "$cost" ] || kl_fail "$P: qperf $test -m $SIZE: no send_cost and recv_cost: $(tr '\n' ' ' <"$T/q" | cut -c1-300)"
		eval "bw_$m=\"\$bw_$m $bw\" cost_$m=\"\$cost_$m $cost\""
		kl_info "round $round $m: $bw MB/s, $cost s of CPU per GB"
	done
	round=$((round + 1))
done
kl_barrier done

json_list() { echo "$1" | sed 's/^ *//; s/ *$//; s/  */,/g'; }
for mt in $MODES; do
	m=${mt%%:*}
	eval "b=\$bw_$m c=\$cost_$m"
	echo "BENCH {\"bench\":\"rdma-perf\",\"case\":\"$P/$SIZE\",\"mode\":\"$m\",\"metric\":\"bw\",\"unit\":\"MB/s\",\"samples\":[$(json_list "$b")],\"baseline\":\"tcp\"}"
	echo "BENCH {\"bench\":\"rdma-perf\",\"case\":\"$P/$SIZE\",\"mode\":\"$m\",\"metric\":\"cpu\",\"unit\":\"CPU s/GB\",\"samples\":[$(json_list "$c")],\"baseline\":\"tcp\",\"higherIsBetter\":false}"
done
exit 0
