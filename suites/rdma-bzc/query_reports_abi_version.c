// SPDX-License-Identifier: GPL-2.0
/*
 * QUERY on a /dev/bzc file writes struct bzc_query: ABI version 0, reserved
 * words zero, and returns how many bytes it wrote; a shorter out_len gets
 * exactly that many bytes and nothing past them.
 */
#include "bzc_test.h"

int main(void)
{
	struct io_uring ring;
	struct bzc_query q;
	unsigned char buf[sizeof(struct bzc_query) + 8];
	int fd = bzc_open();
	int ret;

	kl_ring_init(&ring, 4, BZC_RING);

	memset(&q, 0xa5, sizeof(q));
	ret = bzc_query(&ring, fd, &q, sizeof(q));
	KL_EXPECT_EQ(ret, (int)sizeof(q), "QUERY result (bytes written)");
	KL_EXPECT_EQ(q.abi_version, BZC_ABI_VERSION, "abi_version");
	for (int i = 0; i < 3; i++)
		KL_ASSERT(q.resv[i] == 0, "resv[%d] = 0x%llx, want 0", i, (unsigned long long)q.resv[i]);

	/* 4 bytes asked: abi_version only; the canary after it stays. */
	memset(buf, 0x5a, sizeof(buf));
	ret = bzc_query(&ring, fd, (struct bzc_query *)buf, 4);
	KL_EXPECT_EQ(ret, 4, "QUERY with out_len 4");
	KL_ASSERT(*(__u32 *)buf == BZC_ABI_VERSION, "abi_version with out_len 4: %u", *(__u32 *)buf);
	for (size_t i = 4; i < sizeof(buf); i++)
		KL_ASSERT(buf[i] == 0x5a, "byte %zu past out_len 4 was written (0x%02x)", i, buf[i]);

	/* More room than the struct: only the struct is written. */
	memset(buf, 0x5a, sizeof(buf));
	ret = bzc_query(&ring, fd, (struct bzc_query *)buf, sizeof(buf));
	KL_EXPECT_EQ(ret, (int)sizeof(struct bzc_query), "QUERY with out_len past the struct");
	for (size_t i = sizeof(struct bzc_query); i < sizeof(buf); i++)
		KL_ASSERT(buf[i] == 0x5a, "byte %zu past the struct was written", i);

	/* A bad pointer is -EFAULT, not a crash. */
	ret = bzc_query(&ring, fd, (struct bzc_query *)8, sizeof(q));
	KL_EXPECT_EQ(ret, -EFAULT, "QUERY to an unmapped address");

	io_uring_queue_exit(&ring);
	close(fd);
	kl_pass();
}
