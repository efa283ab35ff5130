// SPDX-License-Identifier: GPL-2.0
/*
 * connect_cycles_leave_nothing rxe|siw: 1,000 times, on one listener: a
 * fresh file ACCEPTs, another CONNECTs to this guest's own address, both
 * complete, one side DISCONNECTs, both files close. Every command of every
 * cycle completes as it should, and afterwards `rdma resource show` lists
 * the listener's cm_id and nothing else of ours: no RC QP, no MR, and as
 * many PDs and CQs as before the first cycle.
 */
#include "bzc_test.h"

#define CYCLES	1000

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	struct io_uring ring;
	int l, pds, cqs;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw", argv[0]);
	bzc_link_add(prov);
	kl_ring_init(&ring, 8, BZC_RING);
	l = bzc_open();
	bzc_prep_listen(&ring, l, BZC_PORT, 4);
	KL_EXPECT_EQ(bzc_run(&ring), 0, "LISTEN");
	pds = bzc_rdma_res("pd");
	cqs = bzc_rdma_res("cq");
	for (int i = 0; i < CYCLES; i++) {
		int a = bzc_open(), k = bzc_open(), got = 0;
		struct kl_cqe c;

		bzc_prep_accept(&ring, a, l, 'A');
		bzc_prep_connect(&ring, k, bzc_my_addr(BZC_PORT), 'C');
		KL_EXPECT_EQ(io_uring_submit(&ring), 2, "submit ACCEPT and CONNECT");
		for (int j = 0; j < 2; j++) {
			c = bzc_wait(&ring, "ACCEPT and CONNECT");
			KL_ASSERT(c.res == 0, "cycle %d: %s: %d (%s)", i, c.user_data == 'A' ? "ACCEPT" : "CONNECT", c.res,
				  kl_err(c.res));
			got |= c.user_data == 'A' ? 1 : 2;
		}
		KL_ASSERT(got == 3, "cycle %d: one CQE each for ACCEPT and CONNECT", i);
		bzc_prep_disconnect(&ring, i & 1 ? a : k, 'D');
		io_uring_submit(&ring);
		c = bzc_wait(&ring, "DISCONNECT");
		KL_ASSERT(c.res == 0, "cycle %d: DISCONNECT: %d (%s)", i, c.res, kl_err(c.res));
		close(a);
		close(k);
	}
	KL_EXPECT_EQ(bzc_rdma_res("cm_id"), 1, "cm_ids after the cycles: the listener's");
	KL_EXPECT_EQ(bzc_rdma_res("qp | grep -w RC"), 0, "RC QPs after the cycles");
	KL_EXPECT_EQ(bzc_rdma_res("mr"), 0, "MRs after the cycles");
	KL_EXPECT_EQ(bzc_rdma_res("pd"), pds, "PDs after the cycles, as before them");
	KL_EXPECT_EQ(bzc_rdma_res("cq"), cqs, "CQs after the cycles, as before them");
	kl_info("%s: %d connect/disconnect cycles, nothing left", prov, CYCLES);
	io_uring_queue_exit(&ring);
	close(l);
	bzc_link_delete(prov);
	kl_pass();
}
