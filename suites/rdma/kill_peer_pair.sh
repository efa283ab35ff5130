#!/bin/sh
# kill_peer_pair.sh rxe|siw: guest b's QEMU is killed (the host, at a's request) in the
# middle of a 120 s stream of RDMA WRITEs from a to b: a's writer ends with an error within a
# bound (its retries run out), not a hang. The transport retry count is 6: rxe takes the
# usual 7 as "retry for ever" (rxe_comp.c), so with 7 a dead peer never fails an rxe stream
# (suites/rdma/README.md). The last two-guest test of the suite: b is gone after it.
. ./rdma_lib.sh
P=$(provider_arg "$1")
need_pair
link_add "$P"
PORT=7178
echo 4 > /proc/sys/net/ipv4/tcp_retries2
if [ "$KL_ROLE" = b ]; then
	ib_write_bw -d "$DEV" -R -F -p $PORT -s 65536 -D 120 --retry_count 6 >"$T/server" 2>&1 &
	BG_PIDS=$!
	wait_listen $PORT "$(scaled 10)" || kl_fail "$P: ib_write_bw server on b not listening"
	kl_barrier listening
	sleep "$(scaled 150)" # killed by the host long before this
	kl_fail "guest b was not killed"
fi
kl_barrier listening
ib_write_bw -d "$DEV" -R -F -p $PORT -s 65536 -D 120 --retry_count 6 "$KL_PEER" >"$T/client" 2>&1 &
CLI=$!
BG_PIDS="$CLI"
sleep 5
kill -0 $CLI 2>/dev/null || kl_fail "$P: the write stream ended before b was killed: $(tr '\n' ' ' <"$T/client" | cut -c1-300)"
kl_ctl kill-peer "$(scaled 60)"
t0=$(date +%s)
BOUND=$(scaled 60)
wait_exit $CLI "$BOUND" || kl_fail "$P: the write stream still running $BOUND s after b was killed (a hang)"
BG_PIDS=""
[ "$WAIT_RC" = 0 ] && kl_fail "$P: a write stream to a killed guest succeeded"
kl_info "$P: b killed; a's write stream failed after $(($(date +%s) - t0))s (exit $WAIT_RC: $(grep -i -m1 'error\|fail' "$T/client" | cut -c1-100))"
exit 0
