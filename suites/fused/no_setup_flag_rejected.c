// SPDX-License-Identifier: GPL-2.0
/*
 * A fused command needs a ring set up with IORING_SETUP_FUSED_REQ: without
 * it IORING_OP_FUSED_CMD fails with -EINVAL (and the next SQE, a NOP here,
 * runs on its own, the ring not knowing it was meant as a secondary).
 * IORING_FUSED_CMD_BUF on a plain IORING_OP_URING_CMD is -EINVAL too, and
 * FUSED_REQ can't be combined with IOPOLL.
 */
#include "fused_lib.h"

static void submit_pair(struct io_uring *ring, int opcode, int fd,
			int *res0, int *res1)
{
	struct io_uring_sqe *a = io_uring_get_sqe(ring);
	struct io_uring_sqe *b = io_uring_get_sqe(ring);
	int i, ret;

	fu_prep_primary(a, fd, 0, 1);
	a->opcode = opcode;
	io_uring_prep_nop(b);
	b->user_data = 2;
	/* a failing SQE ends the batch: the NOP goes in with the next one */
	ret = io_uring_submit(ring);
	if (ret == 1)
		ret += io_uring_submit(ring);
	if (ret != 2)
		kl_fail("submit: want 2 SQEs consumed, got %d", ret);
	*res0 = *res1 = 12345;
	for (i = 0; i < 2; i++) {
		struct kl_cqe cqe;

		if (kl_wait_timeout(ring, KL_TIMEOUT_MS, &cqe))
			kl_fail("CQE %d missing", i);
		if (cqe.user_data == 1)
			*res0 = cqe.res;
		else
			*res1 = cqe.res;
	}
}

int main(void)
{
	struct io_uring ring;
	int fd, r0, r1, ret;

	fu_require_fused();
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		kl_fail("open /dev/null: %s", strerror(errno));

	ret = io_uring_queue_init(8, &ring, 0);
	if (ret)
		kl_fail("io_uring_setup: %s", strerror(-ret));
	submit_pair(&ring, IORING_OP_FUSED_CMD, fd, &r0, &r1);
	KL_EXPECT_EQ(r0, -EINVAL, "FUSED_CMD on a ring without FUSED_REQ");
	KL_EXPECT_EQ(r1, 0, "the NOP after it, run on its own");
	io_uring_queue_exit(&ring);

	ret = io_uring_queue_init(8, &ring, IORING_SETUP_FUSED_REQ);
	if (ret)
		kl_fail("io_uring_setup(FUSED_REQ): %s", strerror(-ret));
	submit_pair(&ring, IORING_OP_URING_CMD, fd, &r0, &r1);
	KL_EXPECT_EQ(r0, -EINVAL, "URING_CMD with IORING_FUSED_CMD_BUF");
	KL_EXPECT_EQ(r1, 0, "the NOP after the plain URING_CMD");
	io_uring_queue_exit(&ring);

	ret = io_uring_queue_init(8, &ring, IORING_SETUP_FUSED_REQ | IORING_SETUP_IOPOLL);
	if (!ret)
		io_uring_queue_exit(&ring);
	KL_EXPECT_EQ(ret, -EINVAL, "io_uring_setup(FUSED_REQ | IOPOLL)");
	kl_pass();
}
