// SPDX-License-Identifier: GPL-2.0
/*
 * A primary takes its secondary SQE from the ring, so io_uring_enter()
 * counts both as submitted and advances the SQ head past both, also when
 * to_submit covered only the primary (the secondary is the next SQE in the
 * ring, not the next one the caller asked for). The SQE after the pair is
 * left for the next call; with IORING_SETUP_SUBMIT_ALL the batch goes on
 * after a failed pair. Task references stay balanced (a leak would hang
 * the ring's exit).
 */
#include "fused_lib.h"

static int enter(struct io_uring *ring, unsigned int to_submit)
{
	int ret = syscall(__NR_io_uring_enter, ring->ring_fd, to_submit, 0, 0,
			  NULL, 0);

	return ret < 0 ? -errno : ret;
}

/* Make the SQEs queued so far visible to the kernel without entering. */
static void publish(struct io_uring *ring)
{
	__atomic_store_n(ring->sq.ktail, ring->sq.sqe_tail, __ATOMIC_RELEASE);
}

static void expect_cqe(struct io_uring *ring, __u64 want_ud, int want_res,
		       const char *what)
{
	struct kl_cqe cqe;

	if (kl_wait_timeout(ring, KL_TIMEOUT_MS, &cqe))
		kl_fail("%s: no CQE", what);
	KL_EXPECT_EQ(cqe.user_data, want_ud, what);
	KL_EXPECT_EQ(cqe.res, want_res, what);
}

int main(void)
{
	struct io_uring_sqe *p, *s, *n;
	struct io_uring ring;
	unsigned int head;
	int fd, ret, i;

	fu_require_fused();
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		kl_fail("open /dev/null: %s", strerror(errno));
	ret = io_uring_queue_init(8, &ring, IORING_SETUP_FUSED_REQ);
	if (ret)
		kl_fail("io_uring_setup(FUSED_REQ): %s", strerror(-ret));

	for (i = 0; i < 3; i++) {
		head = *ring.sq.khead;
		p = io_uring_get_sqe(&ring);
		s = io_uring_get_sqe(&ring);
		n = io_uring_get_sqe(&ring);
		/* a NOP secondary is refused: both complete with -EINVAL */
		fu_prep_primary(p, fd, 0, 1);
		fu_prep_secondary(s, IORING_OP_NOP, fd, 0, 0, 0, 2);
		io_uring_prep_nop(n);
		n->user_data = 3;
		publish(&ring);

		ret = enter(&ring, 1);
		KL_EXPECT_EQ(ret, 2, "io_uring_enter(to_submit 1) over a fused pair");
		KL_EXPECT_EQ(*ring.sq.khead - head, 2, "SQ head advance");
		expect_cqe(&ring, 2, -EINVAL, "secondary");
		expect_cqe(&ring, 1, -EINVAL, "primary");

		ret = enter(&ring, 1);
		KL_EXPECT_EQ(ret, 1, "io_uring_enter for the NOP after the pair");
		expect_cqe(&ring, 3, 0, "NOP after the pair");
	}

	/*
	 * The pair as the first two of a larger batch: its failure would end
	 * the batch, unless the ring asks to go on (SUBMIT_ALL).
	 */
	io_uring_queue_exit(&ring);
	ret = io_uring_queue_init(8, &ring, IORING_SETUP_FUSED_REQ |
				  IORING_SETUP_SUBMIT_ALL);
	if (ret)
		kl_fail("io_uring_setup(FUSED_REQ | SUBMIT_ALL): %s",
			strerror(-ret));
	p = io_uring_get_sqe(&ring);
	s = io_uring_get_sqe(&ring);
	fu_prep_primary(p, fd, 0, 1);
	fu_prep_secondary(s, IORING_OP_NOP, fd, 0, 0, 0, 2);
	for (i = 0; i < 4; i++) {
		n = io_uring_get_sqe(&ring);
		io_uring_prep_nop(n);
		n->user_data = 10 + i;
	}
	publish(&ring);
	ring.sq.sqe_head = ring.sq.sqe_tail;
	ret = enter(&ring, 6);
	KL_EXPECT_EQ(ret, 6, "io_uring_enter(6) with a pair and 4 NOPs");
	for (i = 0; i < 6; i++) {
		struct kl_cqe cqe;

		if (kl_wait_timeout(&ring, KL_TIMEOUT_MS, &cqe))
			kl_fail("batch: CQE %d missing", i);
		if (cqe.user_data >= 10)
			KL_EXPECT_EQ(cqe.res, 0, "NOP in the batch");
		else
			KL_EXPECT_EQ(cqe.res, -EINVAL, "pair in the batch");
	}
	io_uring_queue_exit(&ring);
	kl_pass();
}
