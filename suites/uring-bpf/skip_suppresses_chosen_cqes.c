// SPDX-License-Identifier: GPL-2.0
/*
 * SKIP drops exactly the CQEs the program chooses: of 64 NOPs (half of them
 * IOSQE_ASYNC, completed through io-wq) the ones with an odd user_data are
 * dropped, all even ones arrive, and the program (counting its runs in a
 * map) ran exactly once per request. A skipped short READ can still
 * CONTINUE its link: only the WRITE's CQE arrives.
 */
#include "ubpf.h"

#define NR 64

int main(void)
{
	char inpath[256], outpath[256], buf[8192];
	struct ubpf_cqe c[NR + 8];
	struct io_uring ring;
	int map, prog, n, i, in, out;
	__u64 runs;

	close(ubpf_require());
	map = ubpf_counter_map();
	prog = UBPF_ASM(
		I_MOV_REG(R6, R1),
		I_COUNT_RUN(map),
		I_LDX(BPF_B, R3, R6, UBPF_OFF_OPCODE),
		I_JMP_IMM(BPF_JEQ, R3, IORING_OP_READ, TO(2)),
		I_LDX(BPF_DW, R2, R6, UBPF_OFF_USER_DATA),
		I_MOV_IMM(R0, 0),
		I_JMP_IMM(BPF_JSET, R2, 1, TO(1)),
		I_EXIT(),
		UBPF_L(1),
		I_MOV_IMM(R0, UBPF_SKIP),
		I_EXIT(),
		UBPF_L(2),
		I_MOV_IMM(R0, UBPF_SKIP | UBPF_CONTINUE),
		I_EXIT());
	if (prog < 0)
		kl_fail("load: %s\n%s", strerror(errno), ubpf_log);

	ubpf_defer_ring(&ring, 128);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");
	for (i = 0; i < NR; i++) {
		struct io_uring_sqe *sqe = ubpf_sqe(&ring);

		io_uring_prep_nop(sqe);
		sqe->user_data = i;
		if (i & 2)
			sqe->flags |= IOSQE_ASYNC;
	}
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, NR + 8, 300);
	for (i = 0; i < n; i++)
		if (c[i].user_data & 1)
			kl_fail("CQE of user_data %llu should have been skipped",
				(unsigned long long)c[i].user_data);
	KL_EXPECT_EQ(n, NR / 2, "CQEs posted (even user_data only)");
	runs = ubpf_counter_read(map);
	KL_EXPECT_EQ(runs, NR, "program runs (once per request)");
	kl_info("%d NOPs: %d CQEs posted, %d skipped, program ran %llu times", NR, n, NR - n,
		(unsigned long long)runs);

	in = ubpf_make_file("in", 4096, inpath, sizeof(inpath));
	out = ubpf_out_file("out", outpath, sizeof(outpath));
	ubpf_queue_read_write(&ring, in, out, buf, 8192, 4096, IOSQE_IO_LINK, 1000, 1002, 0);
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, NR + 8, 300);
	KL_EXPECT_EQ(n, 1, "CQEs of a READ(skipped, continued) -> WRITE link");
	KL_EXPECT_EQ(c[0].user_data, 1002, "the one CQE is the WRITE's");
	KL_EXPECT_EQ(c[0].res, 4096, "write");
	KL_EXPECT_EQ(ubpf_counter_read(map), NR + 2, "program runs");
	io_uring_queue_exit(&ring);
	kl_pass();
}
