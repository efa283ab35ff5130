// SPDX-License-Identifier: GPL-2.0
/*
 * The program sees the completed request: user_data, opcode, result, the
 * length from the SQE and the link flags. It checks each field of a short
 * READ linked to a WRITE and of the WRITE; the first mismatch k is reported
 * by replacing the CQE result with -(1000 + k), a full match with 0x7777.
 */
#include "ubpf.h"

#define CHECK(reg, off, sz, val, k)				\
	I_LDX(sz, reg, R6, off),				\
	I_MOV_IMM(R7, -(1000 + (k))),				\
	I_JMP_IMM(BPF_JNE, reg, val, TO(9))

int main(void)
{
	char inpath[256], outpath[256], buf[8192];
	struct ubpf_cqe c[8];
	struct io_uring ring;
	int prog, n, in, out;

	close(ubpf_require());
	prog = UBPF_ASM(
		I_MOV_REG(R6, R1),
		I_LDX(BPF_DW, R2, R6, UBPF_OFF_USER_DATA),
		I_JMP_IMM(BPF_JEQ, R2, 0x55, TO(1)),
		I_JMP_IMM(BPF_JEQ, R2, 0x56, TO(2)),
		I_MOV_IMM(R0, 0),
		I_EXIT(),
		UBPF_L(1),
		CHECK(R2, UBPF_OFF_OPCODE, BPF_B, IORING_OP_READ, 1),
		CHECK(R2, UBPF_OFF_LEN, BPF_W, 8192, 2),
		CHECK(R2, UBPF_OFF_RES, BPF_W, 4096, 3),
		CHECK(R2, UBPF_OFF_FLAGS, BPF_W, UBPF_F_LINK | UBPF_F_FAILED, 4),
		I_MOV_IMM(R7, 0x7777),
		I_JA(TO(8)),
		UBPF_L(2),
		CHECK(R2, UBPF_OFF_OPCODE, BPF_B, IORING_OP_WRITE, 11),
		CHECK(R2, UBPF_OFF_LEN, BPF_W, 4096, 12),
		CHECK(R2, UBPF_OFF_RES, BPF_W, 4096, 13),
		CHECK(R2, UBPF_OFF_FLAGS, BPF_W, 0, 14),
		I_MOV_IMM(R7, 0x7777),
		UBPF_L(8),
		UBPF_L(9),
		I_MOV_REG(R1, R6),
		I_MOV_REG(R2, R7),
		I_CALL(UBPF_FUNC_SET_RES),
		I_MOV_IMM(R0, UBPF_CONTINUE),
		I_EXIT());
	if (prog < 0)
		kl_fail("load: %s\n%s", strerror(errno), ubpf_log);
	ubpf_defer_ring(&ring, 8);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");
	in = ubpf_make_file("in", 4096, inpath, sizeof(inpath));
	out = ubpf_out_file("out", outpath, sizeof(outpath));
	ubpf_queue_read_write(&ring, in, out, buf, 8192, 4096, IOSQE_IO_LINK, 0x55, 0x56, 0);
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 8, 200);
	KL_EXPECT_EQ(ubpf_res(c, n, 0x55, "read"), 0x7777, "READ fields (-1001 opcode, -1002 len, -1003 res, -1004 flags)");
	KL_EXPECT_EQ(ubpf_res(c, n, 0x56, "write"), 0x7777, "WRITE fields (-1011 opcode, -1012 len, -1013 res, -1014 flags)");
	io_uring_queue_exit(&ring);
	kl_pass();
}
