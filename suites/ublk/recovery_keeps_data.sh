#!/bin/sh
# recovery_keeps_data.sh MODE: UBLK_F_USER_RECOVERY. Write data, kill -9
# the server: the device goes QUIESCED (not DEAD) and IO issued meanwhile
# waits. "kl-ublk recover" (START_USER_RECOVERY, new server,
# END_USER_RECOVERY) brings it back LIVE under a new pid; the data written
# before the kill and the read queued during the outage are intact.
. ./ublk_lib.sh
MODE=$(mode_arg "$1")

make_file "$T/loop.img" 32
add_dev -t loop -q 2 -m "$MODE" --recovery "$T/loop.img"
pid=$(dev_pid "$DEV")
B=/dev/ublkb$DEV

dd if=/dev/urandom of="$T/data" bs=1M count=8 2>/dev/null
want=$(md5sum <"$T/data" | cut -d' ' -f1)
dd if="$T/data" of="$B" bs=1M count=8 conv=fsync 2>"$T/dd.err" ||
	kl_fail "write 8 MiB to ublkb$DEV: $(cat "$T/dd.err")"

kill -9 "$pid"
wait_state "$DEV" QUIESCED 15
echo 3 >/proc/sys/vm/drop_caches
# queued while no server runs: must wait, then complete after recovery
dd if="$B" bs=1M count=8 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1 >"$T/queued.md5" &
rd_pid=$!
BG_PIDS="$rd_pid"
sleep 1
proc_gone "$rd_pid" && kl_info "note: read during QUIESCED finished before recovery"

"$KL_UBLK" recover -n "$DEV" >"$T/recover.out" 2>&1 ||
	kl_fail "kl-ublk recover -n $DEV: want exit 0, got $?: $(cat "$T/recover.out") $(server_log "$DEV")"
wait_state "$DEV" LIVE 10
npid=$(dev_pid "$DEV")
[ "$npid" != "$pid" ] || kl_fail "after recovery: want a new server pid, still $pid"

wait_gone "$rd_pid" 20 "read queued during the outage"
got=$(cat "$T/queued.md5")
[ "$got" = "$want" ] || kl_fail "read queued during the outage: want md5 $want, got '$got'"
echo 3 >/proc/sys/vm/drop_caches
got=$(dd if="$B" bs=1M count=8 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$got" = "$want" ] || kl_fail "data after recovery: want md5 $want, got $got"
got=$(dd if="$T/loop.img" bs=1M count=8 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$got" = "$want" ] || kl_fail "backing file after recovery: want md5 $want, got $got"

# the recovered server serves new writes too
dd if=/dev/urandom of="$T/data2" bs=1M count=2 2>/dev/null
want2=$(md5sum <"$T/data2" | cut -d' ' -f1)
dd if="$T/data2" of="$B" bs=1M seek=8 count=2 conv=fsync 2>/dev/null ||
	kl_fail "write after recovery failed"
echo 3 >/proc/sys/vm/drop_caches
got=$(dd if="$B" bs=1M skip=8 count=2 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$got" = "$want2" ] || kl_fail "write+read after recovery: want md5 $want2, got $got"
del_dev "$DEV"
kl_info "dev $DEV ($MODE): killed server $pid, recovered as $npid, 8 MiB intact (md5 $want)"
exit 0
