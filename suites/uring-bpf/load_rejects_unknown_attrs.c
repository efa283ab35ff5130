// SPDX-License-Identifier: GPL-2.0
/*
 * uAPI hygiene of BPF_PROG_TYPE_IO_URING_CQE at load time (review finding
 * B8): a non-zero expected_attach_type is refused with EINVAL, so attach
 * types can be given a meaning later (it was silently ignored); a
 * BPF_F_SLEEPABLE program is refused (completions run under the ring lock);
 * the same program with neither loads; and BPF_PROG_TEST_RUN, which the
 * type does not implement, says so (ENOTSUPP) rather than running anything.
 */
#include "ubpf.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524	/* the kernel's, as bpf(2) returns it */
#endif

static int load_with(unsigned int attach_type, unsigned int flags)
{
	const struct bpf_insn insns[] = { I_RET(0) };
	union bpf_attr attr;
	int i, fd = -1;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = UBPF_PROG_TYPE;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = sizeof(insns) / sizeof(insns[0]);
	attr.license = (uintptr_t)"GPL";
	attr.expected_attach_type = attach_type;
	attr.prog_flags = flags;
	for (i = 0; i < 10; i++) {
		fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd;
}

int main(void)
{
	union bpf_attr attr;
	int fd, ret;

	close(ubpf_require());

	fd = load_with(0, 0);
	if (fd < 0)
		kl_fail("expected_attach_type 0, no flags: want a program, got %s", strerror(errno));

	memset(&attr, 0, sizeof(attr));
	attr.test.prog_fd = fd;
	attr.test.repeat = 1;
	ret = syscall(__NR_bpf, BPF_PROG_TEST_RUN, &attr, sizeof(attr));
	KL_ASSERT(ret < 0 && errno == ENOTSUPP,
		  "BPF_PROG_TEST_RUN: want ENOTSUPP (the type has no test run), got %d (%s)", ret,
		  ret < 0 ? strerror(errno) : "ran");
	close(fd);

	fd = load_with(1, 0);
	KL_ASSERT(fd < 0 && errno == EINVAL,
		  "expected_attach_type 1: want EINVAL (no attach types are defined), got %s",
		  fd >= 0 ? "a program" : strerror(errno));
	fd = load_with(0, BPF_F_SLEEPABLE);
	KL_ASSERT(fd < 0 && errno == EINVAL, "BPF_F_SLEEPABLE: want EINVAL, got %s",
		  fd >= 0 ? "a program" : strerror(errno));
	kl_pass();
}
