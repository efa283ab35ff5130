#!/bin/sh
# kill_server_under_io.sh MODE: kill -9 the server while fio runs on a
# 2-queue loop device (no --recovery). The driver must mark the device
# DEAD, the outstanding and later IO must fail (fio exits non-zero) in
# bounded time, and the dead device must still delete cleanly.
. ./ublk_lib.sh
MODE=$(mode_arg "$1")
need_tool fio

make_file "$T/loop.img" 64
add_dev -t loop -q 2 -m "$MODE" "$T/loop.img"
pid=$(dev_pid "$DEV")

run_fio load --filename="/dev/ublkb$DEV" --rw=randrw --direct=1 \
	--ioengine=libaio --iodepth=32 --bs=4k --size=48M \
	--time_based --runtime=$(scaled 60) &
fio_pid=$!
BG_PIDS="$fio_pid"
wait_io "$DEV" 2000 30
proc_gone "$fio_pid" && kl_fail "fio ended before the kill: $(fio_log load)"

kill -9 "$pid"
wait_state "$DEV" DEAD 15
wait_gone "$fio_pid" 20 "fio on ublkb$DEV after the server was killed"
wait "$fio_pid"
rc=$?
[ $rc -ne 0 ] || kl_fail "fio after server kill: want a non-zero exit (IO errors), got 0: $(fio_log load)"
dd if="/dev/ublkb$DEV" of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null &&
	kl_fail "read from a DEAD device: want an error, it succeeded"
del_dev "$DEV"
kl_info "server $pid killed under IO: dev DEAD, fio failed with $rc, device deleted"
exit 0
