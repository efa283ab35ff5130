#!/bin/sh
# fio_io_null.sh MODE: random read/write IO of mixed sizes on a null device
# completes without error. The null target stores nothing, so no data is
# verified here: this checks the command cycle and data movement only.
. ./ublk_lib.sh
MODE=$(mode_arg "$1")
need_tool fio

add_dev -t null -q 2 -m "$MODE" -s 128
run_fio null --filename="/dev/ublkb$DEV" --rw=randrw --direct=1 \
	--ioengine=io_uring --iodepth=32 --bsrange=4k-128k --size=64M ||
	kl_fail "fio randrw on null ublkb$DEV ($MODE): want exit 0, got $?: $(fio_log null)"
grep -q "err= 0" "$T/null.fio" ||
	kl_fail "fio reported IO errors: $(fio_log null)"
del_dev "$DEV"
kl_info "64 MiB randrw (4k-128k, io_uring, qd32) completed on null/$MODE; data not verified (null target)"
exit 0
