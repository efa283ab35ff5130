// SPDX-License-Identifier: GPL-2.0
/*
 * connect_refused_without_listener rxe|siw: CONNECT to the guest's own
 * address on a port nobody listens on completes with -ECONNREFUSED in
 * bounded time; the file is then spent (-EISCONN on another CONNECT) and
 * closing it leaves no cm_id behind.
 */
#include "bzc_test.h"

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	struct io_uring ring;
	struct kl_cqe c;
	int k;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw", argv[0]);
	bzc_link_add(prov);
	k = bzc_open();
	kl_ring_init(&ring, 4, BZC_RING);

	bzc_prep_connect(&ring, k, bzc_my_addr(BZC_PORT + 1), 'C');
	io_uring_submit(&ring);
	c = bzc_wait(&ring, "CONNECT to a port with no listener");
	KL_EXPECT_EQ(c.res, -ECONNREFUSED, "CONNECT to a port with no listener");
	bzc_prep_connect(&ring, k, bzc_my_addr(BZC_PORT + 1), 'C');
	KL_EXPECT_EQ(bzc_run(&ring), -EISCONN, "CONNECT again on the refused file");

	io_uring_queue_exit(&ring);
	close(k);
	KL_EXPECT_EQ(bzc_rdma_res("cm_id"), 0, "cm_ids after closing the file");
	bzc_link_delete(prov);
	kl_pass();
}
