#!/bin/sh
# del_under_io.sh MODE: delete a 2-queue loop device while fio runs on it.
# kl-ublk del (STOP_DEV + DEL_DEV) must return in bounded time, fio must
# end with an error, the server must exit and the disk must be gone.
. ./ublk_lib.sh
MODE=$(mode_arg "$1")
need_tool fio

make_file "$T/loop.img" 64
add_dev -t loop -q 2 -m "$MODE" "$T/loop.img"
pid=$(dev_pid "$DEV")

run_fio load --filename="/dev/ublkb$DEV" --rw=randrw --direct=1 \
	--ioengine=io_uring --iodepth=32 --bs=4k --size=48M \
	--time_based --runtime=$(scaled 60) &
fio_pid=$!
BG_PIDS="$fio_pid"
wait_io "$DEV" 2000 30
proc_gone "$fio_pid" && kl_fail "fio ended before the delete: $(fio_log load)"

"$KL_UBLK" del -n "$DEV" >"$T/del.out" 2>&1 &
del_pid=$!
BG_PIDS="$fio_pid $del_pid"
wait_gone "$del_pid" 30 "kl-ublk del of a busy device"
wait "$del_pid" || kl_fail "kl-ublk del under IO: want exit 0, got $?: $(cat "$T/del.out")"
DEVS=""
wait_gone "$fio_pid" 20 "fio on a deleted device"
wait "$fio_pid"
rc=$?
[ $rc -ne 0 ] || kl_fail "fio on a deleted device: want a non-zero exit, got 0: $(fio_log load)"
[ -e "/sys/block/ublkb$DEV" ] && kl_fail "after del: want /sys/block/ublkb$DEV gone, still there"
wait_gone "$pid" 10 "server of deleted dev $DEV"
kl_info "dev $DEV deleted under IO: del ok, fio failed with $rc, server exited"
exit 0
