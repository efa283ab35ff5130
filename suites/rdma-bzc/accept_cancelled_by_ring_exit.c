// SPDX-License-Identifier: GPL-2.0
/*
 * An ACCEPT parked on a listener with nobody connecting ends when its ring
 * goes away (IO_URING_F_CANCEL, from the ring's exit work) within a bound,
 * and leaves the file unbound: the same file accepts on a new ring (until
 * the cancel has run, -EISCONN), a CONNECT then completes both, and closing
 * everything leaves no cm_id. Over rxe.
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

	/*
	 * The ring's teardown cancels the ACCEPT from a workqueue, after
	 * close() has returned: until then the file is still accepting
	 * (-EISCONN). It must become unbound again, in bounded time.
	 */
	kl_ring_init(&ring, 4, BZC_RING);
	for (;;) {
		bzc_prep_accept(&ring, a, l, 'A');
		KL_EXPECT_EQ(io_uring_submit(&ring), 1, "submit ACCEPT again");
		if (kl_wait_timeout(&ring, 100, &c) == -ETIME)
			break;	/* parked: the file was unbound again */
		KL_ASSERT(c.res == -EISCONN, "ACCEPT after the ring exit: %d %s", c.res, kl_err(c.res));
		KL_ASSERT(kl_now_ms() - t0 < 10000 * kl_scale(),
			  "the ACCEPT parked on the closed ring still holds the file after %lld ms",
			  kl_now_ms() - t0);
		usleep(20 * 1000);
	}
	kl_info("the cancelled ACCEPT let go of the file %lld ms after its ring closed", kl_now_ms() - t0);
	bzc_prep_connect(&ring, k, bzc_my_addr(BZC_PORT), 'C');
	KL_EXPECT_EQ(io_uring_submit(&ring), 1, "submit CONNECT");
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
