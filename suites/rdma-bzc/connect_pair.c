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
	const char *role = getenv("KL_ROLE");
	struct io_uring ring;
	struct kl_cqe c;
	int l = -1, f;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw", argv[0]);
	KL_ASSERT(role && (!strcmp(role, "a") || !strcmp(role, "b")), "KL_ROLE '%s': a two-guest test", role ? role : "");
	atexit(bzc_leave);
	bzc_link_add(prov);
	kl_ring_init(&ring, 8, BZC_RING);
	f = bzc_open();

	if (!strcmp(role, "b")) {
		l = bzc_open();
		bzc_prep_listen(&ring, l, BZC_PORT, 1);
		KL_EXPECT_EQ(bzc_run(&ring), 0, "b: LISTEN on its address");
		bzc_prep_accept(&ring, f, l, 'A');
		KL_EXPECT_EQ(io_uring_submit(&ring), 1, "b: submit ACCEPT");
		bzc_barrier("listening");
		c = bzc_wait(&ring, "b: ACCEPT");
		KL_EXPECT_EQ(c.res, 0, "b: ACCEPT of a's connection");
		bzc_barrier("connected");
		bzc_barrier("a-disconnected");
		bzc_prep_disconnect(&ring, f, 'D');
		io_uring_submit(&ring);
		c = bzc_wait(&ring, "b: DISCONNECT after a's");
		KL_EXPECT_EQ(c.res, 0, "b: DISCONNECT after a took the connection down");
	} else {
		bzc_barrier("listening");
		bzc_prep_connect(&ring, f, bzc_peer_addr(BZC_PORT), 'C');
		io_uring_submit(&ring);
		c = bzc_wait(&ring, "a: CONNECT to b");
		KL_EXPECT_EQ(c.res, 0, "a: CONNECT to b");
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
	kl_info("%s: guest %s connected, disconnected and closed; nothing left", prov, role);
	kl_pass();
}
