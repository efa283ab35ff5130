// SPDX-License-Identifier: GPL-2.0
/*
 * rw_refused_before_posting rxe|siw: the peer registers a 64 KiB region for
 * WRITE only and a 64 KiB region for READ only. Refused, and the connection
 * still carries data afterwards: an offset or a length past the end
 * (-EINVAL), a READ of the write-only region and a WRITE to the read-only
 * one (-EACCES), an unknown region id (-ENOENT), len 0, len over 16 MiB,
 * an unknown flag, a notify value without BZC_RW_NOTIFY or READ with it
 * (-EINVAL), and WRITE on a file that is not connected
 * (-ENOTCONN). Then a WRITE and a READ that are allowed complete with their
 * length and the data is there (the WRITE's once the owner's DEREG of the
 * region completes: see write_read_verified.c).
 */
#include "bzc_test.h"

#define LEN	(64 << 10)

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	unsigned char *wo = bzc_alloc(LEN), *ro = bzc_alloc(LEN), *buf = bzc_alloc(LEN);
	struct bzc_cmd_rw rw;
	struct io_uring ring;
	int l, a, k, u;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw", argv[0]);
	bzc_link_add(prov);
	kl_ring_init(&ring, 8, BZC_RING);
	bzc_connect_self(&ring, &l, &a, &k);
	KL_EXPECT_EQ(bzc_reg(&ring, a, wo, LEN, BZC_ACCESS_REMOTE_WRITE), 1, "REG write-only");
	KL_EXPECT_EQ(bzc_reg(&ring, a, ro, LEN, BZC_ACCESS_REMOTE_READ), 2, "REG read-only");
	u = bzc_open();

	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, LEN, 1, 1), -EINVAL, "WRITE at the region's end");
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, LEN - 10, 11, 1), -EINVAL, "WRITE one byte past the end");
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, 1ULL << 63, 1, 1), -EINVAL, "WRITE at offset 2^63");
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_READ, buf, 0, 1, 1), -EACCES, "READ of the write-only region");
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, 0, 1, 2), -EACCES, "WRITE to the read-only region");
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, 0, 1, 3), -ENOENT, "WRITE to a region never registered");
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, 0, 1, 0), -ENOENT, "WRITE to region 0");
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, 0, 0, 1), -EINVAL, "WRITE of 0 bytes");
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, 0, (16 << 20) + 1, 1), -EINVAL, "WRITE over 16 MiB");
	KL_EXPECT_EQ(bzc_rw(&ring, u, BZC_U_CMD_WRITE, buf, 0, 1, 1), -ENOTCONN, "WRITE on an unbound file");
	rw = (struct bzc_cmd_rw){ .addr = (__u64)(uintptr_t)buf, .len = 1, .region = 1, .flags = 2 };
	bzc_prep(&ring, k, BZC_U_CMD_WRITE, &rw, sizeof(rw));
	KL_EXPECT_EQ(bzc_run(&ring), -EINVAL, "WRITE with an unknown flag (2) set");
	rw = (struct bzc_cmd_rw){ .addr = (__u64)(uintptr_t)buf, .len = 1, .region = 2, .flags = BZC_RW_NOTIFY };
	bzc_prep(&ring, k, BZC_U_CMD_READ, &rw, sizeof(rw));
	KL_EXPECT_EQ(bzc_run(&ring), -EINVAL, "READ with BZC_RW_NOTIFY");
	rw = (struct bzc_cmd_rw){ .addr = (__u64)(uintptr_t)buf, .len = 1, .region = 1, .notify = 1 };
	bzc_prep(&ring, k, BZC_U_CMD_WRITE, &rw, sizeof(rw));
	KL_EXPECT_EQ(bzc_run(&ring), -EINVAL, "WRITE with a notify value but no BZC_RW_NOTIFY");

	bzc_fill(buf, LEN, 7);
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, 0, LEN, 1), LEN, "WRITE after the refusals");
	KL_EXPECT_EQ(bzc_dereg(&ring, a, 1), 0, "DEREG of the write-only region");
	KL_ASSERT(bzc_check(wo, LEN, 7) < 0, "the WRITE after the refusals did not land");
	bzc_fill(ro, LEN, 8);
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_READ, buf, 0, LEN, 2), LEN, "READ after the refusals");
	KL_ASSERT(bzc_check(buf, LEN, 8) < 0, "the READ after the refusals brought back something else");

	io_uring_queue_exit(&ring);
	close(k);
	close(a);
	close(l);
	close(u);
	bzc_link_delete(prov);
	kl_pass();
}
