# Sourced by the ublk suite's test scripts (busybox sh). Not a test itself.
#
# Every device a test adds is deleted on exit, whatever happened; every
# wait is bounded (scaled by KL_SCALE, >1 under TCG) so a kernel that hangs
# shows up as a FAIL with a reason, not as a harness timeout.

KL_UBLK=${KL_UBLK:-kl-ublk}
T=${KL_TMP:-/tmp}
SCALE=${KL_SCALE:-1}
DEVS=""
BG_PIDS=""

kl_fail() { echo "FAIL: $*"; exit 1; }
kl_skip() { echo "SKIP: $*"; exit 4; }
kl_info() { echo "$*"; }

# whole seconds, scaled; at least the unscaled value
scaled() { echo $(( $1 * ${SCALE%%.*} > $1 ? $1 * ${SCALE%%.*} : $1 )); }

kl_cleanup() {
	for p in $BG_PIDS; do kill -9 "$p" 2>/dev/null; done
	for id in $DEVS; do "$KL_UBLK" del -n "$id" >/dev/null 2>&1; done
	return 0
}
trap kl_cleanup EXIT

need_tool() {
	command -v "$1" >/dev/null 2>&1 || kl_skip "$1 is not in the guest"
}

# Map a test's mode argument to kl-ublk's -m value.
mode_arg() {
	case "$1" in
	copy|user-copy|fused-zc|reg-zc|auto-zc) echo "$1" ;;
	*) kl_fail "unknown mode '$1' (want copy, user-copy, fused-zc, reg-zc, auto-zc)" ;;
	esac
}

# add_dev ARGS...: kl-ublk add; sets DEV. Exit 4 from kl-ublk is a SKIP.
add_dev() {
	_out=$("$KL_UBLK" add "$@" 2>"$T/add.err")
	_rc=$?
	case $_rc in
	0) ;;
	4) kl_skip "${_out#SKIP: }" ;;
	*) kl_fail "kl-ublk add $*: want exit 0, got $_rc: $(cat "$T/add.err") $_out" ;;
	esac
	DEV=$_out
	DEVS="$DEVS $DEV"
	[ -b "/dev/ublkb$DEV" ] ||
		kl_fail "kl-ublk add returned dev $DEV but /dev/ublkb$DEV is not a block device"
}

del_dev() {
	"$KL_UBLK" del -n "$1" 2>"$T/del.err" ||
		kl_fail "kl-ublk del -n $1: want exit 0, got $?: $(cat "$T/del.err")"
	_keep=""
	for _d in $DEVS; do [ "$_d" = "$1" ] || _keep="$_keep $_d"; done
	DEVS=$_keep
}

# field ID NAME: one field of "kl-ublk list -n ID" (state, pid, ...)
dev_field() {
	"$KL_UBLK" list -n "$1" 2>/dev/null |
		sed -n "s/.* $2 \([^ ]*\).*/\1/p"
}

dev_state() { dev_field "$1" state; }
dev_pid() { dev_field "$1" pid; }

# wait_state ID STATE SECONDS
wait_state() {
	_n=$(scaled "$3")
	_i=0
	while [ $_i -lt $((_n * 5)) ]; do
		[ "$(dev_state "$1")" = "$2" ] && return 0
		sleep 0.2
		_i=$((_i + 1))
	done
	kl_fail "dev $1: want state $2 within ${_n}s, got '$(dev_state "$1")'"
}

# A process is gone when it has exited (a zombie counts: init may not reap).
proc_gone() {
	[ -d "/proc/$1" ] || return 0
	grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# wait_gone PID SECONDS WHAT
wait_gone() {
	_n=$(scaled "$2")
	_i=0
	while [ $_i -lt $((_n * 5)) ]; do
		proc_gone "$1" && return 0
		sleep 0.2
		_i=$((_i + 1))
	done
	kl_fail "$3 (pid $1) still running after ${_n}s: hang"
}

# make_file PATH MiB: sparse backing file on tmpfs
make_file() {
	rm -f "$1"
	truncate -s "$2M" "$1" 2>/dev/null ||
		dd if=/dev/zero of="$1" bs=1M count=0 seek="$2" 2>/dev/null ||
		kl_fail "cannot create $2 MiB backing file $1"
}

# run_fio NAME ARGS...: fio with its report in $T/NAME.fio and its error
# lines (one per failed IO when a device dies) in $T/NAME.err
run_fio() {
	_name=$1
	shift
	fio --name="$_name" --output="$T/$_name.fio" "$@" 2>"$T/$_name.err"
}

fio_log() {
	head -n 5 "$T/$1.err" 2>/dev/null
	tail -n 25 "$T/$1.fio" 2>/dev/null
}

# wait_io ID N SECONDS: until ublkbID has completed N more IOs than now,
# so "under IO" really means IO is flowing, however slow the guest starts fio
io_count() { awk '{ print $1 + $5 }' "/sys/block/ublkb$1/stat" 2>/dev/null || echo 0; }
wait_io() {
	_base=$(io_count "$1")
	_n=$(scaled "$3")
	_i=0
	while [ $_i -lt $((_n * 10)) ]; do
		[ $(($(io_count "$1") - _base)) -ge "$2" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	kl_fail "ublkb$1: want $2 IOs completed within ${_n}s, got $(($(io_count "$1") - _base))"
}

server_log() {
	[ -f "/tmp/.kl-ublk/$1.log" ] && tail -n 20 "/tmp/.kl-ublk/$1.log"
}
