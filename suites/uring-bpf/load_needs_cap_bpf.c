// SPDX-License-Identifier: GPL-2.0
/*
 * Loading a BPF_PROG_TYPE_IO_URING_CQE program needs CAP_BPF (or
 * CAP_SYS_ADMIN): a process that dropped CAP_BPF, CAP_SYS_ADMIN,
 * CAP_PERFMON and CAP_NET_ADMIN from its capability sets gets EPERM for the
 * same "return 0" program that loads with them (review T3).
 */
#include "ubpf.h"
#include <linux/capability.h>
#include <sys/wait.h>

static int drop_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	static const int caps[] = { CAP_BPF, CAP_SYS_ADMIN, CAP_PERFMON, CAP_NET_ADMIN };

	if (syscall(__NR_capget, &hdr, data))
		return -1;
	for (unsigned int i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		data[caps[i] / 32].effective &= ~(1U << (caps[i] % 32));
		data[caps[i] / 32].permitted &= ~(1U << (caps[i] % 32));
		data[caps[i] / 32].inheritable &= ~(1U << (caps[i] % 32));
	}
	return syscall(__NR_capset, &hdr, data);
}

int main(void)
{
	int status, fd;
	pid_t pid;

	close(ubpf_require()); /* with every capability: it loads */
	pid = fork();
	if (pid < 0)
		kl_fail("fork: %s", strerror(errno));
	if (!pid) {
		if (drop_caps())
			_exit(10);
		fd = UBPF_LOAD(I_RET(0));
		if (fd >= 0)
			_exit(11);
		_exit(errno == EPERM ? 0 : 12);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		kl_fail("the child without CAP_BPF did not exit normally");
	switch (WEXITSTATUS(status)) {
	case 0:
		break;
	case 10:
		kl_fail("could not drop the capabilities (capset)");
	case 11:
		kl_fail("loaded without CAP_BPF/CAP_SYS_ADMIN");
	default:
		kl_fail("without CAP_BPF: want EPERM, got another error (exit %d)",
			WEXITSTATUS(status));
	}
	kl_pass();
}
