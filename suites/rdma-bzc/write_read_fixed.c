// SPDX-License-Identifier: GPL-2.0
/*
 * write_read_fixed rxe|siw: the local buffer of WRITE and READ inside an
 * io_uring fixed buffer (IORING_URING_CMD_FIXED, sqe->buf_index 0), one
 * guest, a connection to its own address. A WRITE of 1 MiB + 7 from
 * offset 5 of the fixed buffer lands in the peer's region (checked after
 * DEREG, see write_read_verified.c); a READ of 3 MiB into offset 11 brings
 * the region's bytes back, the bytes around it untouched. Nothing is
 * pinned for them: VmPin stays what the region costs. A range past the
 * fixed buffer's end is -EFAULT; FIXED on a command other than WRITE and
 * READ is -EINVAL.
 */
#include <sys/uio.h>
#include "bzc_test.h"

#define FIXLEN	(4 << 20)
#define REGION	(4 << 20)

static void prep_fixed(struct io_uring *ring, int fd, __u32 op, const void *buf, __u64 off, __u32 len)
{
	struct bzc_cmd_rw rw = { .addr = (__u64)(uintptr_t)buf, .remote_off = off, .len = len, .region = 1 };
	struct io_uring_sqe *sqe = bzc_prep(ring, fd, op, &rw, sizeof(rw));

	sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
	sqe->buf_index = 0;
}

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	unsigned char *fix = bzc_alloc(FIXLEN), *region = bzc_alloc(REGION);
	struct iovec iov = { fix, FIXLEN };
	struct bzc_cmd_dereg d = { .region = 1 };
	struct io_uring ring;
	const __u32 wlen = (1 << 20) + 7, rlen = 3 << 20;
	long long bad;
	long pin;
	int l, a, k;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw", argv[0]);
	bzc_link_add(prov);
	kl_ring_init(&ring, 8, BZC_RING);
	KL_EXPECT_EQ(io_uring_register_buffers(&ring, &iov, 1), 0, "io_uring_register_buffers of 4 MiB");
	bzc_connect_self(&ring, &l, &a, &k);
	KL_EXPECT_EQ(bzc_reg(&ring, a, region, REGION, BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE), 1,
		     "REG of the peer's region");
	pin = bzc_vmpin_kb();

	bzc_fill(fix + 5, wlen, 21);
	prep_fixed(&ring, k, BZC_U_CMD_WRITE, fix + 5, 4093, wlen);
	KL_EXPECT_EQ(bzc_run(&ring), wlen, "WRITE from the fixed buffer");
	KL_EXPECT_EQ(bzc_vmpin_kb(), pin, "VmPin after a fixed WRITE (nothing pinned for it, kB)");
	KL_EXPECT_EQ(bzc_dereg(&ring, a, 1), 0, "DEREG before looking at the region");
	bad = bzc_check(region + 4093, wlen, 21);
	KL_ASSERT(bad < 0, "WRITE from the fixed buffer: byte %lld differs", bad);
	KL_EXPECT_EQ(bzc_reg(&ring, a, region, REGION, BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE), 1,
		     "REG of the region again");

	bzc_fill(region + 100, rlen, 22);
	memset(fix, 0, FIXLEN);
	prep_fixed(&ring, k, BZC_U_CMD_READ, fix + 11, 100, rlen);
	KL_EXPECT_EQ(bzc_run(&ring), rlen, "READ into the fixed buffer");
	bad = bzc_check(fix + 11, rlen, 22);
	KL_ASSERT(bad < 0, "READ into the fixed buffer: byte %lld differs", bad);
	KL_ASSERT(!fix[10] && !fix[11 + rlen], "READ into the fixed buffer touched a byte around the range");

	prep_fixed(&ring, k, BZC_U_CMD_WRITE, fix + FIXLEN - 10, 0, 11);
	KL_EXPECT_EQ(bzc_run(&ring), -EFAULT, "WRITE of a range past the fixed buffer's end");
	bzc_prep(&ring, a, BZC_U_CMD_DEREG, &d, sizeof(d))->uring_cmd_flags = IORING_URING_CMD_FIXED;
	KL_EXPECT_EQ(bzc_run(&ring), -EINVAL, "DEREG with IORING_URING_CMD_FIXED");

	io_uring_queue_exit(&ring);
	close(k);
	close(a);
	close(l);
	KL_EXPECT_EQ(bzc_rdma_res("mr"), 0, "MRs after closing every file");
	bzc_link_delete(prov);
	kl_pass();
}
