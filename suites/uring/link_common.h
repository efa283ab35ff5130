/* SPDX-License-Identifier: GPL-2.0 */
/*
 * READ of 8192 bytes from a 4096-byte file, linked to a WRITE. The short read marks the
 * READ failed; whether the WRITE runs depends on the link kind.
 */
#include "kl_uring.h"

static void short_read_then_write(unsigned int link_flag, int *read_res, int *write_res)
{
	static char rbuf[8192], wbuf[4096];
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	int in = kl_pattern_file(4096, 1);
	int out = kl_pattern_file(1, 2);

	kl_ring_init(&ring, 4, 0);
	sqe = kl_sqe(&ring);
	io_uring_prep_read(sqe, in, rbuf, sizeof(rbuf), 0);
	sqe->flags |= link_flag;
	sqe->user_data = 1;
	sqe = kl_sqe(&ring);
	io_uring_prep_write(sqe, out, wbuf, sizeof(wbuf), 0);
	sqe->user_data = 2;
	KL_EXPECT_EQ(io_uring_submit(&ring), 2, "io_uring_submit");
	for (int i = 0; i < 2; i++) {
		struct kl_cqe cqe = kl_wait(&ring);

		if (cqe.user_data == 1)
			*read_res = cqe.res;
		else
			*write_res = cqe.res;
	}
	io_uring_queue_exit(&ring);
}
