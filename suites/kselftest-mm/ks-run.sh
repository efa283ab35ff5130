#!/bin/sh
# ks-run.sh <program> [args]: one kselftest program, as run_vmtests.sh runs it: with
# 256 MiB of huge pages of the default size reserved (its hugetlb cases skip without),
# and with swap (a 256 MiB zram device: cow's swapped-out cases need MADV_PAGEOUT to
# work), both undone afterwards. The program's own KTAP goes out as it is; its exit code
# (kselftest's: 0 pass, 1 fail, 4 skip) is the test's.
prog=$1
shift
before=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null)
size_kb=$(sed -n 's/^Hugepagesize: *\([0-9]*\) kB$/\1/p' /proc/meminfo)
if [ -n "$before" ] && [ -n "$size_kb" ]; then
	echo $(( 256 * 1024 / size_kb )) > /proc/sys/vm/nr_hugepages
	echo "# ks-run: $(sed -n 's/^HugePages_Free: *//p' /proc/meminfo) free huge pages of ${size_kb} kB"
fi
swap=
if [ -e /sys/block/zram0/disksize ] && ! grep -q '^/dev/zram0 ' /proc/swaps; then
	if echo 256M > /sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && swapon /dev/zram0; then
		swap=/dev/zram0
		echo "# ks-run: swap on zram0, $(sed -n 's/^SwapTotal: *//p' /proc/meminfo)"
	else
		echo "# ks-run: zram0 could not be made swap: the swapped-out cases will skip"
	fi
fi
./"$prog" "$@"
rc=$?
if [ -n "$swap" ]; then
	swapoff "$swap"
	echo 1 > /sys/block/zram0/reset
fi
[ -n "$before" ] && echo "$before" > /proc/sys/vm/nr_hugepages
exit $rc
