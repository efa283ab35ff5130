// SPDX-License-Identifier: GPL-2.0
/*
 * Which program a request meets is the ring's at its completion, not the
 * one attached when it was submitted (review finding B9): a pipe READ
 * submitted under program P1 (return 0: CQEs as usual), still in flight
 * when P1 is detached and a skip-all P2 attached, completes under P2 and
 * its CQE is skipped. A READ submitted with no program attached is not
 * shown to one attached later: its CQE is posted.
 */
#include "ubpf.h"

int main(void)
{
	struct io_uring_sqe *sqe;
	struct ubpf_cqe c[8];
	struct io_uring ring;
	int p1, p2, fds[2], fds2[2];
	char buf[8], buf2[8];

	close(ubpf_require());
	p1 = UBPF_ASM(I_RET(0));
	p2 = UBPF_ASM(I_RET(UBPF_SKIP));
	if (p1 < 0 || p2 < 0)
		kl_fail("load: %s\n%s", strerror(errno), ubpf_log);
	if (pipe(fds) || pipe(fds2))
		kl_fail("pipe: %s", strerror(errno));
	ubpf_defer_ring(&ring, 16);

	/* READ 2 with no program attached */
	sqe = ubpf_sqe(&ring);
	io_uring_prep_read(sqe, fds2[0], buf2, 5, 0);
	sqe->user_data = 2;
	io_uring_submit(&ring);

	KL_EXPECT_EQ(ubpf_attach(&ring, p1), 0, "attach P1");
	sqe = ubpf_sqe(&ring);
	io_uring_prep_read(sqe, fds[0], buf, 5, 0);
	sqe->user_data = 1;
	io_uring_submit(&ring);
	KL_EXPECT_EQ(ubpf_reap(&ring, c, 8, 50), 0, "CQEs before the pipes have data");

	KL_EXPECT_EQ(ubpf_detach(&ring), 0, "detach P1");
	KL_EXPECT_EQ(ubpf_attach(&ring, p2), 0, "attach P2 (skip all)");
	if (write(fds[1], "hello", 5) != 5 || write(fds2[1], "world", 5) != 5)
		kl_fail("write pipe: %s", strerror(errno));
	KL_EXPECT_EQ(ubpf_reap(&ring, c, 8, 300), 1, "CQEs: READ 1 skipped by P2, READ 2 posted");
	KL_EXPECT_EQ(c[0].user_data, 2, "the posted CQE is the READ submitted with no program");
	KL_EXPECT_EQ(c[0].res, 5, "its result");
	KL_EXPECT_EQ(ubpf_detach(&ring), 0, "detach P2");
	io_uring_queue_exit(&ring);
	kl_pass();
}
