#!/bin/sh
# bw_pair.sh rxe|siw write|read [SIZE]: perftest between two guests on one link: guest b
# runs the ib_<op>_bw server, guest a the client to b's address (RDMA CM, -R); both finish
# and a's report counts every iteration (perftest's figure and the wall time are logged:
# TCG figures).
. ./rdma_lib.sh
P=$(provider_arg "$1")
case "$2" in write | read) OP=$2 ;; *) kl_fail "usage: $0 rxe|siw write|read [SIZE] (got '$2')" ;; esac
SIZE=${3:-65536}
need_pair
link_add "$P"
PORT=18516
ITERS=200
if [ "$KL_ROLE" = b ]; then
	"ib_${OP}_bw" -d "$DEV" -R -F -p $PORT -s "$SIZE" -n $ITERS >"$T/server" 2>&1 &
	SRV=$!
	BG_PIDS="$SRV"
	wait_listen $PORT "$(scaled 10)" $SRV || kl_fail "$P: ib_${OP}_bw server on b not listening after $(scaled 10) s: $(tr '\n' ' ' <"$T/server" | cut -c1-300)"
	kl_barrier listening
	kl_barrier done "$(scaled 90)"
	i=0
	while kill -0 $SRV 2>/dev/null && [ $i -lt "$(scaled 10)" ]; do sleep 1; i=$((i + 1)); done
	kill -0 $SRV 2>/dev/null && kl_fail "$P: ib_${OP}_bw server on b still running after a's client finished"
	wait $SRV || kl_fail "$P: ib_${OP}_bw server on b failed: $(tail -n 5 "$T/server" | tr '\n' ' ' | cut -c1-300)"
	BG_PIDS=""
	kl_info "$P: b served ib_${OP}_bw"
	exit 0
fi
kl_barrier listening
perftest_client "$(scaled 30)" "$T/client" "ib_${OP}_bw" -d "$DEV" -R -F -p $PORT -s "$SIZE" -n $ITERS "$KL_PEER"
kl_barrier done
[ $PT_RC = 0 ] || kl_fail "$P: ib_${OP}_bw client on a to $KL_PEER: exit $PT_RC: $(tail -n 5 "$T/client" | tr '\n' ' ' | cut -c1-300)"
bw=$(bw_result "$T/client" "$SIZE" $ITERS) || { echo "$bw"; exit 1; } # its FAIL line
kl_info "$P: ib_${OP}_bw a -> b $SIZE B x $ITERS: $bw (TCG)"
exit 0
