// SPDX-License-Identifier: GPL-2.0
/*
 * Every field /dev/bzc does not use must be zero, so that later revisions
 * can give it a meaning: QUERY with non-zero payload flags, with sqe->addr,
 * with sqe->len, or with IORING_URING_CMD_FIXED (only WRITE and READ take a
 * fixed buffer) completes with -EINVAL and writes nothing.
 */
#include <sys/uio.h>
#include "bzc_test.h"

enum what { FLAGS, ADDR, LEN, FIXED };

static void refused(struct io_uring *ring, int fd, enum what w, const char *name)
{
	struct bzc_query q;
	struct bzc_cmd_query payload = { .out_ptr = (__u64)(uintptr_t)&q, .out_len = sizeof(q) };
	struct io_uring_sqe *sqe;
	int ret;

	memset(&q, 0x5a, sizeof(q));
	if (w == FLAGS)
		payload.flags = 1;
	sqe = bzc_prep(ring, fd, BZC_U_CMD_QUERY, &payload, sizeof(payload));
	if (w == ADDR)
		sqe->addr = (__u64)(uintptr_t)&q;
	if (w == LEN)
		sqe->len = sizeof(q);
	if (w == FIXED)
		sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
	ret = bzc_run(ring);
	KL_ASSERT(ret == -EINVAL, "QUERY with %s: want -EINVAL, got %d %s", name, ret, kl_err(ret));
	for (size_t i = 0; i < sizeof(q); i++)
		KL_ASSERT(((unsigned char *)&q)[i] == 0x5a, "QUERY with %s wrote byte %zu", name, i);
}

int main(void)
{
	struct bzc_query q;
	struct io_uring ring;
	int fd = bzc_open();

	static char fixed_buf[4096];
	struct iovec iov = { fixed_buf, sizeof(fixed_buf) };

	kl_ring_init(&ring, 4, BZC_RING);
	/* a registered buffer 0, so that io_uring itself accepts FIXED and the driver decides */
	KL_EXPECT_EQ(io_uring_register_buffers(&ring, &iov, 1), 0, "io_uring_register_buffers");
	refused(&ring, fd, FLAGS, "payload flags 1");
	refused(&ring, fd, ADDR, "sqe->addr set");
	refused(&ring, fd, LEN, "sqe->len set");
	refused(&ring, fd, FIXED, "IORING_URING_CMD_FIXED");
	KL_EXPECT_EQ(bzc_query(&ring, fd, &q, sizeof(q)), (int)sizeof(q), "QUERY with every unused field zero");
	io_uring_queue_exit(&ring);
	close(fd);
	kl_pass();
}
