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
CFS=/sys/kernel/config
NQN=nqn.2026-12.org.kernel-lab:nvme-rdma-$P
PORT=4420

# Undo in reverse order, before rdma_cleanup deletes the provider under it.
NB= SUBSYS= PORTDIR= CTRL=
nvme_cleanup() {
	[ -n "$CTRL" ] && [ -e "$CTRL/delete_controller" ] && echo 1 >"$CTRL/delete_controller" 2>/dev/null
	if [ -n "$PORTDIR" ]; then
		rm -f "$PORTDIR/subsystems/$NQN" 2>/dev/null
		rmdir "$PORTDIR" 2>/dev/null
	fi
	if [ -n "$SUBSYS" ]; then
		echo 0 >"$SUBSYS/namespaces/1/enable" 2>/dev/null
		rmdir "$SUBSYS/namespaces/1" "$SUBSYS" 2>/dev/null
	fi
	if [ -n "$NB" ]; then
		echo 0 >"$NB/power" 2>/dev/null
		rmdir "$NB" 2>/dev/null
	fi
	rdma_cleanup
}
trap nvme_cleanup EXIT

# put VALUE FILE: a configfs write whose failure says which attribute refused what.
put() {
	echo "$1" >"$2" 2>"$T/put.err" || kl_fail "$P: echo $1 > $2: $(cat "$T/put.err") $(dmesg | tail -n 3 | tr '\n' ' ')"
}

if [ "$KL_ROLE" = b ]; then
	grep -q " $CFS configfs" /proc/mounts || mount -t configfs configfs $CFS || kl_fail "cannot mount configfs"
	[ -d $CFS/nvmet ] || kl_fail "no $CFS/nvmet: the kernel lacks CONFIG_NVME_TARGET"
	[ -d $CFS/nullb ] || kl_fail "no $CFS/nullb: the kernel lacks CONFIG_BLK_DEV_NULL_BLK"
	NB=$CFS/nullb/kl-nvme-$P
	mkdir "$NB" || kl_fail "mkdir $NB"
	put 1 "$NB/memory_backed" # reads return what was written: fio's verify means something
	put 4096 "$NB/blocksize"
	put $((MIB * 2)) "$NB/size"
	put 1 "$NB/power"
	BDEV=/dev/${NB##*/} # a configfs null_blk disk is named after its directory
	[ -b "$BDEV" ] || kl_fail "$P: null_blk powered on, but no $BDEV"
	SUBSYS=$CFS/nvmet/subsystems/$NQN
	mkdir "$SUBSYS" || kl_fail "mkdir $SUBSYS"
	put 1 "$SUBSYS/attr_allow_any_host"
	mkdir "$SUBSYS/namespaces/1" || kl_fail "mkdir $SUBSYS/namespaces/1"
	put "$BDEV" "$SUBSYS/namespaces/1/device_path"
	put 1 "$SUBSYS/namespaces/1/enable"
	PORTDIR=$CFS/nvmet/ports/1
	mkdir "$PORTDIR" || kl_fail "mkdir $PORTDIR"
	put rdma "$PORTDIR/addr_trtype"
	put ipv4 "$PORTDIR/addr_adrfam"
	put "$KL_ADDR" "$PORTDIR/addr_traddr"
	put $PORT "$PORTDIR/addr_trsvcid"
	# the port is enabled (nvmet-rdma listens) when its first subsystem is linked
	ln -s "$SUBSYS" "$PORTDIR/subsystems/$NQN" 2>"$T/ln.err" ||
		kl_fail "$P: nvmet-rdma did not take port $KL_ADDR:$PORT: $(cat "$T/ln.err") $(dmesg | grep -i nvmet | tail -n 3 | tr '\n' ' ')"
	wait_listen $PORT "$(scaled 10)" || kl_fail "$P: nvmet-rdma on b not listening on $PORT after $(scaled 10) s"
	kl_barrier listening
	kl_barrier done "$(scaled 150)"
	kl_info "$P: b exported $BDEV ($((MIB * 2)) MiB, memory-backed) as $NQN on $KL_ADDR:$PORT over nvmet-rdma"
	exit 0
fi

kl_barrier listening
[ -c /dev/nvme-fabrics ] || kl_fail "no /dev/nvme-fabrics: the kernel lacks CONFIG_NVME_FABRICS"
HOSTID=$(cat /proc/sys/kernel/random/uuid)
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:$HOSTID # a host NQN and ID of one host: fabrics refuses a known ID under another NQN
t0=$(uptime_cs)
echo "transport=rdma,traddr=$KL_PEER,trsvcid=$PORT,nqn=$NQN,hostnqn=$HOSTNQN,hostid=$HOSTID" >/dev/nvme-fabrics 2>"$T/connect.err" ||
	kl_fail "$P: connecting to $NQN at $KL_PEER:$PORT over rdma: $(cat "$T/connect.err") $(dmesg | grep -i nvme | tail -n 3 | tr '\n' ' ')"
for c in /sys/class/nvme/nvme*; do
	[ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$NQN" ] && CTRL=$c
done
[ -n "$CTRL" ] || kl_fail "$P: connected, but no controller in /sys/class/nvme has subsysnqn $NQN"
[ "$(cat "$CTRL/transport")" = rdma ] || kl_fail "$P: ${CTRL##*/} has transport $(cat "$CTRL/transport"), want rdma"
# The namespace's char device (the guest has no other NVMe: exactly one ng device appears).
NG=
i=0
while [ $i -lt "$(scaled 10)" ]; do
	ngs=$(ls /dev 2>/dev/null | grep -E '^ng[0-9]+n[0-9]+$')
	[ -n "$ngs" ] && break
	sleep 1
	i=$((i + 1))
done
[ -n "$ngs" ] || kl_fail "$P: no /dev/ngXnY for ${CTRL##*/}'s namespace after $(scaled 10) s: $(ls /dev | grep -E '^(nvme|ng)' | tr '\n' ' ')"
[ "$(echo "$ngs" | wc -l)" = 1 ] || kl_fail "$P: more than one NVMe char device: $(echo "$ngs" | tr '\n' ' ')"
NG=/dev/$ngs
connect_ms=$((($(uptime_cs) - t0) * 10))
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
