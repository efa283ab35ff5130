// SPDX-License-Identifier: GPL-2.0
/*
 * The ublk request's pages stay lent to a fused command until it completes:
 * a server that COMMITs a READ request while the fused secondary filling it
 * is still blocked (reading a pipe) does not complete the client's IO. Only
 * once the secondary is done does the request complete, with the data the
 * secondary read.
 */
#include <poll.h>

#include "fused_lib.h"

#define LEN	(4U << 10)

int main(void)
{
	struct io_uring_sqe *prim, *sec;
	unsigned char *data;
	int p[2], got = 0, i;
	struct kl_ublk_client c;
	struct kl_ublk_dev d;
	unsigned int tag;

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	kl_ublk_dev_setup(&d, 0);
	if (pipe(p))
		kl_fail("pipe: %s", strerror(errno));

	kl_ublk_client_start(&c, d.dev_id, false, LEN, 1 << 20);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 1 << 20);
	prim = io_uring_get_sqe(&d.ring);
	sec = io_uring_get_sqe(&d.ring);
	fu_prep_primary(prim, d.cdev_fd, tag, FU_UD_PRIM | tag);
	fu_prep_secondary(sec, IORING_OP_READ, p[0], 0, LEN, -1,
			  FU_UD_SEC | tag);
	io_uring_submit(&d.ring);

	/* commit now: the request must wait for the fused command */
	kl_ublk_commit(&d, tag, LEN);
	for (i = 0; i < 5; i++) {
		struct io_uring_cqe *cqe;

		usleep(100000 * kl_scale());
		if (!io_uring_peek_cqe(&d.ring, &cqe))
			kl_fail("CQE %llx res %d while the secondary is blocked",
				(unsigned long long)cqe->user_data, cqe->res);
		if (__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
			kl_fail("client IO completed (%zd) while its pages were still lent to a fused command",
				c.res);
	}

	data = malloc(LEN);
	kl_fill(data, LEN, 42);
	if (write(p[1], data, LEN) != LEN)
		kl_fail("writing the pipe: %s", strerror(errno));
	while (got != 3) {
		struct kl_cqe cqe;

		if (kl_wait_timeout(&d.ring, KL_TIMEOUT_MS, &cqe))
			kl_fail("fused pair did not complete after the pipe was fed");
		if (KL_UBLK_UD_KIND(cqe.user_data) == FU_UD_SEC) {
			KL_EXPECT_EQ(cqe.res, LEN, "secondary READ from the pipe");
			got |= 2;
		} else if (KL_UBLK_UD_KIND(cqe.user_data) == FU_UD_PRIM) {
			KL_ASSERT(got & 2, "primary completed before its secondary");
			KL_EXPECT_EQ(cqe.res, 0, "primary");
			got |= 1;
		} else {
			kl_fail("unexpected CQE %llx res %d",
				(unsigned long long)cqe.user_data, cqe.res);
		}
	}
	KL_EXPECT_EQ(kl_ublk_client_wait(&c), LEN, "client pread");
	if (memcmp(c.buf, data, LEN))
		kl_fail("client did not get the data the secondary read");
	kl_ublk_dev_del(&d);
	kl_pass();
}
