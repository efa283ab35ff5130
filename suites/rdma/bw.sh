#!/bin/sh
# bw.sh rxe|siw write|read [SIZE]: perftest's ib_write_bw / ib_read_bw between a server
# and a client in one guest over the provider on eth0 (connection through the RDMA CM, -R),
# SIZE-byte messages: both sides finish, the client's report counts every iteration, and
# the log gets perftest's average and the wall time. Under TCG the figures say nothing
# about RDMA speed; rdma-perf compares them with TCP on the same link.
. ./rdma_lib.sh
P=$(provider_arg "$1")
case "$2" in write | read) OP=$2 ;; *) kl_fail "usage: $0 rxe|siw write|read [SIZE] (got '$2')" ;; esac
SIZE=${3:-65536}
link_add "$P"
PORT=18515
ITERS=200

"ib_${OP}_bw" -d "$DEV" -R -F -p $PORT -s "$SIZE" -n $ITERS >"$T/server" 2>&1 &
SRV=$!
BG_PIDS="$SRV"
wait_listen $PORT "$(scaled 10)" $SRV || kl_fail "$P: ib_${OP}_bw server not listening after $(scaled 10) s: $(tr '\n' ' ' <"$T/server" | cut -c1-300)"
perftest_client "$(scaled 30)" "$T/client" "ib_${OP}_bw" -d "$DEV" -R -F -p $PORT -s "$SIZE" -n $ITERS "$KL_ADDR"
[ $PT_RC = 0 ] || kl_fail "$P: ib_${OP}_bw client: exit $PT_RC: $(tail -n 5 "$T/client" | tr '\n' ' ' | cut -c1-300)"
i=0
while kill -0 $SRV 2>/dev/null && [ $i -lt "$(scaled 10)" ]; do sleep 1; i=$((i + 1)); done
kill -0 $SRV 2>/dev/null && kl_fail "$P: ib_${OP}_bw server still running after the client finished"
wait $SRV || kl_fail "$P: ib_${OP}_bw server failed: $(tail -n 5 "$T/server" | tr '\n' ' ' | cut -c1-300)"
BG_PIDS=""
bw=$(bw_result "$T/client" "$SIZE" $ITERS) || { echo "$bw"; exit 1; } # its FAIL line
kl_info "$P: ib_${OP}_bw $SIZE B x $ITERS: $bw (TCG)"
exit 0
