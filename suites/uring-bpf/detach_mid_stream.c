// SPDX-License-Identifier: GPL-2.0
/*
 * Detaching a program mid-stream: CQEs are skipped while it is attached and
 * posted again once detached, including for a READ that was in flight (on an
 * empty pipe) when the program went away. A second detach is -ENXIO, a second
 * attach -EBUSY; re-attaching after a detach works.
 */
#include "ubpf.h"

static int nops(struct io_uring *ring, int base, int nr)
{
	struct ubpf_cqe c[64];
	int i;

	for (i = 0; i < nr; i++) {
		struct io_uring_sqe *sqe = ubpf_sqe(ring);

		io_uring_prep_nop(sqe);
		sqe->user_data = base + i;
	}
	io_uring_submit(ring);
	return ubpf_reap(ring, c, 64, 100);
}

int main(void)
{
	struct io_uring_sqe *sqe;
	struct ubpf_cqe c[8];
	struct io_uring ring;
	int prog, fds[2], n;
	char buf[16];

	close(ubpf_require());
	prog = UBPF_ASM(I_RET(UBPF_SKIP));
	if (prog < 0)
		kl_fail("load: %s\n%s", strerror(errno), ubpf_log);
	ubpf_defer_ring(&ring, 64);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), -EBUSY, "second attach");
	KL_EXPECT_EQ(nops(&ring, 0, 16), 0, "CQEs with a skip-all program");

	/* a READ in flight across the detach */
	if (pipe(fds))
		kl_fail("pipe: %s", strerror(errno));
	sqe = ubpf_sqe(&ring);
	io_uring_prep_read(sqe, fds[0], buf, sizeof(buf), 0);
	sqe->user_data = 99;
	io_uring_submit(&ring);
	KL_EXPECT_EQ(ubpf_reap(&ring, c, 8, 50), 0, "CQEs before the pipe has data");

	KL_EXPECT_EQ(ubpf_detach(&ring), 0, "detach");
	KL_EXPECT_EQ(ubpf_detach(&ring), -ENXIO, "second detach");
	if (write(fds[1], "hello", 5) != 5)
		kl_fail("write pipe: %s", strerror(errno));
	n = ubpf_reap(&ring, c, 8, 200);
	KL_EXPECT_EQ(n, 1, "CQEs of the in-flight READ after detach");
	KL_EXPECT_EQ(c[0].res, 5, "pipe read");
	KL_EXPECT_EQ(nops(&ring, 100, 16), 16, "CQEs after detach");

	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "re-attach");
	KL_EXPECT_EQ(nops(&ring, 200, 16), 0, "CQEs after re-attach");
	KL_EXPECT_EQ(ubpf_detach(&ring), 0, "detach");
	io_uring_queue_exit(&ring);
	close(fds[0]);
	close(fds[1]);
	kl_pass();
}
