#!/bin/sh
# One liburing test under liburing's own runner rules (liburing 2.3 test/runtests.sh),
# told in the lab's terms (suites/README.md): exit 0 pass, 4 skip, anything else fail.
#   lu-run.sh <test> [device or file]
# - timeout: runtests.sh runs `timeout -s INT -k 60 60 ./<test>.t` (TIMEOUT=60); here the
#   same GNU timeout, both figures scaled by KL_SCALE like every lab timeout. runtests.sh
#   calls a timeout "may not be a failure" and lists it apart; the lab has no such
#   status, so it fails with that note and the base's expected-results list says which
#   tests are known to run out of time (expected/<base>.json).
# - exit 77 (T_EXIT_SKIP) is liburing's skip; the test's last output line is the reason.
# - cwd: runtests.sh runs in the test directory, where the tests make their scratch
#   files: on a disk filesystem, on a test machine. tmpfs is not one (RWF_NOWAIT reads
#   fail there with EOPNOTSUPP), so the run's blank scratch disk (/dev/vda, 256 MiB, the
#   only disk the lab gives the guest, used by no other suite) is made an ext4 once per
#   boot and each test runs in its own directory on it, with exec-target.t beside it
#   (timeout.c execs ./exec-target.t). Without the disk: $KL_TMP (tmpfs).
# - the dmesg check (WARNING, BUG, Oops, lockdep...) is the host's: kernel reports are
#   charged to the test that was running and fail the run.
# - TEST_EXCLUDE (config.local) is empty in liburing 2.3 and Debian sets none: no test
#   is excluded; a device argument (TEST_FILES/TEST_MAP) is given only if the manifest says.
# - the machine: runtests.sh expects a normal system, so loopback is brought up (below).
name=$1
[ -n "$name" ] || { echo "FAIL: usage: lu-run.sh <test> [file]"; exit 2; }
shift
dir=$(cd "$(dirname "$0")" && pwd)
bin="$dir/$name.t"
[ -x "$bin" ] || { echo "FAIL: $bin is not in the image"; exit 2; }
# LU_TIMEOUT_S and LU_DISK exist for the lab's own test of this script (test/unit/liburing.test.ts).
tmo=$((${LU_TIMEOUT_S:-60} * ${KL_SCALE:-1}))
mnt=/mnt/liburing dev=${LU_DISK:-/dev/vda}
if ! grep -q " $mnt " /proc/mounts && [ -b $dev ] && ! grep -q "^$dev " /proc/mounts; then
	mkdir -p $mnt && mkfs.ext4 -q -F $dev > /dev/null 2>&1 && mount -t ext4 $dev $mnt
fi
if grep -q " $mnt " /proc/mounts; then work=$mnt/$name; else work=${KL_TMP:-/tmp/lu-$name}; fi
rm -rf "$work"; mkdir -p "$work" && cd "$work" || { echo "FAIL: cannot enter $work"; exit 2; }
ln -sf "$dir/exec-target.t" exec-target.t
# liburing's network tests bind and connect on 127.0.0.1: a test machine has loopback up,
# the lab's guest does not bring it up by itself.
ip link set lo up 2>/dev/null
out="$work/.lu-out"
timeout -s INT -k "$tmo" "$tmo" "$bin" "$@" > "$out" 2>&1
rc=$?
cat "$out"
last=$(grep -v '^[[:space:]]*$' "$out" | tail -n 1 | cut -c1-200)
cd / && case $work in $mnt/*) rm -rf "$work" ;; esac
case $rc in
0) exit 0 ;;
77) echo "SKIP: ${last:-liburing test skipped (exit 77)}"; exit 4 ;;
124) echo "FAIL: timed out after ${tmo}s (liburing runtests.sh: may not be a failure)"; exit 1 ;;
*) echo "FAIL: exit $rc${last:+: $last}"; exit 1 ;;
esac
