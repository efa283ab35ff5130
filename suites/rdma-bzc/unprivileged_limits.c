// SPDX-License-Identifier: GPL-2.0
/*
 * unprivileged_limits rxe|siw: a process that is not root (uid and gid
 * 65534, no capabilities) with RLIMIT_MEMLOCK at 256 KiB can use /dev/bzc
 * (mode 0666): it connects two files to its own address on an unprivileged
 * port and REGisters 128 KiB; a REG of 1 MiB more is -ENOMEM and pins
 * nothing (VmPin stays at 128 kB); a LISTEN on port 1000 is -EACCES, as a
 * bind(2) there would be. Root set up the soft RDMA device before it.
 */
#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "bzc_test.h"

static void unprivileged(void)
{
	struct rlimit lim = { .rlim_cur = 256 << 10, .rlim_max = 256 << 10 };
	unsigned char *small = bzc_alloc(128 << 10), *big = bzc_alloc(1 << 20);
	struct io_uring ring;
	int l, a, k, low;
	long pinned;

	KL_ASSERT(setrlimit(RLIMIT_MEMLOCK, &lim) == 0, "setrlimit: %s", strerror(errno));
	KL_ASSERT(setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0,
		  "dropping to uid 65534: %s", strerror(errno));
	kl_ring_init(&ring, 8, BZC_RING);
	bzc_connect_self(&ring, &l, &a, &k);
	KL_EXPECT_EQ(bzc_reg(&ring, a, small, 128 << 10, BZC_ACCESS_REMOTE_READ), 1,
		     "REG of 128 KiB under a 256 KiB RLIMIT_MEMLOCK");
	pinned = bzc_vmpin_kb();
	KL_EXPECT_EQ(pinned, 128, "VmPin (kB) after the REG of 128 KiB");
	KL_EXPECT_EQ(bzc_reg(&ring, a, big, 1 << 20, BZC_ACCESS_REMOTE_READ), -ENOMEM,
		     "REG of 1 MiB more than RLIMIT_MEMLOCK allows");
	KL_EXPECT_EQ(bzc_vmpin_kb(), pinned, "VmPin (kB) after the refused REG");
	low = bzc_open();
	bzc_prep_listen(&ring, low, 1000, 1);
	KL_EXPECT_EQ(bzc_run(&ring), -EACCES, "LISTEN on port 1000 without CAP_NET_BIND_SERVICE");
	close(low);
	close(k);
	close(a);
	close(l);
	io_uring_queue_exit(&ring);
	exit(0);
}

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	int status;
	pid_t pid;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw", argv[0]);
	bzc_link_add(prov);
	fflush(stdout);
	pid = fork();
	KL_ASSERT(pid >= 0, "fork: %s", strerror(errno));
	if (!pid)
		unprivileged();
	KL_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	KL_ASSERT(WIFEXITED(status), "the unprivileged process was killed (status %#x)", status);
	if (WEXITSTATUS(status))
		exit(WEXITSTATUS(status));	/* its FAIL line says why */
	bzc_link_delete(prov);
	kl_pass();
}
