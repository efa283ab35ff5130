// SPDX-License-Identifier: GPL-2.0
/*
 * An ACCEPT parked on a listener with nobody connecting ends when its ring
 * goes away (IO_URING_F_CANCEL, -ECANCELED, bounded), and leaves the file
 * unbound: the same file accepts on a new ring, a CONNECT then completes
 * both, and closing everything leaves no cm_id. Over rxe.
 */
#include "bzc_test.h"

int main(void)
{
	struct io_uring ring;
	struct kl_cqe c;
	long long t0;
	int l, a, k;

	bzc_link_add("rxe");
	l = bzc_open();
	a = bzc_open();
	k = bzc_open();

	kl_ring_init(&ring, 4, BZC_RING);
	bzc_prep_listen(&ring, l, BZC_PORT, 4);
	KL_EXPECT_EQ(bzc_run(&ring), 0, "LISTEN");
	bzc_prep_accept(&ring, a, l, 'A');
	KL_EXPECT_EQ(io_uring_submit(&ring), 1, "submit ACCEPT");
	KL_EXPECT_EQ(kl_wait_timeout(&ring, 300, &c), -ETIME, "ACCEPT with nobody connecting completes");
	t0 = kl_now_ms();
	io_uring_queue_exit(&ring);
	KL_ASSERT(kl_now_ms() - t0 < 5000 * kl_scale(), "ring exit with an ACCEPT parked took %lld ms",
		  kl_now_ms() - t0);

	kl_ring_init(&ring, 4, BZC_RING);
	bzc_prep_accept(&ring, a, l, 'A');
	bzc_prep_connect(&ring, k, bzc_my_addr(BZC_PORT), 'C');
	KL_EXPECT_EQ(io_uring_submit(&ring), 2, "submit ACCEPT again and CONNECT");
	for (int i = 0; i < 2; i++) {
		c = bzc_wait(&ring, "ACCEPT on a new ring, and CONNECT");
		KL_ASSERT(c.res == 0, "%s after the cancelled ACCEPT: %d %s",
			  c.user_data == 'A' ? "ACCEPT" : "CONNECT", c.res, kl_err(c.res));
	}
	io_uring_queue_exit(&ring);
	close(k);
	close(a);
	close(l);
	KL_EXPECT_EQ(bzc_rdma_res("cm_id"), 0, "cm_ids after closing every file");
	bzc_link_delete("rxe");
	kl_pass();
}
