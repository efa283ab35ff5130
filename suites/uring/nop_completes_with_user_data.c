// SPDX-License-Identifier: GPL-2.0
/* A batch of NOPs each completes with res 0 and its own user_data. */
#include "kl_uring.h"

int main(void)
{
	struct io_uring ring;
	unsigned int seen = 0;

	kl_ring_init(&ring, 8, 0);
	for (int i = 0; i < 8; i++) {
		struct io_uring_sqe *sqe = kl_sqe(&ring);

		io_uring_prep_nop(sqe);
		sqe->user_data = 0x1000 + i;
	}
	KL_EXPECT_EQ(io_uring_submit(&ring), 8, "io_uring_submit");
	for (int i = 0; i < 8; i++) {
		struct kl_cqe cqe = kl_wait(&ring);

		KL_EXPECT_EQ(cqe.res, 0, "NOP result");
		KL_ASSERT(cqe.user_data >= 0x1000 && cqe.user_data < 0x1008,
			  "want user_data 0x1000..0x1007, got 0x%llx", (unsigned long long)cqe.user_data);
		seen |= 1u << (cqe.user_data - 0x1000);
	}
	KL_EXPECT_EQ(seen, 0xff, "set of user_data seen");
	kl_pass();
}
