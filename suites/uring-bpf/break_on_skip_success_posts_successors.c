// SPDX-License-Identifier: GPL-2.0
/*
 * BREAK on a request submitted with IOSQE_CQE_SKIP_SUCCESS (review B9):
 * its successors are cancelled and each posts its -ECANCELED CQE; nothing
 * in the link goes silent. (io_uring cancels the rest of a link silently
 * when a CQE_SKIP_SUCCESS request fails, as the one error CQE stands for the
 * link; a BREAK'd request's CQE carries its successful result, so the
 * application could not tell its link is gone.) The broken READ's own CQE
 * is posted with its result, unless the verdict also has SKIP; the
 * successors' CQEs are posted either way, also when they carry
 * CQE_SKIP_SUCCESS themselves and when the READ was short (failed anyway).
 * The WRITE never runs: the output file stays empty.
 */
#include "ubpf.h"

#define UD_SKIP_TOO	0x100	/* user_data bit: the program returns BREAK|SKIP */

static void queue_chain(struct io_uring *ring, int in, int out, char *buf, unsigned int rlen,
			__u64 ud)
{
	struct io_uring_sqe *sqe;

	sqe = ubpf_sqe(ring);
	io_uring_prep_read(sqe, in, buf, rlen, 0);
	sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
	sqe->user_data = ud;
	sqe = ubpf_sqe(ring);
	io_uring_prep_write(sqe, out, buf, 4096, 0);
	sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
	sqe->user_data = ud + 1;
	sqe = ubpf_sqe(ring);
	io_uring_prep_nop(sqe);
	sqe->user_data = ud + 2;
	KL_EXPECT_EQ(io_uring_submit(ring), 3, "submit READ -> WRITE -> NOP");
}

static void check_successors(struct ubpf_cqe *c, int n, __u64 ud, const char *what)
{
	char w[160];

	snprintf(w, sizeof(w), "%s: linked WRITE (CQE_SKIP_SUCCESS) after the BREAK", what);
	KL_EXPECT_EQ(ubpf_res(c, n, ud + 1, w), -ECANCELED, w);
	snprintf(w, sizeof(w), "%s: linked NOP after the BREAK", what);
	KL_EXPECT_EQ(ubpf_res(c, n, ud + 2, w), -ECANCELED, w);
}

int main(void)
{
	char inpath[256], outpath[256], buf[8192];
	struct ubpf_cqe c[8];
	struct io_uring ring;
	struct stat st;
	int prog, in, out, n;

	close(ubpf_require());
	/* READs: BREAK, or BREAK|SKIP when user_data has UD_SKIP_TOO; others: default */
	prog = UBPF_ASM(
		I_MOV_REG(R6, R1),
		I_LDX(BPF_B, R3, R6, UBPF_OFF_OPCODE),
		I_JMP_IMM(BPF_JNE, R3, IORING_OP_READ, TO(2)),
		I_LDX(BPF_DW, R2, R6, UBPF_OFF_USER_DATA),
		I_ALU_IMM(BPF_AND, R2, UD_SKIP_TOO),
		I_JMP_IMM(BPF_JNE, R2, 0, TO(1)),
		I_RET(UBPF_BREAK),
		UBPF_L(1),
		I_RET(UBPF_BREAK | UBPF_SKIP),
		UBPF_L(2),
		I_RET(UBPF_DEFAULT));
	if (prog < 0)
		kl_fail("load: %s\n%s", strerror(errno), ubpf_log);

	ubpf_defer_ring(&ring, 16);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");
	in = ubpf_make_file("in", 4096, inpath, sizeof(inpath));
	out = ubpf_out_file("out", outpath, sizeof(outpath));

	/* a full READ, BREAK: three CQEs */
	queue_chain(&ring, in, out, buf, 4096, 1);
	n = ubpf_reap(&ring, c, 8, 200);
	KL_EXPECT_EQ(n, 3, "full READ, BREAK: CQEs (READ, WRITE, NOP)");
	KL_EXPECT_EQ(ubpf_res(c, n, 1, "full READ, BREAK"), 4096,
		     "full READ, BREAK: the READ's own CQE (its result)");
	check_successors(c, n, 1, "full READ, BREAK");

	/* a short READ (failed anyway), BREAK: three CQEs */
	queue_chain(&ring, in, out, buf, 8192, 11);
	n = ubpf_reap(&ring, c, 8, 200);
	KL_EXPECT_EQ(n, 3, "short READ, BREAK: CQEs (READ, WRITE, NOP)");
	KL_EXPECT_EQ(ubpf_res(c, n, 11, "short READ, BREAK"), 4096,
		     "short READ, BREAK: the READ's own CQE (its result)");
	check_successors(c, n, 11, "short READ, BREAK");

	/* a full READ, BREAK|SKIP: the READ's CQE goes, the successors' stay */
	queue_chain(&ring, in, out, buf, 4096, UD_SKIP_TOO | 21);
	n = ubpf_reap(&ring, c, 8, 200);
	KL_ASSERT(!ubpf_find(c, n, UD_SKIP_TOO | 21),
		  "full READ, BREAK|SKIP: want no CQE for the READ, got res %d",
		  ubpf_find(c, n, UD_SKIP_TOO | 21) ? ubpf_find(c, n, UD_SKIP_TOO | 21)->res : 0);
	KL_EXPECT_EQ(n, 2, "full READ, BREAK|SKIP: CQEs (WRITE, NOP)");
	check_successors(c, n, UD_SKIP_TOO | 21, "full READ, BREAK|SKIP");

	if (fstat(out, &st))
		kl_fail("fstat %s: %s", outpath, strerror(errno));
	KL_EXPECT_EQ(st.st_size, 0, "bytes in the output file (no WRITE may have run)");
	io_uring_queue_exit(&ring);
	kl_pass();
}
