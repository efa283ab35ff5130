#!/bin/sh
# link_up.sh rxe|siw: the soft RDMA provider attaches to eth0; `rdma link` lists it on
# eth0, ibv_devinfo (through the provider plugin libibverbs loads) shows its port
# PORT_ACTIVE, and its GID table holds eth0's address. Deleting the link removes the device.
. ./rdma_lib.sh
P=$(provider_arg "$1")
link_add "$P"

rdma link show "$DEV/1" >"$T/link" 2>&1 || kl_fail "rdma link show $DEV/1: $(cat "$T/link")"
grep -q "netdev eth0" "$T/link" || kl_fail "rdma link show $DEV/1: want 'netdev eth0', got: $(cat "$T/link")"
grep -q "state ACTIVE" "$T/link" || kl_fail "rdma link show $DEV/1: want 'state ACTIVE', got: $(cat "$T/link")"
ibv_devinfo -d "$DEV" >"$T/devinfo" 2>&1 || kl_fail "ibv_devinfo -d $DEV: $(tail -n 1 "$T/devinfo")"
grep -q "transport:[[:space:]]*$([ "$P" = siw ] && echo iWARP || echo InfiniBand)" "$T/devinfo" ||
	kl_fail "ibv_devinfo -d $DEV: wrong transport: $(grep transport "$T/devinfo")"

# eth0's IPv4 address as an IPv4-mapped GID: ::ffff:a.b.c.d
want=$(echo "$KL_ADDR" | awk -F. '{ printf "0000:0000:0000:0000:0000:ffff:%02x%02x:%02x%02x", $1, $2, $3, $4 }')
found=0
for g in /sys/class/infiniband/"$DEV"/ports/1/gids/*; do
	[ "$(cat "$g" 2>/dev/null)" = "$want" ] && found=1
done
if [ "$P" = rxe ]; then
	[ $found = 1 ] || kl_fail "$DEV: no GID $want for $KL_ADDR in its GID table: $(cat /sys/class/infiniband/"$DEV"/ports/1/gids/* 2>/dev/null | grep -v '^0000:0000:0000:0000:0000:0000:0000:0000$' | tr '\n' ' ')"
fi

rdma link delete "$DEV" 2>"$T/del.err" || kl_fail "rdma link delete $DEV: $(cat "$T/del.err")"
[ -e "/sys/class/infiniband/$DEV" ] && kl_fail "$DEV still in /sys/class/infiniband after rdma link delete"
DEV=""
kl_info "$P: attached to eth0, port ACTIVE, deleted"
exit 0
