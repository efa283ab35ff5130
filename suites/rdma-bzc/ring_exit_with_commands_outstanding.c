// SPDX-License-Identifier: GPL-2.0
/*
 * ring_exit_with_commands_outstanding rxe|siw: on a connection to this
 * guest's own address with a 16 MiB region, 16 WRITEs and 16 READs of
 * 1 MiB, a REG of 32 MiB (its MR registrations queued behind them) and an
 * ACCEPT (which nobody will pair) are submitted, and the
 * ring is closed at once, the files left open. The connection outlives its
 * ring: a new ring WRITEs and READs 1 MiB on it, verified, in the 17th MiB
 * of the region and from a buffer of its own (the closed ring's commands
 * may still be moving the first 16). Then the files
 * are closed, and within a bound nothing is left (no cm_id, no MR, as many
 * PDs as before) and VmPin is back where it was: every command the closed
 * ring had in flight ended, or a file's last reference would still be held.
 */
#include "bzc_test.h"

#define LEN	(17 << 20)
#define NEW	(16 << 20)	/* where the new ring WRITEs and READs */

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	unsigned char *region = bzc_alloc(LEN), *buf = bzc_alloc(16 << 20), *more = bzc_alloc(BZC_MORE);
	unsigned char *fresh = bzc_alloc(1 << 20);
	struct io_uring ring, again;
	int l, a, k, w, pds, completed, ret;
	long pinned0;
	long long bad, end;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw", argv[0]);
	bzc_link_add(prov);
	pds = bzc_rdma_res("pd");
	pinned0 = bzc_vmpin_kb();
	kl_ring_init(&ring, 64, BZC_RING);
	bzc_connect_self(&ring, &l, &a, &k);
	KL_EXPECT_EQ(bzc_reg(&ring, a, region, LEN, BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE), 1, "REG");
	w = bzc_queue_outstanding(&ring, l, a, k, buf, more);
	KL_EXPECT_EQ(io_uring_submit(&ring), 34, "submit what stays in flight");
	completed = io_uring_cq_ready(&ring);
	KL_ASSERT(completed < 34, "every command completed before the ring was closed");
	io_uring_queue_exit(&ring);

	/* the connection is the files', not the ring's */
	kl_ring_init(&again, 8, BZC_RING);
	bzc_fill(fresh, 1 << 20, 7);
	/* the closed ring's 32 WRITEs and READs hold the connection's slots until they end */
	end = kl_now_ms() + 15000LL * kl_scale();
	while ((ret = bzc_rw(&again, k, BZC_U_CMD_WRITE, fresh, NEW, 1 << 20, 1)) == -ENOBUFS &&
	       kl_now_ms() < end)
		usleep(50 * 1000);
	KL_EXPECT_EQ(ret, 1 << 20, "WRITE through a new ring after the first one closed");
	memset(fresh, 0, 1 << 20);
	KL_EXPECT_EQ(bzc_rw(&again, k, BZC_U_CMD_READ, fresh, NEW, 1 << 20, 1), 1 << 20,
		     "READ back through the new ring");
	bad = bzc_check(fresh, 1 << 20, 7);
	KL_ASSERT(bad < 0, "READ back after the ring closed: byte %lld differs", bad);
	bad = bzc_check(region + NEW, 1 << 20, 7);
	KL_ASSERT(bad < 0, "the region after the WRITE: byte %lld differs", bad);
	io_uring_queue_exit(&again);
	close(w);
	close(k);
	close(a);
	close(l);

	end = kl_now_ms() + 15000LL * kl_scale();
	while (bzc_rdma_res("cm_id") || bzc_rdma_res("mr") || bzc_vmpin_kb() != pinned0) {
		KL_ASSERT(kl_now_ms() < end, "cm_ids %d, MRs %d, VmPin %ld kB (was %ld) %d s after closing",
			  bzc_rdma_res("cm_id"), bzc_rdma_res("mr"), bzc_vmpin_kb(), pinned0, 15 * kl_scale());
		usleep(100 * 1000);
	}
	KL_EXPECT_EQ(bzc_rdma_res("qp | grep -w RC"), 0, "RC QPs after closing");
	KL_EXPECT_EQ(bzc_rdma_res("pd"), pds, "PDs after closing, as before");
	kl_info("%s: ring closed with %d of 34 commands completed; the connection carried 1 MiB each way after it; nothing left",
		prov, completed);
	bzc_link_delete(prov);
	kl_pass();
}
