#!/bin/sh
# unreachable_fails.sh rxe|siw: an rping client to an address nobody on the link has
# fails with an error within a bound (address resolution times out), never hangs.
. ./rdma_lib.sh
P=$(provider_arg "$1")
link_add "$P"
PEER=${KL_ADDR%.*}.99
t0=$(date +%s)
timeout "$(scaled 30)" rping -c -a "$PEER" -p 7175 -C 1 -S 64 >"$T/client" 2>&1
rc=$?
dt=$(($(date +%s) - t0))
{ [ $rc = 124 ] || [ $rc = 143 ]; } && kl_fail "$P: rping to $PEER still running after $(scaled 30) s"
[ $rc = 0 ] && kl_fail "$P: rping to $PEER (no such host) succeeded"
kl_info "$P: rping to $PEER failed with $rc after ${dt}s: $(tr '\n' ' ' <"$T/client" | cut -c1-160)"
exit 0
