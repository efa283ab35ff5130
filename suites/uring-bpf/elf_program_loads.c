// SPDX-License-Identifier: GPL-2.0
/*
 * A program compiled from C (cqe_prog.bpf.c, clang -target bpf) loads from
 * its ELF object with plain bpf(2) and steers a link: the short READ is
 * reported as 0x5151 and the linked WRITE runs.
 */
#include "ubpf.h"
#include <elf.h>
#include <sys/mman.h>

static int load_elf_section(const char *path, const char *secname)
{
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	const char *strtab;
	struct stat st;
	void *map;
	int fd, i, prog = -1;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		kl_skip("%s: %s (suite built without clang?)", path, strerror(errno));
	if (fstat(fd, &st))
		kl_fail("stat %s", path);
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		kl_fail("mmap %s", path);
	eh = map;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_machine != EM_BPF)
		kl_fail("%s: not a BPF ELF object", path);
	sh = (const Elf64_Shdr *)((const char *)map + eh->e_shoff);
	strtab = (const char *)map + sh[eh->e_shstrndx].sh_offset;
	for (i = 0; i < eh->e_shnum; i++) {
		if (strcmp(strtab + sh[i].sh_name, secname))
			continue;
		prog = ubpf_load((const struct bpf_insn *)((const char *)map + sh[i].sh_offset),
				 sh[i].sh_size / sizeof(struct bpf_insn));
		if (prog < 0)
			kl_fail("load %s:%s: %s\n%s", path, secname, strerror(errno), ubpf_log);
		break;
	}
	if (i == eh->e_shnum)
		kl_fail("%s: no section %s", path, secname);
	munmap(map, st.st_size);
	close(fd);
	return prog;
}

int main(void)
{
	char inpath[256], outpath[256], buf[8192];
	struct ubpf_cqe c[8];
	struct io_uring ring;
	int prog, in, out, n;

	close(ubpf_require());
	prog = load_elf_section("cqe_prog.bpf.o", "io_uring_cqe");
	ubpf_defer_ring(&ring, 8);
	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");
	in = ubpf_make_file("in", 4096, inpath, sizeof(inpath));
	out = ubpf_out_file("out", outpath, sizeof(outpath));
	ubpf_queue_read_write(&ring, in, out, buf, 8192, 4096, IOSQE_IO_LINK, 1, 2, 0);
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 8, 200);
	KL_EXPECT_EQ(ubpf_res(c, n, 1, "read"), 0x5151, "short read, result replaced by the C program");
	KL_EXPECT_EQ(ubpf_res(c, n, 2, "write"), 4096, "write after the short read");
	io_uring_queue_exit(&ring);
	kl_pass();
}
