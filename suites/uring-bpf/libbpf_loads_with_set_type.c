// SPDX-License-Identifier: GPL-2.0
/*
 * Debian's libbpf 1.1 knows neither BPF_PROG_TYPE_IO_URING_CQE nor a section
 * name for it: setting the type by number before bpf_object__load() is
 * enough to load cqe_prog.bpf.o with it, and the program works.
 */
#include "ubpf.h"
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : vprintf(fmt, ap);
}

int main(void)
{
	char inpath[256], outpath[256], buf[8192];
	struct bpf_program *p;
	struct bpf_object *obj;
	struct ubpf_cqe c[8];
	struct io_uring ring;
	int prog, in, out, n, err;

	close(ubpf_require());
	libbpf_set_print(quiet);
	obj = bpf_object__open_file("cqe_prog.bpf.o", NULL);
	if (!obj)
		kl_skip("cqe_prog.bpf.o: %s (suite built without clang?)", strerror(errno));
	p = bpf_object__find_program_by_name(obj, "continue_short_reads");
	if (!p)
		kl_fail("no program continue_short_reads in cqe_prog.bpf.o");
	err = bpf_program__set_type(p, UBPF_PROG_TYPE);
	KL_EXPECT_EQ(err, 0, "bpf_program__set_type(48)");
	err = bpf_object__load(obj);
	if (err)
		kl_fail("bpf_object__load: %s", strerror(-err));
	prog = bpf_program__fd(p);

	ubpf_defer_ring(&ring, 8);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");
	in = ubpf_make_file("in", 4096, inpath, sizeof(inpath));
	out = ubpf_out_file("out", outpath, sizeof(outpath));
	ubpf_queue_read_write(&ring, in, out, buf, 8192, 4096, IOSQE_IO_LINK, 1, 2, 0);
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 8, 200);
	KL_EXPECT_EQ(ubpf_res(c, n, 1, "read"), 0x5151, "short read, result replaced");
	KL_EXPECT_EQ(ubpf_res(c, n, 2, "write"), 4096, "write after the short read");
	io_uring_queue_exit(&ring);
	bpf_object__close(obj);
	kl_pass();
}
