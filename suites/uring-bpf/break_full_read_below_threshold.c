// SPDX-License-Identifier: GPL-2.0
/*
 * A program returning BREAK when a READ's result is below a threshold breaks
 * the link even though the read was full (4096 of 4096 requested): the linked
 * WRITE completes with -ECANCELED. Above the threshold the WRITE runs.
 */
#include "ubpf.h"

static int break_below(int threshold)
{
	return UBPF_ASM(
		I_MOV_IMM(R0, 0),
		I_LDX(BPF_B, R3, R1, UBPF_OFF_OPCODE),
		I_JMP_IMM(BPF_JNE, R3, IORING_OP_READ, TO(1)),
		I_LDX(BPF_W, R2, R1, UBPF_OFF_RES),
		I_JMP32_IMM(BPF_JSGE, R2, threshold, TO(1)),
		I_MOV_IMM(R0, UBPF_BREAK),
		UBPF_L(1),
		I_EXIT());
}

static void run(int threshold, int want_write)
{
	char inpath[256], outpath[256], buf[4096];
	struct ubpf_cqe c[8];
	struct io_uring ring;
	int prog, in, out, n;

	prog = break_below(threshold);
	if (prog < 0)
		kl_fail("load: %s\n%s", strerror(errno), ubpf_log);
	ubpf_defer_ring(&ring, 8);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");
	in = ubpf_make_file("in", 4096, inpath, sizeof(inpath));
	out = ubpf_out_file("out", outpath, sizeof(outpath));
	ubpf_queue_read_write(&ring, in, out, buf, 4096, 4096, IOSQE_IO_LINK, 1, 2, 0);
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 8, 200);
	kl_info("threshold %d: read %d, write %d", threshold, ubpf_res(c, n, 1, "read"),
		ubpf_res(c, n, 2, "write"));
	KL_EXPECT_EQ(ubpf_res(c, n, 1, "read"), 4096, "full read");
	KL_EXPECT_EQ(ubpf_res(c, n, 2, "write"), want_write, "linked write");
	io_uring_queue_exit(&ring);
	close(prog);
	close(in);
	close(out);
}

int main(void)
{
	close(ubpf_require());
	run(8000, -ECANCELED);
	run(1000, 4096);
	kl_pass();
}
