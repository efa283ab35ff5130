// SPDX-License-Identifier: GPL-2.0
/*
 * A cmd_op /dev/bzc does not know completes with -EOPNOTSUPP: the unused
 * numbers of its range (0x45..0x4f today), QUERY's number with another size
 * or direction encoded, and a foreign ioctl number (uverbs'). The file stays
 * usable: QUERY still works afterwards.
 */
#include "bzc_test.h"

int main(void)
{
	static const struct { __u32 op; const char *what; } bad[] = {
		{ _IOWR(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0xf, struct bzc_cmd_query), "nr 0x4f (end of the range, unused)" },
		{ _IOWR(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0x5, struct bzc_cmd_query), "nr 0x45 (the first unused)" },
		{ _IOWR(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0x1, struct bzc_cmd_listen), "LISTEN's nr, read-write direction" },
		{ _IOWR(RDMA_IOCTL_MAGIC, BZC_CMD_BASE, __u64), "QUERY's nr with an 8-byte size" },
		{ _IOR(RDMA_IOCTL_MAGIC, BZC_CMD_BASE, struct bzc_cmd_query), "QUERY's nr, read-only direction" },
		{ _IOWR(RDMA_IOCTL_MAGIC, 1, struct bzc_cmd_query), "uverbs' nr 0x01" },
		{ 0, "cmd_op 0" },
	};
	struct bzc_query q;
	struct io_uring ring;
	int fd = bzc_open();
	int ret;

	kl_ring_init(&ring, 4, BZC_RING);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bzc_cmd_query payload = { .out_ptr = (__u64)(uintptr_t)&q, .out_len = sizeof(q) };

		bzc_prep(&ring, fd, bad[i].op, &payload, sizeof(payload));
		ret = bzc_run(&ring);
		KL_ASSERT(ret == -EOPNOTSUPP, "cmd_op 0x%08x (%s): want -EOPNOTSUPP, got %d %s", bad[i].op,
			  bad[i].what, ret, kl_err(ret));
	}
	ret = bzc_query(&ring, fd, &q, sizeof(q));
	KL_EXPECT_EQ(ret, (int)sizeof(q), "QUERY after the refused commands");
	io_uring_queue_exit(&ring);
	close(fd);
	kl_pass();
}
