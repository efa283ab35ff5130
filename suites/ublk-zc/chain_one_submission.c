// SPDX-License-Identifier: GPL-2.0
/*
 * REGISTER -> READ_FIXED/WRITE_FIXED -> UNREGISTER as one hard-linked
 * chain in a single submission works (the fixed buffer is resolved at
 * issue, after the register ran), for both directions, and data arrives.
 */
#include "zc_lib.h"

int main(void)
{
	unsigned char buf[65536];
	struct zc_dev d;
	unsigned int tag, i;
	pid_t pid;
	int fd, ret;

	zc_require_zero_copy(&d);
	fd = zc_tmpfile(1 << 20, 0x41);
	zc_dev_start(&d, 0);

	pid = zc_client(&d, true, 65536, 65536, 0x99, false);
	tag = zc_wait_req(&d, 10);
	KL_EXPECT_EQ(zc_serve_chain(&d, tag, fd, 2), 65536, "WRITE chain");
	ret = zc_client_wait(&d, pid, 10);
	KL_EXPECT_EQ(ret, 0, "client write");
	KL_EXPECT_EQ(pread(fd, buf, sizeof(buf), 65536), 65536, "pread");
	for (i = 0; i < sizeof(buf); i++)
		KL_ASSERT(buf[i] == 0x99, "backing byte %u is %#x, want 0x99",
			  i, buf[i]);

	pid = zc_client(&d, false, 65536, 65536, 0x99, true);
	tag = zc_wait_req(&d, 10);
	KL_EXPECT_EQ(zc_serve_chain(&d, tag, fd, 2), 65536, "READ chain");
	ret = zc_client_wait(&d, pid, 10);
	KL_EXPECT_EQ(ret, 0, "client read of what it wrote");

	pid = zc_client(&d, false, 0, 4096, 0x41, true);
	tag = zc_wait_req(&d, 10);
	KL_EXPECT_EQ(zc_serve_chain(&d, tag, fd, 2), 4096, "READ chain 2");
	ret = zc_client_wait(&d, pid, 10);
	KL_EXPECT_EQ(ret, 0, "client read of the initial 0x41");
	zc_dev_del(&d);
	kl_pass();
}
