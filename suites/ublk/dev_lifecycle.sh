#!/bin/sh
# dev_lifecycle.sh MODE: add a null device (ADD_DEV, SET_PARAMS, START_DEV),
# see it LIVE with a disk of the requested size that reads, then delete it
# (STOP_DEV, DEL_DEV): disk, control entry and server process all go away.
. ./ublk_lib.sh
MODE=$(mode_arg "$1")

add_dev -t null -m "$MODE" -s 64
st=$(dev_state "$DEV")
[ "$st" = LIVE ] || kl_fail "dev $DEV after add: want state LIVE, got '$st'"
pid=$(dev_pid "$DEV")
[ -n "$pid" ] && [ "$pid" -gt 0 ] || kl_fail "dev $DEV: want a server pid > 0, got '$pid'"

sectors=$(cat "/sys/block/ublkb$DEV/size")
[ "$sectors" = $((64 * 2048)) ] ||
	kl_fail "ublkb$DEV size: want $((64 * 2048)) sectors, got '$sectors'"
dd if="/dev/ublkb$DEV" of=/dev/null bs=64k count=16 2>"$T/dd.err" ||
	kl_fail "read of a live device: want success, got: $(cat "$T/dd.err")"

del_dev "$DEV"
"$KL_UBLK" list -n "$DEV" >/dev/null 2>&1 &&
	kl_fail "dev $DEV after del: want GET_DEV_INFO to fail, it still answers"
[ -e "/sys/block/ublkb$DEV" ] &&
	kl_fail "after del: want /sys/block/ublkb$DEV gone, it is still there"
wait_gone "$pid" 5 "server of deleted dev $DEV"
kl_info "dev $DEV ($MODE): add -> LIVE -> del, server $pid exited"
exit 0
