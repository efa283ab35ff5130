#!/bin/sh
# fio_verify_loop.sh MODE: crc32c-verified random writes through a 2-queue
# loop device (backing file on tmpfs), read back and verified: 4 KiB blocks,
# then 64 KiB - 1 MiB blocks (larger than the 512 KiB max IO, so the block
# layer splits them and one request spans many pages).
. ./ublk_lib.sh
MODE=$(mode_arg "$1")
need_tool fio

make_file "$T/loop.img" 64
add_dev -t loop -q 2 -m "$MODE" "$T/loop.img"
run_fio verify --filename="/dev/ublkb$DEV" --rw=randwrite --direct=1 \
	--ioengine=libaio --iodepth=16 --bs=4k --size=24M --verify=crc32c \
	--do_verify=1 --verify_fatal=1 --verify_state_save=0 ||
	kl_fail "fio crc32c randwrite+verify on ublkb$DEV ($MODE): want exit 0, got $?: $(fio_log verify)"
grep -q "err= 0" "$T/verify.fio" ||
	kl_fail "fio reported IO errors: $(fio_log verify)"
run_fio big --filename="/dev/ublkb$DEV" --rw=randwrite --direct=1 \
	--ioengine=io_uring --iodepth=8 --bsrange=64k-1m --size=32M --verify=crc32c \
	--do_verify=1 --verify_fatal=1 --verify_state_save=0 ||
	kl_fail "fio crc32c randwrite+verify, 64k-1m blocks ($MODE): want exit 0, got $?: $(fio_log big)"
grep -q "err= 0" "$T/big.fio" ||
	kl_fail "fio reported IO errors: $(fio_log big)"
del_dev "$DEV"
kl_info "crc32c randwrite+verify passed on loop/$MODE: 24 MiB of 4k, 32 MiB of 64k-1m"
exit 0
