#!/bin/sh
# fio_randio_loop.sh MODE: the ublk-perf case that broke reg-zc, as a bounded
# functional test. 1-queue, depth-64 loop device on a 128 MiB tmpfs file,
# fio 4k random read, then random write, io_uring qd32, direct, a few seconds
# each. Every IO must succeed and fio must end in bounded time (a failed or
# leaked request used to leave fio waiting forever).
#
# The server runs with --poison-sqes: each SQE is overwritten as soon as the
# kernel has consumed it, so a kernel that reads a linked request's SQE only
# when the request is issued (UNREGISTER_IO_BUF behind a READ_FIXED punted to
# io-wq, as on tmpfs) fails every time, not once in a long benchmark.
. ./ublk_lib.sh
MODE=$(mode_arg "$1")
need_tool fio

make_file "$T/loop.img" 128
add_dev -t loop -q 1 -d 64 -m "$MODE" --poison-sqes "$T/loop.img"
pid=$(dev_pid "$DEV")

# run_bounded NAME RW: fio on the device; FAIL on an IO error or a hang
run_bounded() {
	run_fio "$1" --filename="/dev/ublkb$DEV" --rw="$2" --bs=4k \
		--ioengine=io_uring --iodepth=32 --direct=1 --size=96M \
		--time_based --runtime=4 &
	_fio=$!
	BG_PIDS="$_fio"
	_n=$(scaled 60)
	_i=0
	while [ $_i -lt $((_n * 5)) ] && ! proc_gone "$_fio"; do
		sleep 0.2
		_i=$((_i + 1))
	done
	if ! proc_gone "$_fio"; then
		# kill the server too: a leaked request would block the delete
		kill -9 "$_fio" "$pid" 2>/dev/null
		kl_fail "fio $2 4k qd32 on loop/$MODE still running after ${_n}s: hang;" \
			"server log: $(server_log "$DEV") $(fio_log "$1")"
	fi
	wait "$_fio"
	_rc=$?
	BG_PIDS=""
	[ $_rc -eq 0 ] ||
		kl_fail "fio $2 4k qd32 on loop/$MODE: want exit 0, got $_rc: $(fio_log "$1");" \
			"server log: $(server_log "$DEV")"
	grep -q "err= 0" "$T/$1.fio" ||
		kl_fail "fio $2 on loop/$MODE reported IO errors: $(fio_log "$1")"
	[ "$(dev_state "$DEV")" = LIVE ] ||
		kl_fail "after fio $2: want dev $DEV LIVE, got '$(dev_state "$DEV")'"
}

run_bounded read randread
run_bounded write randwrite
del_dev "$DEV"
kl_info "4k randread + randwrite, io_uring qd32, 4 s each on loop/$MODE (SQEs poisoned after submit): no IO error"
exit 0
