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
	struct kl_ublk_dev d;
	unsigned int tag, i;
	pid_t pid;
	int fd, ret;

	kl_ublk_require(&d, &zc_cfg);
	fd = kl_tmp_file(1 << 20, kl_fill_byte, 0x41);
	kl_ublk_dev_setup(&d, 0);

	pid = kl_ublk_child(&d, true, 65536, 65536, 0x99, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_serve_chain(&d, tag, fd, 2), 65536, "WRITE chain");
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client write");
	KL_EXPECT_EQ(pread(fd, buf, sizeof(buf), 65536), 65536, "pread");
	for (i = 0; i < sizeof(buf); i++)
		KL_ASSERT(buf[i] == 0x99, "backing byte %u is %#x, want 0x99",
			  i, buf[i]);

	pid = kl_ublk_child(&d, false, 65536, 65536, 0x99, true);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_serve_chain(&d, tag, fd, 2), 65536, "READ chain");
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client read of what it wrote");

	pid = kl_ublk_child(&d, false, 0, 4096, 0x41, true);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_serve_chain(&d, tag, fd, 2), 4096, "READ chain 2");
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client read of the initial 0x41");
	kl_ublk_dev_del(&d);
	kl_pass();
}
