// SPDX-License-Identifier: GPL-2.0
/*
 * A program returning CONTINUE for a failed READ keeps the link going: the
 * READ of 8192 bytes from a 4096-byte file is short (4096), the linked WRITE
 * still runs and writes 4096 bytes, which match the input. Inline and
 * IOSQE_ASYNC (io-wq) reads, and a chain of several pairs.
 */
#include "ubpf.h"

static int continue_failed_reads(void)
{
	return UBPF_ASM(
		I_MOV_IMM(R0, 0),
		I_LDX(BPF_W, R2, R1, UBPF_OFF_FLAGS),
		I_JMP_IMM(BPF_JSET, R2, UBPF_F_FAILED, TO(1)),
		I_EXIT(),
		UBPF_L(1),
		I_LDX(BPF_B, R3, R1, UBPF_OFF_OPCODE),
		I_JMP_IMM(BPF_JNE, R3, IORING_OP_READ, TO(2)),
		I_MOV_IMM(R0, UBPF_CONTINUE),
		UBPF_L(2),
		I_EXIT());
}

static void check_copy(const char *path, size_t want)
{
	char a[4096], b[4096], inpath[256];
	struct stat st;
	int fd, in;
	size_t i;

	if (stat(path, &st))
		kl_fail("stat %s: %s", path, strerror(errno));
	KL_EXPECT_EQ(st.st_size, want, "output size");
	snprintf(inpath, sizeof(inpath), "%s/in", ubpf_tmpdir());
	in = open(inpath, O_RDONLY);
	fd = open(path, O_RDONLY);
	for (i = 0; i < want; i += 4096) {
		if (pread(in, a, 4096, 0) != 4096 || pread(fd, b, 4096, i) != 4096)
			kl_fail("read back %s", path);
		if (memcmp(a, b, 4096))
			kl_fail("%s: block at %zu differs from the input", path, i);
	}
	close(fd);
	close(in);
}

static void run(int prog, __u8 extra_flags, int pairs, const char *what)
{
	char inpath[256], outpath[256];
	static char buf[8192];
	struct ubpf_cqe c[64];
	struct io_uring ring;
	int in, out, n, i;

	ubpf_defer_ring(&ring, 64);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");
	in = ubpf_make_file("in", 4096, inpath, sizeof(inpath));
	out = ubpf_out_file("out", outpath, sizeof(outpath));
	for (i = 0; i < pairs; i++) {
		struct io_uring_sqe *sqe;

		sqe = ubpf_sqe(&ring);
		io_uring_prep_read(sqe, in, buf, 8192, 0);
		sqe->flags |= IOSQE_IO_LINK | extra_flags;
		sqe->user_data = 100 + i;
		sqe = ubpf_sqe(&ring);
		io_uring_prep_write(sqe, out, buf, 4096, (__u64)i * 4096);
		if (i + 1 < pairs)
			sqe->flags |= IOSQE_IO_LINK;
		sqe->user_data = 200 + i;
	}
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 64, 300);
	KL_EXPECT_EQ(n, 2 * pairs, "CQE count");
	for (i = 0; i < pairs; i++) {
		KL_EXPECT_EQ(ubpf_res(c, n, 100 + i, what), 4096, "short read");
		KL_EXPECT_EQ(ubpf_res(c, n, 200 + i, what), 4096, "write after short read");
	}
	check_copy(outpath, (size_t)pairs * 4096);
	kl_info("%s: %d short read(s) continued, %d write(s) of 4096", what, pairs, pairs);
	io_uring_queue_exit(&ring);
	close(in);
	close(out);
}

int main(void)
{
	int prog;

	close(ubpf_require());
	prog = continue_failed_reads();
	if (prog < 0)
		kl_fail("load continue program: %s\n%s", strerror(errno), ubpf_log);
	run(prog, 0, 1, "inline read");
	run(prog, IOSQE_ASYNC, 1, "io-wq read");
	run(prog, 0, 8, "8-pair chain");
	kl_pass();
}
