// SPDX-License-Identifier: GPL-2.0
/*
 * connect_pair rxe|siw: two guests on one link. b listens on its address and
 * parks an ACCEPT; a connects to b; both complete with 0. a disconnects: its
 * DISCONNECT completes with 0 and b's side reads as down (DISCONNECT there
 * completes with 0 too). Each guest then closes its files and has no cm_id
 * left, and deletes its device.
 */
#include "bzc_test.h"

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	struct io_uring ring;
	struct kl_cqe c;
	int l, f, is_b;

	l = bzc_pair_connect(prov, &ring, &f, &is_b);
	if (is_b) {
		bzc_barrier("connected");
		bzc_barrier("a-disconnected");
		bzc_prep_disconnect(&ring, f, 'D');
		io_uring_submit(&ring);
		c = bzc_wait(&ring, "b: DISCONNECT after a's");
		KL_EXPECT_EQ(c.res, 0, "b: DISCONNECT after a took the connection down");
	} else {
		bzc_barrier("connected");
		bzc_prep_disconnect(&ring, f, 'D');
		io_uring_submit(&ring);
		c = bzc_wait(&ring, "a: DISCONNECT");
		KL_EXPECT_EQ(c.res, 0, "a: DISCONNECT");
		bzc_barrier("a-disconnected");
	}
	io_uring_queue_exit(&ring);
	close(f);
	if (l >= 0)
		close(l);
	KL_EXPECT_EQ(bzc_rdma_res("cm_id"), 0, "cm_ids on this guest after closing its files");
	bzc_barrier("closed");
	bzc_link_delete(prov);
	kl_info("%s: guest %s connected, disconnected and closed; nothing left", prov, is_b ? "b" : "a");
	kl_pass();
}
