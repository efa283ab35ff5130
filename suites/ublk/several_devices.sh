#!/bin/sh
# several_devices.sh: three devices served at once (loop/copy,
# loop/user-copy, null/copy, each its own server process) with verified fio
# on both loops and plain IO on null in parallel; all must succeed and stay
# LIVE, and deleting one must not disturb the others.
. ./ublk_lib.sh
need_tool fio

make_file "$T/a.img" 32
make_file "$T/b.img" 32
add_dev -t loop -m copy "$T/a.img"
A=$DEV
UC=user-copy
"$KL_UBLK" features 2>/dev/null | grep -q "^mode user-copy: ok" || UC=copy
add_dev -t loop -m $UC -q 2 "$T/b.img"
B=$DEV
add_dev -t null -m copy -s 64
N=$DEV
[ "$A" != "$B" ] && [ "$B" != "$N" ] && [ "$A" != "$N" ] ||
	kl_fail "want three distinct device ids, got $A $B $N"

vf="--rw=randwrite --direct=1 --ioengine=libaio --iodepth=8 --bs=8k --size=16M --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0"
run_fio va --filename="/dev/ublkb$A" $vf &
pa=$!
run_fio vb --filename="/dev/ublkb$B" $vf &
pb=$!
run_fio vn --filename="/dev/ublkb$N" --rw=randrw --direct=1 --ioengine=io_uring \
	--iodepth=16 --bs=16k --size=32M &
pn=$!
BG_PIDS="$pa $pb $pn"
wait $pa || kl_fail "verify fio on loop/copy ublkb$A: want 0, got $?: $(fio_log va)"
wait $pb || kl_fail "verify fio on loop/$UC ublkb$B: want 0, got $?: $(fio_log vb)"
wait $pn || kl_fail "fio on null ublkb$N: want 0, got $?: $(fio_log vn)"
BG_PIDS=""
for d in $A $B $N; do
	st=$(dev_state $d)
	[ "$st" = LIVE ] || kl_fail "dev $d after parallel IO: want LIVE, got '$st'"
done

del_dev "$B"
dd if="/dev/ublkb$A" of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null ||
	kl_fail "ublkb$A stopped working after ublkb$B was deleted"
[ "$(dev_state $N)" = LIVE ] || kl_fail "dev $N not LIVE after dev $B was deleted"
del_dev "$A"
del_dev "$N"
kl_info "3 devices (loop/copy, loop/$UC, null/copy) served in parallel; verify passed"
exit 0
