// SPDX-License-Identifier: GPL-2.0
/*
 * connect_accept_disconnect rxe|siw: one guest, its own eth0 address. A
 * listener file, an ACCEPT parked on a second file before anyone connects,
 * a CONNECT from a third: both complete with 0. The connected files refuse
 * a second CONNECT (-EISCONN); DISCONNECT completes with 0 on the side that
 * asks and on the peer; closing everything leaves no cm_id and no RC QP of
 * ours behind (`rdma resource show`), and the device deletes cleanly.
 */
#include "bzc_test.h"

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	struct io_uring ring;
	struct kl_cqe c;
	int l, a, k, got_a = 0, got_k = 0;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw", argv[0]);
	bzc_link_add(prov);
	l = bzc_open();
	a = bzc_open();
	k = bzc_open();
	kl_ring_init(&ring, 8, BZC_RING);

	bzc_prep_listen(&ring, l, BZC_PORT, 4);
	KL_EXPECT_EQ(bzc_run(&ring), 0, "LISTEN on KL_ADDR:18515");
	KL_EXPECT_EQ(bzc_rdma_res("cm_id"), 1, "cm_ids while listening");

	bzc_prep_accept(&ring, a, l, 'A');
	bzc_prep_connect(&ring, k, bzc_my_addr(BZC_PORT), 'C');
	KL_EXPECT_EQ(io_uring_submit(&ring), 2, "submit ACCEPT and CONNECT");
	for (int i = 0; i < 2; i++) {
		c = bzc_wait(&ring, "ACCEPT and CONNECT");
		if (c.user_data == 'A') {
			KL_EXPECT_EQ(c.res, 0, "ACCEPT");
			got_a++;
		} else {
			KL_EXPECT_EQ(c.user_data, 'C', "user_data of the other CQE");
			KL_EXPECT_EQ(c.res, 0, "CONNECT");
			got_k++;
		}
	}
	KL_ASSERT(got_a == 1 && got_k == 1, "one CQE each: ACCEPT %d, CONNECT %d", got_a, got_k);
	KL_EXPECT_EQ(bzc_rdma_res("cm_id"), 3, "cm_ids: the listener and both ends");
	KL_ASSERT(bzc_rdma_res("qp | grep -w RC") >= 2, "no RC QP for the connection: %d", bzc_rdma_res("qp | grep -w RC"));

	bzc_prep_connect(&ring, k, bzc_my_addr(BZC_PORT), 'C');
	KL_EXPECT_EQ(bzc_run(&ring), -EISCONN, "a second CONNECT on a connected file");
	bzc_prep_accept(&ring, a, l, 'A');
	KL_EXPECT_EQ(bzc_run(&ring), -EISCONN, "ACCEPT on a connected file");

	bzc_prep_disconnect(&ring, k, 'D');
	io_uring_submit(&ring);
	c = bzc_wait(&ring, "DISCONNECT on the connecting side");
	KL_EXPECT_EQ(c.res, 0, "DISCONNECT on the connecting side");
	bzc_prep_disconnect(&ring, a, 'd');
	io_uring_submit(&ring);
	c = bzc_wait(&ring, "DISCONNECT on the accepting side");
	KL_EXPECT_EQ(c.res, 0, "DISCONNECT on the accepting side (down already, or taken down now)");

	io_uring_queue_exit(&ring);
	close(k);
	close(a);
	close(l);
	KL_EXPECT_EQ(bzc_rdma_res("cm_id"), 0, "cm_ids after closing every file");
	KL_EXPECT_EQ(bzc_rdma_res("qp | grep -w RC"), 0, "RC QPs after closing every file");
	bzc_link_delete(prov);
	kl_pass();
}
