// SPDX-License-Identifier: GPL-2.0
/*
 * Without a program, and with a program that returns the default verdict, a
 * READ of 8192 bytes from a 4096-byte file breaks its IOSQE_IO_LINK: the
 * linked WRITE completes with -ECANCELED.
 */
#include "ubpf.h"

static void run(int prog_fd, const char *what)
{
	char inpath[256], outpath[256], buf[8192];
	struct ubpf_cqe c[8];
	struct io_uring ring;
	int in, out, n;

	ubpf_defer_ring(&ring, 8);
	if (prog_fd >= 0) {
		int ret = ubpf_attach(&ring, prog_fd);

		KL_EXPECT_EQ(ret, 0, "attach");
	}
	in = ubpf_make_file("in", 4096, inpath, sizeof(inpath));
	out = ubpf_out_file("out", outpath, sizeof(outpath));
	ubpf_queue_read_write(&ring, in, out, buf, 8192, 4096, IOSQE_IO_LINK, 1, 2, 0);
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 8, 200);
	kl_info("%s: read %d, write %d", what, ubpf_res(c, n, 1, what), ubpf_res(c, n, 2, what));
	KL_EXPECT_EQ(ubpf_res(c, n, 1, what), 4096, "short read");
	KL_EXPECT_EQ(ubpf_res(c, n, 2, what), -ECANCELED, "linked write");
	KL_EXPECT_EQ(n, 2, "CQE count");
	io_uring_queue_exit(&ring);
	close(in);
	close(out);
}

int main(void)
{
	int prog = ubpf_require();

	run(-1, "no program");
	run(prog, "default verdict");
	kl_pass();
}
