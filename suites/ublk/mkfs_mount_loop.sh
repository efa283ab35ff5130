#!/bin/sh
# mkfs_mount_loop.sh MODE: mkfs.ext4 on a loop device, mount, write a file
# of random data, unmount, drop caches, mount again: the file reads back
# with the same checksum.
. ./ublk_lib.sh
MODE=$(mode_arg "$1")
need_tool mkfs.ext4

make_file "$T/fs.img" 96
add_dev -t loop -m "$MODE" "$T/fs.img"
mkfs.ext4 -F -q "/dev/ublkb$DEV" >"$T/mkfs.out" 2>&1 ||
	kl_fail "mkfs.ext4 on ublkb$DEV ($MODE): want exit 0, got $?: $(cat "$T/mkfs.out")"

mkdir -p "$T/mnt"
MNT=$T/mnt
umount_mnt() { umount "$MNT" 2>/dev/null; }
trap 'umount_mnt; kl_cleanup' EXIT
mount -t ext4 "/dev/ublkb$DEV" "$MNT" 2>"$T/mount.err" ||
	kl_fail "mount ext4 from ublkb$DEV: want success, got: $(cat "$T/mount.err")"

dd if=/dev/urandom of="$T/data" bs=1M count=8 2>/dev/null
want=$(md5sum <"$T/data" | cut -d' ' -f1)
cp "$T/data" "$MNT/data" || kl_fail "copy 8 MiB into the ext4 mount failed"
mkdir -p "$MNT/dir" && echo hello >"$MNT/dir/small" || kl_fail "mkdir/write on ext4 failed"
sync
umount "$MNT" || kl_fail "umount ext4 on ublkb$DEV failed"
echo 3 >/proc/sys/vm/drop_caches

mount -t ext4 "/dev/ublkb$DEV" "$MNT" 2>"$T/mount.err" ||
	kl_fail "second mount of ublkb$DEV: want success, got: $(cat "$T/mount.err")"
got=$(md5sum <"$MNT/data" | cut -d' ' -f1)
[ "$got" = "$want" ] || kl_fail "file read back after remount: want md5 $want, got $got"
[ "$(cat "$MNT/dir/small")" = hello ] || kl_fail "small file after remount: want 'hello', got '$(cat "$MNT/dir/small")'"
umount "$MNT" || kl_fail "final umount failed"
del_dev "$DEV"
kl_info "ext4 on loop/$MODE: mkfs, mount, 8 MiB write, remount, md5 $got matches"
exit 0
