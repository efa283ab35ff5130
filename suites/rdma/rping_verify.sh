#!/bin/sh
# rping_verify.sh rxe|siw [SIZE] [COUNT]: rping server and client in one guest over the
# provider on eth0, to eth0's own address (the RDMA CM refuses 127.0.0.1): COUNT pings of
# SIZE bytes, each RDMA READ and WRITE of the ping buffer checked byte for byte (-V) on
# both sides, and every ping accounted for on the client (-v prints each one).
. ./rdma_lib.sh
P=$(provider_arg "$1")
SIZE=${2:-4096}
COUNT=${3:-20}
link_add "$P"
PORT=7174

rping -s -a "$KL_ADDR" -p $PORT -C "$COUNT" -S "$SIZE" -V >"$T/server" 2>&1 &
SRV=$!
BG_PIDS="$SRV"
wait_listen $PORT "$(scaled 10)" $SRV || kl_fail "$P: rping server not listening after $(scaled 10) s: $(tr '\n' ' ' <"$T/server" | cut -c1-300)"
ok=0
timeout "$(scaled 30)" rping -c -a "$KL_ADDR" -p $PORT -C "$COUNT" -S "$SIZE" -V -v >"$T/client" 2>&1 && ok=1
rc=$?
[ $ok = 1 ] || kl_fail "$P: rping client ($SIZE B x $COUNT) exit $rc after $(grep -c '^ping data: ' "$T/client") ping(s): $(why_out "$T/client") / server: $(why_out "$T/server")"
pings=$(grep -c '^ping data: ' "$T/client")
[ "$pings" = "$COUNT" ] || kl_fail "$P: client printed $pings pings, want $COUNT"
i=0
while kill -0 $SRV 2>/dev/null && [ $i -lt "$(scaled 10)" ]; do sleep 1; i=$((i + 1)); done
kill -0 $SRV 2>/dev/null && kl_fail "$P: rping server still running $(scaled 10) s after the client finished"
wait $SRV
rc=$?
BG_PIDS=""
[ $rc = 0 ] || kl_fail "$P: rping server exited $rc: $(tr '\n' ' ' <"$T/server" | cut -c1-300)"
grep -qi "data mismatch\|error" "$T/server" "$T/client" && kl_fail "$P: rping reported: $(grep -hi 'mismatch\|error' "$T/server" "$T/client" | head -n 2 | tr '\n' ' ')"
kl_info "$P: $COUNT pings of $SIZE B verified on $KL_ADDR"
exit 0
