#!/bin/sh
# nvme_rdma_pair.sh rxe|siw [MIB]: NVMe over RDMA between two guests, the in-tree
# "kernel-owned queue pair, driven by io_uring" path. Guest b exports a memory-backed
# null_blk namespace with nvmet-rdma on its eth0 address; guest a connects to it with
# nvme-rdma (through /dev/nvme-fabrics, which is all `nvme connect` does) and runs fio's
# io_uring passthrough engine on the namespace's char device /dev/ngXnY: MIB MiB of random
# 4 KiB writes, then every block read back and checked against its crc32c.
. ./rdma_lib.sh
P=$(provider_arg "$1")
MIB=${2:-16}
need_pair
link_add "$P"
NQN=nqn.2026-12.org.kernel-lab:nvme-rdma-$P
PORT=4420
trap nvme_cleanup EXIT

if [ "$KL_ROLE" = b ]; then
	nvme_export $((MIB * 2))
	kl_barrier listening
	kl_barrier done "$(scaled 150)"
	kl_info "$P: b exported $BDEV ($((MIB * 2)) MiB, memory-backed) as $NQN on $KL_ADDR:$PORT over nvmet-rdma"
	exit 0
fi

kl_barrier listening
nvme_connect
fio --name=nvme-rdma --filename="$NG" --ioengine=io_uring_cmd --cmd_type=nvme \
	--rw=randwrite --bs=4k --iodepth=8 --size="${MIB}M" --randrepeat=0 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 --output="$T/fio" >"$T/fio.err" 2>&1
rc=$?
kl_barrier done
[ $rc = 0 ] || kl_fail "$P: fio io_uring_cmd on $NG exited $rc: $(grep -iE 'err|verify|fail' "$T/fio" "$T/fio.err" | head -n 4 | tr '\n' ' ' | cut -c1-300)"
grep -q 'err= 0' "$T/fio" || kl_fail "$P: fio on $NG reported errors: $(grep 'err=' "$T/fio" | head -n 2 | tr '\n' ' ')"
written=$(sed -n 's/.*WRITE: bw=.*io=\([^ ,]*\).*/\1/p' "$T/fio" | head -n 1)
read=$(sed -n 's/.*READ: bw=.*io=\([^ ,]*\).*/\1/p' "$T/fio" | head -n 1)
[ -n "$written" ] && [ -n "$read" ] || kl_fail "$P: fio's report has no WRITE and READ totals: $(tail -n 5 "$T/fio" | tr '\n' ' ')"
kl_info "$P: a connected to $NQN on $KL_PEER in $connect_ms ms (${CTRL##*/}, $NG); fio io_uring passthrough wrote $written in 4 KiB random writes and read back all of it ($read), every block's crc32c verified"
exit 0
