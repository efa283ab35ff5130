// SPDX-License-Identifier: GPL-2.0
/*
 * Closing rings that still have a program attached and requests in flight
 * (pipe READs linked to WRITEs, IOSQE_ASYNC NOPs) releases the program: no
 * io_uring CQE program stays loaded once the rings are gone, and a new ring
 * with a new program works afterwards. Kernel reports (KASAN, lockdep,
 * WARN) are caught by the harness.
 */
#include "ubpf.h"

#define ROUNDS 20

int main(void)
{
	char buf[ROUNDS][64];
	struct ubpf_cqe c[8];
	struct io_uring ring;
	int r, i, n, prog, fds[2], left = -1;

	close(ubpf_require());
	for (r = 0; r < ROUNDS; r++) {
		prog = UBPF_ASM(I_RET(UBPF_CONTINUE | UBPF_SKIP));
		if (prog < 0)
			kl_fail("load: %s\n%s", strerror(errno), ubpf_log);
		ubpf_defer_ring(&ring, 32);
		KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");
		if (r & 1)
			close(prog);	/* the ring holds its own reference */
		if (pipe(fds))
			kl_fail("pipe: %s", strerror(errno));
		for (i = 0; i < 4; i++) {
			struct io_uring_sqe *sqe = ubpf_sqe(&ring);

			io_uring_prep_read(sqe, fds[0], buf[i], 64, 0);
			sqe->flags |= IOSQE_IO_LINK;
			sqe = ubpf_sqe(&ring);
			io_uring_prep_write(sqe, fds[1], buf[i], 64, 0);
			sqe = ubpf_sqe(&ring);
			io_uring_prep_nop(sqe);
			sqe->flags |= IOSQE_ASYNC;
		}
		io_uring_submit(&ring);
		if (r % 4 == 0)
			ubpf_reap(&ring, c, 8, 10);
		io_uring_queue_exit(&ring);
		close(fds[0]);
		close(fds[1]);
		if (!(r & 1))
			close(prog);
	}

	/* rings are freed from a workqueue; give them a moment */
	for (i = 0; i < 50; i++) {
		left = ubpf_count_loaded();
		if (left == 0)
			break;
		usleep(100 * 1000);
	}
	KL_EXPECT_EQ(left, 0, "io_uring CQE programs still loaded after closing the rings");

	prog = UBPF_ASM(I_RET(UBPF_SKIP));
	ubpf_defer_ring(&ring, 8);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach to a new ring");
	io_uring_prep_nop(ubpf_sqe(&ring));
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 8, 100);
	KL_EXPECT_EQ(n, 0, "CQEs on the new ring with a skip-all program");
	io_uring_queue_exit(&ring);
	close(prog);
	kl_info("%d rings closed with a program attached, %d programs left", ROUNDS, left);
	kl_pass();
}
