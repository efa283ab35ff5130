# Sourced by the rdma suite's test scripts (busybox sh). Not a test itself.
#
# One soft RDMA device per test, on eth0 (the agent gives it KL_ADDR when the suite asks
# for a network): rdma_rxe (RoCE v2) or siw (iWARP). The device is deleted on exit,
# whatever happened; every wait is bounded and scaled by KL_SCALE (4 under TCG).

T=${KL_TMP:-/tmp}
SCALE=${KL_SCALE:-1}
DEV=""
BG_PIDS=""

kl_fail() { echo "FAIL: $*"; exit 1; }
kl_skip() { echo "SKIP: $*"; exit 4; }
kl_info() { echo "$*"; }

scaled() { echo $(($1 * ${SCALE%%.*})); }

LINK_DOWN=
rdma_cleanup() {
	for p in $BG_PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -n "$DEV" ] && rdma link delete "$DEV" 2>/dev/null
	# two guests: a cable this test pulled goes back in, and the other guest stops waiting
	# at this test's barriers (the host answers them `gone`)
	if [ -n "$KL_ROLE" ] && [ -n "$KL_PEER" ]; then
		for p in /sys/class/virtio-ports/*; do
			[ "$(cat "$p/name" 2>/dev/null)" = kl.ctl ] || continue
			[ -n "$LINK_DOWN" ] && echo "link up $KL_SUITE/$KL_TEST" >"/dev/${p##*/}"
			echo "leave $KL_SUITE/$KL_TEST" >"/dev/${p##*/}"
		done
	fi
	return 0
}
trap rdma_cleanup EXIT

# provider_arg rxe|siw: the soft RDMA driver a test runs on.
provider_arg() {
	case "$1" in
	rxe | siw) echo "$1" ;;
	*) kl_fail "usage: $0 rxe|siw (got '$1')" ;;
	esac
}

# link_add rxe|siw: attach the provider to eth0 as <provider>0, wait for its port to be
# ACTIVE (ibv_devinfo), set DEV.
link_add() {
	[ -n "$KL_ADDR" ] || kl_fail "eth0 has no address (KL_ADDR unset): the agent did not set up the guest's NIC"
	rdma link add "$1"0 type "$1" netdev eth0 2>"$T/link.err" ||
		kl_fail "rdma link add $1""0 type $1 netdev eth0: $(cat "$T/link.err")"
	DEV=$1"0"
	i=0
	while [ $i -lt "$(scaled 10)" ]; do
		ibv_devinfo -d "$DEV" 2>/dev/null | grep -q 'state:[[:space:]]*PORT_ACTIVE' && return 0
		sleep 1
		i=$((i + 1))
	done
	kl_fail "$DEV: port not PORT_ACTIVE after $(scaled 10) s: $(ibv_devinfo -d "$DEV" 2>&1 | grep -E 'state|hca_id' | tr -s ' \t\n' ' ')"
}

# wait_listen PORT SECONDS [PID]: until an RDMA CM listener on PORT exists (rdma resource
# show cm_id: state LISTEN), or the server PID has exited. Servers' own output is no sign:
# to a file it is block-buffered.
wait_listen() {
	i=0
	while [ $i -lt "$2" ]; do
		[ -n "$3" ] && ! kill -0 "$3" 2>/dev/null && return 1
		rdma resource show cm_id 2>/dev/null | grep "state LISTEN" | grep -q ":$1 " && return 0
		sleep 1
		i=$((i + 1))
	done
	return 1
}

# why_out FILE: the last lines of a tool's output that say something, on one line: rping
# -v prints every ping's whole buffer, which would hide the error after it.
why_out() {
	grep -v '^ping data: ' "$1" | tail -n 4 | tr '\n' ' ' | cut -c1-300
}

# uptime_cs: the guest's uptime in centiseconds (/proc/uptime has two decimals).
uptime_cs() {
	read -r up _ </proc/uptime
	echo $((${up%.*} * 100 + 1${up#*.} - 100))
}

# perftest_client SECONDS OUT CMD...: a perftest client, bounded by SECONDS, its output in
# OUT; its wall time in centiseconds in PT_CS, its exit status in PT_RC. A client that does
# not finish fails the test with what its QPs looked like: with -R each end first connects
# a QP for perftest's own key exchange, then one for the test, so the count says which
# phase it stalled in (one guest holding both ends: 2 = the exchange, 4 = the test). With
# PT_STALL_OK set, a client that does not finish is killed, said, and PT_RC is "stall".
perftest_client() {
	pt_limit=$1
	pt_out=$2
	shift 2
	pt_t0=$(uptime_cs)
	"$@" >"$pt_out" 2>&1 &
	pt_pid=$!
	BG_PIDS="$BG_PIDS $pt_pid"
	if ! wait_exit $pt_pid "$pt_limit"; then
		rdma resource show qp 2>&1 | sed 's/^/# qp: /'
		rdma resource show cm_id 2>&1 | sed 's/^/# cm_id: /'
		sed 's/^/# client: /' "$pt_out"
		pt_qps=$(rdma resource show qp 2>/dev/null | grep -c 'type RC')
		pt_states=$(rdma resource show qp 2>/dev/null | grep 'type RC' | sed 's/.* state \([A-Z_]*\).*/\1/' | sort | uniq -c | awk '{ printf " %s %s", $1, $2 }')
		kill -9 $pt_pid 2>/dev/null
		if [ -n "$PT_STALL_OK" ]; then
			wait $pt_pid 2>/dev/null
			kl_info "# $P: $1 client did not finish within $pt_limit s ($pt_qps RC QPs on this guest${pt_states:+:$pt_states}): killed"
			PT_RC=stall
			return 0
		fi
		kl_fail "$P: $1 client did not finish within $pt_limit s ($pt_qps RC QPs on this guest${pt_states:+:$pt_states})"
	fi
	PT_CS=$(($(uptime_cs) - pt_t0))
	[ $PT_CS -gt 0 ] || PT_CS=1
	PT_RC=$WAIT_RC
}

# bw_result FILE SIZE ITERS: perftest's result line for SIZE-byte messages says ITERS
# iterations; prints perftest's average and the bytes moved in the client's wall time
# (PT_CS, connection set-up included). perftest times with rdtsc calibrated against
# gettimeofday; on a loaded TCG host that calibration can fail (r^2 < 0.9) and with -F its
# report then reads 0.00: no fault of RDMA's, so it is said, not failed.
bw_result() {
	bw_line=$(awk -v s="$2" '$1 == s && NF >= 5 { print; exit }' "$1")
	[ -n "$bw_line" ] || kl_fail "$P: no perftest result line for $2 B: $(tail -n 4 "$1" | tr '\n' ' ')"
	bw_iters=$(echo "$bw_line" | awk '{ print $2 }')
	[ "$bw_iters" = "$3" ] || kl_fail "$P: perftest ran $bw_iters iterations of $2 B, not $3: $bw_line"
	bw_own=$(echo "$bw_line" | awk '{ print $4 }')
	awk -v a="$bw_own" 'BEGIN { exit !(a > 0) }' || bw_own="$bw_own (its rdtsc calibration failed)"
	awk -v s="$2" -v n="$3" -v cs="$PT_CS" -v own="$bw_own" \
		'BEGIN { printf "perftest average %s MB/s; %.2f MB in %.2f s wall, set-up included\n", own, s * n / 1e6, cs / 100 }'
}

# kl_barrier TAG [SECONDS]: two guests only: wait until the other guest reaches the same
# barrier of this test (the host holds it: kl.ctl, harness/pair.ts). Fails if the other
# guest ended or did not come in time.
kl_barrier() {
	bt=${2:-$(scaled 30)}
	bport=
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = kl.ctl ] && bport=/dev/${p##*/}
	done
	[ -n "$bport" ] || kl_fail "barrier $1: no kl.ctl port (this guest runs alone)"
	exec 5<>"$bport"
	echo "barrier $KL_SUITE/$KL_TEST $1" >&5
	bend=$(($(date +%s) + bt))
	while :; do
		left=$((bend - $(date +%s)))
		if [ $left -le 0 ]; then
			exec 5<&-
			kl_fail "barrier $1: guest $( [ "$KL_ROLE" = a ] && echo b || echo a) did not get there within $bt s"
		fi
		if IFS= read -r -t "$left" reply <&5; then
			case "$reply" in
			"go $KL_SUITE/$KL_TEST $1") exec 5<&-; return 0 ;;
			"gone $KL_SUITE/$KL_TEST $1") exec 5<&-; kl_fail "barrier $1: the other guest ended" ;;
			esac
		else
			sleep 1
		fi
	done
}

# need_pair: the test runs on both guests (KL_ROLE a or b, KL_PEER the other's address).
need_pair() {
	[ -n "$KL_PEER" ] && [ -n "$KL_ROLE" ] || kl_fail "a two-guest test without a peer (KL_ROLE='$KL_ROLE' KL_PEER='$KL_PEER')"
}

# kl_ctl REQUEST [SECONDS]: two guests only: ask the host for REQUEST (`link down|up`, this
# guest's cable; `kill-peer`, the other guest's QEMU) in this test, and wait for its answer.
kl_ctl() {
	cport=
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = kl.ctl ] && cport=/dev/${p##*/}
	done
	[ -n "$cport" ] || kl_fail "$1: no kl.ctl port (this guest runs alone)"
	exec 6<>"$cport"
	echo "$1 $KL_SUITE/$KL_TEST" >&6
	cend=$(($(date +%s) + ${2:-$(scaled 30)}))
	# read -t drops a line half read when its time runs out: wait for the whole time left
	while [ "$(date +%s)" -lt $cend ]; do
		if IFS= read -r -t $((cend - $(date +%s))) creply <&6; then
			case "$creply" in
			"$1 $KL_SUITE/$KL_TEST ok") exec 6<&-; return 0 ;;
			"$1 $KL_SUITE/$KL_TEST error "*) exec 6<&-; kl_fail "host refused '$1': ${creply#"$1 $KL_SUITE/$KL_TEST error "}" ;;
			esac
		fi
	done
	exec 6<&-
	kl_fail "host did not answer '$1' in time"
}

# wait_exit PID SECONDS: until PID has exited (its status in WAIT_RC), or fail.
wait_exit() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		[ $i -ge "$2" ] && return 1
		sleep 1
		i=$((i + 1))
	done
	wait "$1"
	WAIT_RC=$?
	return 0
}

# NVMe over RDMA between two guests (nvmet-rdma on b, nvme-rdma on a), the in-tree
# "kernel-owned queue pair driven by io_uring" path. The caller sets NQN and PORT and
# traps nvme_cleanup on EXIT; b calls nvme_export, a nvme_connect after b's barrier.
CFS=/sys/kernel/config
NB= SUBSYS= PORTDIR= CTRL= BDEV= NG=

# nvme_cleanup: undo in reverse order, before rdma_cleanup deletes the provider under it.
nvme_cleanup() {
	[ -n "$CTRL" ] && [ -e "$CTRL/delete_controller" ] && echo 1 >"$CTRL/delete_controller" 2>/dev/null
	if [ -n "$PORTDIR" ]; then
		rm -f "$PORTDIR/subsystems/$NQN" 2>/dev/null
		rmdir "$PORTDIR" 2>/dev/null
	fi
	if [ -n "$SUBSYS" ]; then
		echo 0 >"$SUBSYS/namespaces/1/enable" 2>/dev/null
		rmdir "$SUBSYS/namespaces/1" "$SUBSYS" 2>/dev/null
	fi
	if [ -n "$NB" ]; then
		echo 0 >"$NB/power" 2>/dev/null
		rmdir "$NB" 2>/dev/null
	fi
	rdma_cleanup
}

# put VALUE FILE: a configfs write whose failure says which attribute refused what.
put() {
	echo "$1" >"$2" 2>"$T/put.err" || kl_fail "$P: echo $1 > $2: $(cat "$T/put.err") $(dmesg | tail -n 3 | tr '\n' ' ')"
}

# nvme_export MIB: b exports a memory-backed null_blk disk of MIB MiB (reads return what
# was written, so a verify means something) as namespace 1 of NQN, nvmet-rdma on
# KL_ADDR:PORT; returns once the target listens. Sets BDEV.
nvme_export() {
	grep -q " $CFS configfs" /proc/mounts || mount -t configfs configfs $CFS || kl_fail "cannot mount configfs"
	[ -d $CFS/nvmet ] || kl_fail "no $CFS/nvmet: the kernel lacks CONFIG_NVME_TARGET"
	[ -d $CFS/nullb ] || kl_fail "no $CFS/nullb: the kernel lacks CONFIG_BLK_DEV_NULL_BLK"
	NB=$CFS/nullb/kl-nvme-$P
	mkdir "$NB" || kl_fail "mkdir $NB"
	put 1 "$NB/memory_backed"
	put 4096 "$NB/blocksize"
	put "$1" "$NB/size"
	put 1 "$NB/power"
	BDEV=/dev/${NB##*/} # a configfs null_blk disk is named after its directory
	[ -b "$BDEV" ] || kl_fail "$P: null_blk powered on, but no $BDEV"
	SUBSYS=$CFS/nvmet/subsystems/$NQN
	mkdir "$SUBSYS" || kl_fail "mkdir $SUBSYS"
	put 1 "$SUBSYS/attr_allow_any_host"
	mkdir "$SUBSYS/namespaces/1" || kl_fail "mkdir $SUBSYS/namespaces/1"
	put "$BDEV" "$SUBSYS/namespaces/1/device_path"
	put 1 "$SUBSYS/namespaces/1/enable"
	PORTDIR=$CFS/nvmet/ports/1
	mkdir "$PORTDIR" || kl_fail "mkdir $PORTDIR"
	put rdma "$PORTDIR/addr_trtype"
	put ipv4 "$PORTDIR/addr_adrfam"
	put "$KL_ADDR" "$PORTDIR/addr_traddr"
	put "$PORT" "$PORTDIR/addr_trsvcid"
	# the port is enabled (nvmet-rdma listens) when its first subsystem is linked
	ln -s "$SUBSYS" "$PORTDIR/subsystems/$NQN" 2>"$T/ln.err" ||
		kl_fail "$P: nvmet-rdma did not take port $KL_ADDR:$PORT: $(cat "$T/ln.err") $(dmesg | grep -i nvmet | tail -n 3 | tr '\n' ' ')"
	wait_listen "$PORT" "$(scaled 10)" || kl_fail "$P: nvmet-rdma on b not listening on $PORT after $(scaled 10) s"
}

# nvme_connect: a connects to NQN on KL_PEER:PORT over rdma (through /dev/nvme-fabrics,
# which is all `nvme connect` does). Sets CTRL (its /sys/class/nvme dir), NG (the
# namespace's char device /dev/ngXnY, for io_uring passthrough) and connect_ms.
nvme_connect() {
	[ -c /dev/nvme-fabrics ] || kl_fail "no /dev/nvme-fabrics: the kernel lacks CONFIG_NVME_FABRICS"
	HOSTID=$(cat /proc/sys/kernel/random/uuid)
	HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:$HOSTID # a host NQN and ID of one host: fabrics refuses a known ID under another NQN
	t0=$(uptime_cs)
	echo "transport=rdma,traddr=$KL_PEER,trsvcid=$PORT,nqn=$NQN,hostnqn=$HOSTNQN,hostid=$HOSTID" >/dev/nvme-fabrics 2>"$T/connect.err" ||
		kl_fail "$P: connecting to $NQN at $KL_PEER:$PORT over rdma: $(cat "$T/connect.err") $(dmesg | grep -i nvme | tail -n 3 | tr '\n' ' ')"
	for c in /sys/class/nvme/nvme*; do
		[ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$NQN" ] && CTRL=$c
	done
	[ -n "$CTRL" ] || kl_fail "$P: connected, but no controller in /sys/class/nvme has subsysnqn $NQN"
	[ "$(cat "$CTRL/transport")" = rdma ] || kl_fail "$P: ${CTRL##*/} has transport $(cat "$CTRL/transport"), want rdma"
	# The namespace's char device (the guest has no other NVMe: exactly one ng device appears).
	i=0
	while [ $i -lt "$(scaled 10)" ]; do
		ngs=$(ls /dev 2>/dev/null | grep -E '^ng[0-9]+n[0-9]+$')
		[ -n "$ngs" ] && break
		sleep 1
		i=$((i + 1))
	done
	[ -n "$ngs" ] || kl_fail "$P: no /dev/ngXnY for ${CTRL##*/}'s namespace after $(scaled 10) s: $(ls /dev | grep -E '^(nvme|ng)' | tr '\n' ' ')"
	[ "$(echo "$ngs" | wc -l)" = 1 ] || kl_fail "$P: more than one NVMe char device: $(echo "$ngs" | tr '\n' ' ')"
	NG=/dev/$ngs
	connect_ms=$((($(uptime_cs) - t0) * 10))
}
