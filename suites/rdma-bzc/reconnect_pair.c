// SPDX-License-Identifier: GPL-2.0
/*
 * reconnect_pair rxe|siw: two guests. a connects to b, both close their
 * files at once (no DISCONNECT first), and a connects to b again on
 * another port over the same link: the second connection carries 1 MiB
 * WRITTEN by a, which b finds in its region after DEREG. If it does not,
 * b tells a connection that went down (a command after it fails) from
 * data that went missing on a live one.
 */
#include "bzc_test.h"

#define CHUNK	(1 << 20)

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	unsigned char *buf = bzc_alloc(CHUNK);
	struct io_uring ring;
	struct kl_cqe c;
	int l, f, is_b, l2 = -1, f2;
	long long bad;

	l = bzc_pair_connect(prov, &ring, &f, &is_b);
	bzc_barrier("connected");
	close(f);
	if (l >= 0)
		close(l);
	bzc_barrier("closed");
	f2 = bzc_open();
	if (is_b) {
		l2 = bzc_open();
		bzc_prep_listen(&ring, l2, BZC_PORT + 1, 1);
		KL_EXPECT_EQ(bzc_run(&ring), 0, "b: LISTEN again");
		bzc_prep_accept(&ring, f2, l2, 'A');
		KL_EXPECT_EQ(io_uring_submit(&ring), 1, "b: submit ACCEPT");
		bzc_barrier("listening2");
		c = bzc_wait(&ring, "b: second ACCEPT");
		KL_EXPECT_EQ(c.res, 0, "b: ACCEPT of a's second connection");
		KL_EXPECT_EQ(bzc_reg(&ring, f2, buf, CHUNK, BZC_ACCESS_REMOTE_WRITE), 1,
			     "b: REG on the second connection");
		bzc_barrier("registered");
		bzc_barrier("written");
		KL_EXPECT_EQ(bzc_dereg(&ring, f2, 1), 0, "b: DEREG on the second connection");
		bad = bzc_check(buf, CHUNK, 3);
		if (bad >= 0) {
			int probe = bzc_reg(&ring, f2, buf, 4096, BZC_ACCESS_REMOTE_WRITE);

			kl_fail("b: a's 1 MiB WRITE on the second connection: byte %lld on differs%s (a REG after it: %d)",
				bad, probe < 0 ? ", and the connection had gone down" : " on a live connection",
				probe);
		}
		bzc_barrier("checked");
	} else {
		bzc_barrier("listening2");
		bzc_prep_connect(&ring, f2, bzc_peer_addr(BZC_PORT + 1), 'C');
		io_uring_submit(&ring);
		c = bzc_wait(&ring, "a: second CONNECT");
		KL_EXPECT_EQ(c.res, 0, "a: CONNECT to b again");
		bzc_barrier("registered");
		bzc_fill(buf, CHUNK, 3);
		KL_EXPECT_EQ(bzc_rw(&ring, f2, BZC_U_CMD_WRITE, buf, 0, CHUNK, 1), CHUNK,
			     "a: WRITE on the second connection");
		bzc_barrier("written");
		bzc_barrier("checked");
	}
	close(f2);
	if (l2 >= 0)
		close(l2);
	io_uring_queue_exit(&ring);
	bzc_barrier("end");
	bzc_link_delete(prov);
	kl_info("%s: guest %s: a second connection after closing the first carried 1 MiB, verified", prov,
		is_b ? "b" : "a");
	kl_pass();
}
