// SPDX-License-Identifier: GPL-2.0
/*
 * The tested kernel tree's own libbpf (tools/lib/bpf, built from the tree's
 * copy the run hands the suite as KSRC, linked statically) loads
 * cqe_prog.bpf.o by its section name alone: SEC("io_uring_cqe") makes the
 * program BPF_PROG_TYPE_IO_URING_CQE with no bpf_program__set_type(), libbpf
 * names the type and probes it, and the loaded program steers a link (a short
 * READ reported as 0x5151, the linked WRITE runs).
 *
 * A tree whose libbpf has no such section SKIPs only when the kernel lacks
 * the program type too; a kernel with the type and a libbpf without the
 * section is the set's failure (its libbpf patch is missing).
 */
#include "ubpf.h"
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : vprintf(fmt, ap);
}

/* ubpf_require()'s probe, without its SKIP message: the reason here is libbpf's. */
static bool kernel_has_type(void)
{
	int fd = UBPF_LOAD(I_RET(0));

	if (fd >= 0) {
		close(fd);
		return true;
	}
	if (errno == EINVAL && ubpf_log[0] == '\0')
		return false;
	kl_fail("BPF_PROG_LOAD of a \"return 0\" program of type %d: %s\n%s",
		UBPF_PROG_TYPE, strerror(errno), ubpf_log);
}

int main(void)
{
	char inpath[256], outpath[256], buf[8192];
	enum bpf_attach_type attach = -1;
	enum bpf_prog_type type = 0;
	const char *name;
	struct bpf_program *p;
	struct bpf_object *obj;
	struct ubpf_cqe c[8];
	struct io_uring ring;
	int prog, in, out, n, err;

	libbpf_set_print(quiet);
	obj = bpf_object__open_file("cqe_prog.bpf.o", NULL);
	if (!obj)
		kl_skip("cqe_prog.bpf.o: %s (suite built without clang?)", strerror(errno));
	p = bpf_object__find_program_by_name(obj, "continue_short_reads");
	if (!p)
		kl_fail("no program continue_short_reads in cqe_prog.bpf.o");
	if (bpf_program__type(p) != UBPF_PROG_TYPE) {
		if (!kernel_has_type())
			kl_skip("this tree's libbpf has no SEC(\"io_uring_cqe\") (program type %d, want %d) and the kernel lacks BPF_PROG_TYPE_IO_URING_CQE: uring-bpf patch set not applied",
				bpf_program__type(p), UBPF_PROG_TYPE);
		kl_fail("the kernel has BPF_PROG_TYPE_IO_URING_CQE, but this tree's libbpf gives SEC(\"io_uring_cqe\") program type %d, want %d",
			bpf_program__type(p), UBPF_PROG_TYPE);
	}
	close(ubpf_require());

	name = libbpf_bpf_prog_type_str(UBPF_PROG_TYPE);
	if (!name || strcmp(name, "io_uring_cqe"))
		kl_fail("libbpf_bpf_prog_type_str(%d): want \"io_uring_cqe\", got %s%s%s",
			UBPF_PROG_TYPE, name ? "\"" : "", name ? name : "NULL", name ? "\"" : "");
	err = libbpf_prog_type_by_name("io_uring_cqe", &type, &attach);
	KL_EXPECT_EQ(err, 0, "libbpf_prog_type_by_name(\"io_uring_cqe\")");
	KL_EXPECT_EQ((int)type, UBPF_PROG_TYPE, "its program type");
	KL_EXPECT_EQ((int)attach, 0, "its expected attach type");
	KL_EXPECT_EQ(bpf_program__expected_attach_type(p), 0, "the object's program's expected attach type");
	KL_EXPECT_EQ(libbpf_probe_bpf_prog_type(UBPF_PROG_TYPE, NULL), 1,
		     "libbpf_probe_bpf_prog_type(IO_URING_CQE) (1: supported)");

	err = bpf_object__load(obj);
	if (err)
		kl_fail("bpf_object__load with the type from the section: want 0, got %s", strerror(-err));
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
