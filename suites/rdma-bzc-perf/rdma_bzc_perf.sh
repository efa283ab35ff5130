#!/bin/sh
# rdma_bzc_perf.sh rxe|siw SIZE QD: what the bzc kernel ULP costs against the paths next to
# it, on one link between two guests, for messages of SIZE with QD in flight. Each round
# runs, a to b, the same COUNT messages (COUNT * SIZE bytes) through every mode:
#   pt-write, pt-read    perftest's ib_write_bw / ib_read_bw (user verbs, RDMA CM, -t QD)
#   bzc-write, bzc-read  bzc WRITE / READ commands through io_uring (bzc_bw)
#   tcp-send, tcp-sendzc io_uring SEND / SEND_ZC on a TCP connection (tcp_bw)
#   nvme-write, nvme-read  NVMe over RDMA (nvmet-rdma on b, null_blk in memory), fio's
#                        io_uring passthrough on /dev/ngXnY at -bs SIZE -iodepth QD: the
#                        same class of path, a kernel ULP driven by io_uring; only where the
#                        controller takes SIZE in one command
# Modes interleave, SAMPLES rounds (KL_PERF_SAMPLES, 5): drift of the emulated machine hits
# every mode alike. Bandwidth is each tool's own figure for its transfers (MB/s, 10^6 B);
# CPU is both guests' busy time (/proc/stat: all but idle and iowait, all CPUs: rxe and
# siw work in softirq and kernel threads) from the mode's start barrier to its end barrier,
# set-up included for every mode alike, per GB moved. a prints BENCH lines per mode and the
# per-round ratios of bzc to each other path. Under TCG the figures are the emulator's:
# compare the ratios.
. ./rdma_lib.sh
P=$(provider_arg "$1")
SIZE=$2
QD=$3
case "$SIZE" in 4K) COUNT=1024 ;; 64K) COUNT=512 ;; 1M) COUNT=64 ;; 16M) COUNT=8 ;;
*) kl_fail "usage: $0 rxe|siw 4K|64K|1M|16M QD (got size '$SIZE')" ;; esac
case "$QD" in 1 | 8 | 32) ;; *) kl_fail "usage: $0 rxe|siw SIZE 1|8|32 (got queue depth '$QD')" ;; esac
[ $COUNT -ge "$QD" ] || COUNT=$QD
BYTES=$(($(echo "$SIZE" | sed 's/K$/ * 1024/; s/M$/ * 1048576/')))
SAMPLES=${KL_PERF_SAMPLES:-5}
PTPORT=18516
CPUPORT=18700
need_pair
# one device for both: rxe and siw take one device per netdev, bzc uses whichever the CM routes to
link_add "$P"
NQN=nqn.2026-12.org.kernel-lab:bzc-perf-$P
PORT=4420
trap nvme_cleanup EXIT
MIB=$(((BYTES * COUNT) >> 20))
[ $MIB -ge 16 ] || MIB=16

# busy_ticks: this guest's busy CPU ticks since boot (USER_HZ), all CPUs.
busy_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# window_start MODE ROUND / window_end: both guests meet at the mode's barriers and take
# their busy ticks there; b keeps its figure in $T/bcpu for a.
window_start() {
	kl_barrier "r$2-$1-go" "$(scaled 120)"
	w0=$(busy_ticks)
	wcs0=$(uptime_cs)
}
window_end() {
	kl_barrier "r$2-$1-end" "$(scaled 300)"
	wticks=$(($(busy_ticks) - w0))
	wcs=$(($(uptime_cs) - wcs0))
	[ "$KL_ROLE" = b ] && echo "$1 $2 $wticks" >>"$T/bcpu"
}

if [ "$KL_ROLE" = b ]; then
	nvme_export $MIB
	kl_barrier exported
	kl_barrier nvme "$(scaled 60)"
	: >"$T/bcpu"
	round=1
	while [ $round -le "$SAMPLES" ]; do
		for m in pt-write pt-read bzc-write bzc-read tcp-send tcp-sendzc nvme-write nvme-read; do
			window_start $m $round
			case $m in
			pt-*)
				"ib_${m#pt-}_bw" -d "$DEV" -R -F -p $PTPORT -s "$BYTES" -n $COUNT -t "$QD" >"$T/server" 2>&1 &
				SRV=$!
				BG_PIDS="$SRV"
				wait_listen $PTPORT "$(scaled 10)" $SRV ||
					kl_fail "$P: ib_${m#pt-}_bw server on b not listening after $(scaled 10) s: $(tr '\n' ' ' <"$T/server" | cut -c1-300)"
				kl_barrier "r$round-$m-listening"
				;;
			bzc-*)
				bzc_bw b "${m#bzc-}" "$SIZE" "$QD" $COUNT "r$round-$m" >"$T/b.out" 2>&1 ||
					kl_fail "$P: bzc_bw b ${m#bzc-} $SIZE $QD, round $round: $(tr '\n' ' ' <"$T/b.out" | cut -c1-300)"
				;;
			tcp-*)
				tcp_bw b "${m#tcp-}" "$SIZE" "$QD" $COUNT "r$round-$m" >"$T/b.out" 2>&1 ||
					kl_fail "$P: tcp_bw b ${m#tcp-} $SIZE $QD, round $round: $(tr '\n' ' ' <"$T/b.out" | cut -c1-300)"
				;;
			esac
			window_end $m $round
			# the server ends with a's client (a waits at the end barrier meanwhile, so a
			# client that fails makes b hear it at once, not after the server's bound)
			case $m in pt-*)
				if ! wait_exit $SRV "$(scaled 10)"; then
					# a's client stalled and was killed (a says so): this round has no sample
					kill -9 $SRV 2>/dev/null
					wait $SRV 2>/dev/null
					kl_info "# round $round $m: b's server still waited $(scaled 10) s after the end barrier: killed (a's client stalled)"
					WAIT_RC=0
				fi
				BG_PIDS=
				[ "$WAIT_RC" = 0 ] || kl_fail "$P: ib_${m#pt-}_bw server on b, round $round: exit $WAIT_RC: $(tail -n 4 "$T/server" | tr '\n' ' ' | cut -c1-300)"
				;;
			esac
		done
		round=$((round + 1))
	done
	kl_barrier cpu "$(scaled 60)"
	i=0
	until nc "$KL_PEER" $CPUPORT <"$T/bcpu"; do
		[ $i -lt 5 ] || kl_fail "$P: could not send b's CPU figures to a on port $CPUPORT"
		sleep 1
		i=$((i + 1))
	done
	kl_barrier done "$(scaled 60)"
	kl_info "$P: b served $SAMPLES rounds of $COUNT x $SIZE, queue depth $QD"
	exit 0
fi

kl_barrier exported
nvme_connect
# nvme-rdma takes at most max_hw_sectors_kb in one command (1020 KiB here: 256 pages less
# one) and refuses a passthrough command past it. A message larger than that goes as the
# fewest equal commands of a power of two that fit (1M: 2 x 512K; 16M: 32 x 512K), with
# as many more in flight (at most 128), so NVMe moves the same bytes with the same bytes
# in flight as the other modes; the log says so.
MAXKB=$(cat "/sys/block/nvme${NG#/dev/ng}/queue/max_hw_sectors_kb" 2>/dev/null)
[ -n "$MAXKB" ] || kl_fail "$P: no max_hw_sectors_kb for ${NG#/dev/}'s block device"
NVBS=$BYTES
while [ $((NVBS / 1024)) -gt "$MAXKB" ]; do NVBS=$((NVBS / 2)); done
NVSPLIT=$((BYTES / NVBS))
NVQD=$((QD * NVSPLIT))
[ $NVQD -le 128 ] || NVQD=128
[ $NVSPLIT = 1 ] || kl_info "# nvme-*: $SIZE is more than ${CTRL##*/}'s largest command ($MAXKB KiB): each message goes as $NVSPLIT commands of $((NVBS / 1024))K, $NVQD in flight"
kl_barrier nvme

# fio_run RW: fio's io_uring passthrough, COUNT messages of SIZE (NVSPLIT commands of NVBS
# each) with QD messages in flight; MB/s in bw
fio_run() {
	timeout "$(scaled 120)" fio --name=nvme-rdma --filename="$NG" --ioengine=io_uring_cmd --cmd_type=nvme \
		--rw="$1" --bs="$NVBS" --iodepth="$NVQD" --size=$((BYTES * COUNT)) \
		--output-format=terse --terse-version=3 >"$T/q" 2>&1 ||
		kl_fail "$P: fio $1 $SIZE qd $QD on $NG: exit $?: $(tr '\n' ' ' <"$T/q" | cut -c1-300)"
	# terse v3: 5 error; read kB, bw, iops, runtime ms at 6-9; write's at 47-50
	bw=$(awk -F';' -v rw="$1" -v want=$((BYTES * COUNT / 1024)) '$1 == "3" {
		k = rw == "read" ? 6 : 47
		if ($5 != 0 || $k != want || $(k + 3) <= 0) { print "bad"; exit }
		printf "%.2f\n", $k * 1024 / ($(k + 3) / 1000) / 1e6; exit }' "$T/q")
	case "$bw" in "" | bad) kl_fail "$P: fio $1 $SIZE qd $QD: want $((BYTES * COUNT / 1024)) kB in one job without error: $(tr '\n' ' ' <"$T/q" | cut -c1-300)" ;; esac
}

MODES="pt-write pt-read bzc-write bzc-read tcp-send tcp-sendzc nvme-write nvme-read"
round=1
while [ $round -le "$SAMPLES" ]; do
	for m in pt-write pt-read bzc-write bzc-read tcp-send tcp-sendzc nvme-write nvme-read; do
		window_start $m $round
		bw=
		case $m in
		pt-*)
			kl_barrier "r$round-$m-listening"
			# a perftest run that stalls (seen once over rxe at 4K on a host running three
			# pairs of guests: 480 s, its QPs RTS) is the baseline tool's and the soft
			# provider's, not bzc's: it is killed after a bound 10 times its usual time,
			# said, and the round has no sample of the mode (b kills its server in step)
			PT_STALL_OK=1 perftest_client "$(scaled 30)" "$T/q" "ib_${m#pt-}_bw" -d "$DEV" -R -F -p $PTPORT -s "$BYTES" -n $COUNT -t "$QD" "$KL_PEER"
			# perftest's client sometimes fails to connect at all over rxe when runs follow
			# each other fast (its RDMA CM event handler gives up: "Failed to handle RDMA CM
			# event", then it crashes), leaving b's server listening: said, and run once more
			if [ "$PT_RC" != 0 ] && [ "$PT_RC" != stall ] && grep -q 'Failed to handle RDMA CM event' "$T/q"; then
				kl_info "# round $round $m: perftest's client could not connect (exit $PT_RC: $(grep -m1 'Failed' "$T/q")), run again"
				PT_STALL_OK=1 perftest_client "$(scaled 30)" "$T/q" "ib_${m#pt-}_bw" -d "$DEV" -R -F -p $PTPORT -s "$BYTES" -n $COUNT -t "$QD" "$KL_PEER"
			fi
			if [ "$PT_RC" = stall ]; then
				kl_info "# round $round $m: no sample this round (perftest stalled)"
				bw=stall
			else
				[ $PT_RC = 0 ] || kl_fail "$P: ib_${m#pt-}_bw client, round $round: exit $PT_RC: $(tail -n 4 "$T/q" | tr '\n' ' ' | cut -c1-300)"
				line=$(awk -v s="$BYTES" '$1 == s && NF >= 5 { print; exit }' "$T/q")
				[ "$(echo "$line" | awk '{ print $2 }')" = $COUNT ] ||
					kl_fail "$P: ib_${m#pt-}_bw: no result line of $COUNT iterations of $BYTES B: $(tail -n 3 "$T/q" | tr '\n' ' ')"
				# perftest's MB is 2^20 bytes; 0.00 when its rdtsc calibration failed (a loaded TCG host)
				bw=$(echo "$line" | awk '{ if ($4 > 0) printf "%.2f", $4 * 1.048576 }')
				if [ -z "$bw" ]; then
					bw=-
					kl_info "# round $round $m: perftest reported no bandwidth (its rdtsc calibration failed under load: $(echo "$line" | tr -s ' \t' ' ')): no own-clock sample this round"
				fi
			fi
			;;
		bzc-*)
			timeout "$(scaled 180)" bzc_bw a "${m#bzc-}" "$SIZE" "$QD" $COUNT "r$round-$m" >"$T/q" 2>&1 ||
				kl_fail "$P: bzc_bw a ${m#bzc-} $SIZE $QD, round $round: exit $?: $(tr '\n' ' ' <"$T/q" | cut -c1-300)"
			bw=$(awk '$1 == "bzc_bw:" && $2 == "result" { print $3 }' "$T/q")
			;;
		tcp-*)
			timeout "$(scaled 180)" tcp_bw a "${m#tcp-}" "$SIZE" "$QD" $COUNT "r$round-$m" >"$T/q" 2>&1 ||
				kl_fail "$P: tcp_bw a ${m#tcp-} $SIZE $QD, round $round: exit $?: $(tr '\n' ' ' <"$T/q" | cut -c1-300)"
			grep '^tcp_bw: .*copied' "$T/q" | sed 's/^/# /'
			bw=$(awk '$1 == "tcp_bw:" && $2 == "result" { print $3 }' "$T/q")
			;;
		nvme-*)
			fio_run "${m#nvme-}"
			;;
		esac
		window_end $m $round
		# a perftest run whose clock failed has no own-clock sample ("-"): its window and CPU count
		if [ "$bw" = stall ]; then
			bw=- wticks=- wcs=0
		elif [ "$bw" = - ]; then
			:
		elif ! awk -v b="$bw" 'BEGIN { exit !(b > 0) }'; then
			kl_fail "$P: $m $SIZE qd $QD: no bandwidth above zero: $(tr '\n' ' ' <"$T/q" | cut -c1-300)"
		fi
		v=$(echo "$m" | tr - _)
		wall=$(awk -v b=$((BYTES * COUNT)) -v cs="$wcs" 'BEGIN { if (cs > 0) printf "%.2f", b / cs * 100 / 1e6; else print "-" }')
		eval "bw_$v=\"\$bw_$v $bw\" wall_$v=\"\$wall_$v $wall\" ta_$v=\"\$ta_$v $wticks\""
		kl_info "round $round $m: $bw MB/s by its own clock, $wall MB/s over the window ($wcs cs, set-up included); a busy $wticks ticks"
	done
	round=$((round + 1))
done

(nc -l -p $CPUPORT </dev/null >"$T/bcpu" 2>"$T/nc.err") &
NC=$!
BG_PIDS="$NC"
kl_barrier cpu "$(scaled 60)"
wait_exit $NC "$(scaled 30)" || kl_fail "$P: b's CPU figures did not come on port $CPUPORT within $(scaled 30) s"
BG_PIDS=
[ "$(wc -l <"$T/bcpu")" = $((SAMPLES * 8)) ] || kl_fail "$P: b sent $(wc -l <"$T/bcpu") CPU figures, not $((SAMPLES * 8)): $(head -c 200 "$T/bcpu")"
# The NVMe path moved the right bytes: COUNT commands written with a crc32c each, read
# back and checked (after the timed rounds, so that checking costs no mode anything).
if :; then
	timeout "$(scaled 120)" fio --name=nvme-verify --filename="$NG" --ioengine=io_uring_cmd --cmd_type=nvme \
		--rw=write --bs="$NVBS" --iodepth="$NVQD" --size=$((BYTES * COUNT)) \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --output="$T/fio" >"$T/fio.err" 2>&1 ||
		kl_fail "$P: fio's verify pass over NVMe/RDMA ($SIZE, qd $QD) failed: $(grep -iE 'err|verify|fail' "$T/fio" "$T/fio.err" | head -n 4 | tr '\n' ' ' | cut -c1-300)"
	grep -q 'err= 0' "$T/fio" || kl_fail "$P: fio's verify pass reported errors: $(grep 'err=' "$T/fio" | head -n 2 | tr '\n' ' ')"
	kl_info "$P: nvme: $((COUNT * NVSPLIT)) commands of $((NVBS / 1024))K written and read back over NVMe/RDMA, every crc32c checked"
fi
kl_barrier done "$(scaled 60)"

hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
case "$hz" in '' | *[!0-9]*) hz=100 ;; esac
GB=$(awk -v b="$BYTES" -v n=$COUNT 'BEGIN { printf "%.9f", b * n / 1e9 }')
json_list() { echo "$1" | tr ' ' '\n' | grep -v '^-\{0,1\}$' | paste -s -d, -; }
CASE="$P/$SIZE/qd$QD"
for m in $MODES; do
	v=$(echo "$m" | tr - _)
	eval "b=\$bw_$v w=\$wall_$v ta=\$ta_$v"
	# CPU s per GB of each round: a's ticks of that round plus b's (from $T/bcpu)
	c=$(echo "$ta" | awk -v m="$m" -v f="$T/bcpu" -v hz="$hz" -v gb="$GB" '
		BEGIN { while ((getline l < f) > 0) { split(l, x, " "); if (x[1] == m) tb[x[2]] = x[3] } }
		{ for (i = 1; i <= NF; i++) if ($i == "-") printf "%s-", (i > 1 ? " " : ""); else printf "%s%.3f", (i > 1 ? " " : ""), ($i + tb[i]) / hz / gb }')
	eval "cpu_$v=\"$c\""
	case $m in *-read) base=pt-read ;; *) base=pt-write ;; esac
	echo "BENCH {\"bench\":\"rdma-bzc-perf\",\"case\":\"$CASE\",\"mode\":\"$m\",\"metric\":\"bw\",\"unit\":\"MB/s\",\"samples\":[$(json_list "$b")],\"baseline\":\"$base\"}"
	echo "BENCH {\"bench\":\"rdma-bzc-perf\",\"case\":\"$CASE\",\"mode\":\"$m\",\"metric\":\"bw over the window\",\"unit\":\"MB/s\",\"samples\":[$(json_list "$w")],\"baseline\":\"$base\"}"
	echo "BENCH {\"bench\":\"rdma-bzc-perf\",\"case\":\"$CASE\",\"mode\":\"$m\",\"metric\":\"cpu\",\"unit\":\"CPU s/GB\",\"samples\":[$(json_list "$c")],\"baseline\":\"$base\",\"higherIsBetter\":false}"
done
# Per-round ratios (both modes of a ratio ran in the same round: the host's drift mostly
# cancels): bzc against user verbs, against TCP, against NVMe over RDMA.
ratio() { # ratio NUM DEN METRIC
	eval "x=\$${3}_$(echo "$1" | tr - _) y=\$${3}_$(echo "$2" | tr - _)"
	# a round where either has no sample ("-") gives no ratio
	r=$(printf '%s\n%s\n' "$x" "$y" | awk 'NR == 1 { n = split($0, a, " ") } NR == 2 { split($0, b, " "); k = 0
		for (i = 1; i <= n; i++) if (a[i] != "-" && b[i] != "-" && b[i] > 0) printf "%s%.4f", (k++ ? "," : ""), a[i] / b[i] }')
	echo "BENCH {\"bench\":\"rdma-bzc-perf\",\"case\":\"$CASE\",\"mode\":\"$1 / $2\",\"metric\":\"$3 ratio\",\"unit\":\"x\",\"samples\":[$r],\"higherIsBetter\":$( [ "$3" = bw ] && echo true || echo false)}"
}
for pair in bzc-write:pt-write bzc-read:pt-read bzc-write:tcp-send bzc-write:tcp-sendzc bzc-write:nvme-write bzc-read:nvme-read; do
	ratio "${pair%%:*}" "${pair#*:}" bw
	ratio "${pair%%:*}" "${pair#*:}" cpu
done
exit 0
