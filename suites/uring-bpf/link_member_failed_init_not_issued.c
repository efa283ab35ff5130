// SPDX-License-Identifier: GPL-2.0
/*
 * A link whose assembly failed (its last SQE has an invalid opcode) is never
 * run, even under a program that CONTINUEs every failure: the READ and the
 * NOP complete with -ECANCELED and the bad SQE with -EINVAL, none is issued.
 */
#include "ubpf.h"

int main(void)
{
	char inpath[256], buf[64];
	struct io_uring_sqe *sqe;
	struct ubpf_cqe c[8];
	struct io_uring ring;
	int prog, in, n;

	close(ubpf_require());
	prog = UBPF_ASM(I_RET(UBPF_CONTINUE));
	if (prog < 0)
		kl_fail("load: %s\n%s", strerror(errno), ubpf_log);
	ubpf_defer_ring(&ring, 8);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");
	in = ubpf_make_file("in", 4096, inpath, sizeof(inpath));

	sqe = ubpf_sqe(&ring);
	io_uring_prep_read(sqe, in, buf, sizeof(buf), 0);
	sqe->flags |= IOSQE_IO_LINK;
	sqe->user_data = 1;
	sqe = ubpf_sqe(&ring);
	io_uring_prep_nop(sqe);
	sqe->flags |= IOSQE_IO_LINK;
	sqe->user_data = 2;
	sqe = ubpf_sqe(&ring);
	io_uring_prep_nop(sqe);
	sqe->opcode = 250;
	sqe->user_data = 3;
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 8, 200);
	KL_EXPECT_EQ(ubpf_res(c, n, 1, "read"), -ECANCELED, "READ at the head");
	KL_EXPECT_EQ(ubpf_res(c, n, 2, "nop"), -ECANCELED, "NOP in the middle");
	KL_EXPECT_EQ(ubpf_res(c, n, 3, "bad"), -EINVAL, "invalid opcode");
	KL_EXPECT_EQ(n, 3, "CQEs");

	/* and a READ -> NOP link that did assemble runs as usual */
	sqe = ubpf_sqe(&ring);
	io_uring_prep_read(sqe, in, buf, sizeof(buf), 0);
	sqe->flags |= IOSQE_IO_LINK;
	sqe->user_data = 4;
	sqe = ubpf_sqe(&ring);
	io_uring_prep_nop(sqe);
	sqe->user_data = 5;
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 8, 200);
	KL_EXPECT_EQ(ubpf_res(c, n, 4, "read"), (int)sizeof(buf), "READ");
	KL_EXPECT_EQ(ubpf_res(c, n, 5, "nop"), 0, "NOP");
	io_uring_queue_exit(&ring);
	kl_pass();
}
