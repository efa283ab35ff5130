// SPDX-License-Identifier: GPL-2.0
/*
 * Hard links keep their contract with a program attached: a BREAK verdict on
 * an IOSQE_IO_HARDLINK request does not cancel its successor, and a short
 * read in a hard link goes on as it does without a program. The program
 * sees IORING_CQE_BPF_F_HARDLINK (checked by replacing the READ's result).
 */
#include "ubpf.h"

int main(void)
{
	char inpath[256], outpath[256], buf[8192];
	struct ubpf_cqe c[8];
	struct io_uring ring;
	int prog, in, out, n;

	close(ubpf_require());
	/* BREAK every READ; mark with res 777 if it saw F_HARDLINK|F_LINK */
	prog = UBPF_ASM(
		I_MOV_REG(R6, R1),
		I_LDX(BPF_B, R3, R6, UBPF_OFF_OPCODE),
		I_JMP_IMM(BPF_JNE, R3, IORING_OP_READ, TO(2)),
		I_LDX(BPF_W, R2, R6, UBPF_OFF_FLAGS),
		I_ALU_IMM(BPF_AND, R2, UBPF_F_HARDLINK | UBPF_F_LINK),
		I_JMP_IMM(BPF_JNE, R2, UBPF_F_HARDLINK | UBPF_F_LINK, TO(1)),
		I_MOV_REG(R1, R6),
		I_MOV_IMM(R2, 777),
		I_CALL(UBPF_FUNC_SET_RES),
		UBPF_L(1),
		I_MOV_IMM(R0, UBPF_BREAK),
		I_EXIT(),
		UBPF_L(2),
		I_MOV_IMM(R0, 0),
		I_EXIT());
	if (prog < 0)
		kl_fail("load: %s\n%s", strerror(errno), ubpf_log);

	ubpf_defer_ring(&ring, 8);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");
	in = ubpf_make_file("in", 4096, inpath, sizeof(inpath));
	out = ubpf_out_file("out", outpath, sizeof(outpath));

	/* full read, BREAK verdict, hard link */
	ubpf_queue_read_write(&ring, in, out, buf, 4096, 4096, IOSQE_IO_HARDLINK, 1, 2, 0);
	/* short read, BREAK verdict, hard link */
	ubpf_queue_read_write(&ring, in, out, buf, 8192, 4096, IOSQE_IO_HARDLINK, 3, 4, 4096);
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 8, 200);
	KL_EXPECT_EQ(n, 4, "CQE count");
	KL_EXPECT_EQ(ubpf_res(c, n, 1, "read"), 777, "full read (777: program saw HARDLINK)");
	KL_EXPECT_EQ(ubpf_res(c, n, 2, "write"), 4096, "write after BREAK on a hard link");
	KL_EXPECT_EQ(ubpf_res(c, n, 3, "read"), 777, "short read (777: program saw HARDLINK)");
	KL_EXPECT_EQ(ubpf_res(c, n, 4, "write"), 4096, "write after short read + BREAK on a hard link");

	/* the same BREAK on a soft link does cancel */
	ubpf_queue_read_write(&ring, in, out, buf, 4096, 4096, IOSQE_IO_LINK, 5, 6, 0);
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 8, 200);
	KL_EXPECT_EQ(ubpf_res(c, n, 6, "write"), -ECANCELED, "write after BREAK on a soft link");
	io_uring_queue_exit(&ring);
	kl_pass();
}
