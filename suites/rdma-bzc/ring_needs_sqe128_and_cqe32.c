// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/bzc commands need a ring with big SQEs (the payload is in sqe->cmd)
 * and big CQEs (results with a second value): QUERY on a plain ring, an
 * SQE128-only ring and a CQE32-only ring completes with -EINVAL and writes
 * nothing; the same QUERY on an SQE128|CQE32 ring succeeds.
 */
#include "bzc_test.h"

static void refused(int fd, unsigned int flags, const char *what)
{
	struct bzc_query q;
	struct io_uring ring;
	int ret;

	kl_ring_init(&ring, 4, flags);
	memset(&q, 0x5a, sizeof(q));
	ret = bzc_query(&ring, fd, &q, sizeof(q));
	KL_ASSERT(ret == -EINVAL, "QUERY on a %s ring: want -EINVAL, got %d %s", what, ret, kl_err(ret));
	for (size_t i = 0; i < sizeof(q); i++)
		KL_ASSERT(((unsigned char *)&q)[i] == 0x5a, "QUERY on a %s ring wrote byte %zu", what, i);
	io_uring_queue_exit(&ring);
}

int main(void)
{
	struct bzc_query q;
	struct io_uring ring;
	int fd = bzc_open();

	refused(fd, 0, "plain (64-byte SQE, 16-byte CQE)");
	refused(fd, IORING_SETUP_SQE128, "SQE128-only");
	refused(fd, IORING_SETUP_CQE32, "CQE32-only");

	kl_ring_init(&ring, 4, BZC_RING);
	KL_EXPECT_EQ(bzc_query(&ring, fd, &q, sizeof(q)), (int)sizeof(q), "QUERY on an SQE128|CQE32 ring");
	io_uring_queue_exit(&ring);
	close(fd);
	kl_pass();
}
