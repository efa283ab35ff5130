// SPDX-License-Identifier: GPL-2.0
/*
 * bpf_io_uring_cqe_set_res() replaces the result the CQE carries, for the
 * request the program chooses only; it does not change the link decision
 * (a short READ whose result is raised to the full length still breaks).
 */
#include "ubpf.h"

int main(void)
{
	char inpath[256], outpath[256], buf[8192];
	struct ubpf_cqe c[16];
	struct io_uring ring;
	int prog, n, i, in, out;

	close(ubpf_require());
	prog = UBPF_ASM(
		I_MOV_REG(R6, R1),
		I_LDX(BPF_DW, R2, R6, UBPF_OFF_USER_DATA),
		I_JMP_IMM(BPF_JEQ, R2, 7, TO(1)),
		I_JMP_IMM(BPF_JEQ, R2, 20, TO(2)),
		I_MOV_IMM(R0, 0),
		I_EXIT(),
		UBPF_L(1),
		I_MOV_REG(R1, R6),
		I_MOV_IMM(R2, 12345),
		I_CALL(UBPF_FUNC_SET_RES),
		I_MOV_IMM(R0, 0),
		I_EXIT(),
		UBPF_L(2),		/* the short READ: claim it was full */
		I_MOV_REG(R1, R6),
		I_LDX(BPF_W, R2, R6, UBPF_OFF_LEN),
		I_CALL(UBPF_FUNC_SET_RES),
		I_MOV_IMM(R0, 0),
		I_EXIT());
	if (prog < 0)
		kl_fail("load: %s\n%s", strerror(errno), ubpf_log);
	ubpf_defer_ring(&ring, 16);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");
	for (i = 1; i <= 10; i++) {
		struct io_uring_sqe *sqe = ubpf_sqe(&ring);

		io_uring_prep_nop(sqe);
		sqe->user_data = i;
	}
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 16, 200);
	KL_EXPECT_EQ(n, 10, "CQEs");
	for (i = 1; i <= 10; i++)
		KL_EXPECT_EQ(ubpf_res(c, n, i, "nop"), i == 7 ? 12345 : 0, "NOP result");

	in = ubpf_make_file("in", 4096, inpath, sizeof(inpath));
	out = ubpf_out_file("out", outpath, sizeof(outpath));
	ubpf_queue_read_write(&ring, in, out, buf, 8192, 4096, IOSQE_IO_LINK, 20, 21, 0);
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 16, 200);
	KL_EXPECT_EQ(ubpf_res(c, n, 20, "read"), 8192, "short read reported as its sqe->len");
	KL_EXPECT_EQ(ubpf_res(c, n, 21, "write"), -ECANCELED, "link still broken by the real result");
	io_uring_queue_exit(&ring);
	kl_pass();
}
