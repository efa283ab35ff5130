#!/bin/sh
# rping_pair.sh rxe|siw [SIZE] [COUNT]: two guests on one link, the provider on each one's
# eth0: guest b serves rping on its address, guest a pings it COUNT times with SIZE bytes,
# both sides verifying every RDMA READ and WRITE (-V); a's client accounts for every ping
# and b's server ends cleanly once a is done.
. ./rdma_lib.sh
P=$(provider_arg "$1")
SIZE=${2:-4096}
COUNT=${3:-20}
need_pair
link_add "$P"
PORT=7176
if [ "$KL_ROLE" = b ]; then
	rping -s -a "$KL_ADDR" -p $PORT -C "$COUNT" -S "$SIZE" -V >"$T/server" 2>&1 &
	SRV=$!
	BG_PIDS="$SRV"
	wait_listen $PORT "$(scaled 10)" $SRV || kl_fail "$P: rping server on b not listening after $(scaled 10) s: $(tr '\n' ' ' <"$T/server" | cut -c1-300)"
	kl_barrier listening
	kl_barrier done "$(scaled 60)"
	i=0
	while kill -0 $SRV 2>/dev/null && [ $i -lt "$(scaled 10)" ]; do sleep 1; i=$((i + 1)); done
	kill -0 $SRV 2>/dev/null && kl_fail "$P: rping server on b still running after a's client finished"
	wait $SRV
	rc=$?
	BG_PIDS=""
	[ $rc = 0 ] || kl_fail "$P: rping server on b exited $rc: $(tr '\n' ' ' <"$T/server" | cut -c1-300)"
	kl_info "$P: b served $COUNT pings of $SIZE B"
	exit 0
fi
kl_barrier listening
timeout "$(scaled 30)" rping -c -a "$KL_PEER" -p $PORT -C "$COUNT" -S "$SIZE" -V -v >"$T/client" 2>&1
rc=$?
kl_barrier done
[ $rc = 0 ] || kl_fail "$P: rping client on a to $KL_PEER exited $rc after $(grep -c '^ping data: ' "$T/client") ping(s): $(why_out "$T/client")"
pings=$(grep -c '^ping data: ' "$T/client")
[ "$pings" = "$COUNT" ] || kl_fail "$P: a's client printed $pings pings, want $COUNT"
kl_info "$P: a pinged $KL_PEER $COUNT times with $SIZE B, verified"
exit 0
