// SPDX-License-Identifier: GPL-2.0
/* REGISTER_IO_BUF at an index outside the ring's buffer table: -EINVAL. */
#include "zc_lib.h"

int main(void)
{
	struct kl_ublk_dev d;
	unsigned int tag;
	pid_t pid;
	int ret;

	kl_ublk_require(&d, &zc_cfg);
	kl_ublk_dev_setup(&d, 0);
	pid = kl_ublk_child(&d, true, 0, 4096, 0x11, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);

	KL_EXPECT_EQ(zc_register(&d, tag, ZC_NR_BUFS), -EINVAL,
		     "register at index == table size");
	KL_EXPECT_EQ(zc_register(&d, tag, 1U << 20), -EINVAL,
		     "register at index 1<<20");
	KL_EXPECT_EQ(zc_io_cmd(&d, UBLK_U_IO_REGISTER_IO_BUF, tag, 1ULL << 32),
		     -EINVAL, "register at index 1<<32 (must not truncate to 0)");
	KL_EXPECT_EQ(zc_unregister(&d, tag, 0), -EINVAL,
		     "index 0 must still be empty after that");
	KL_EXPECT_EQ(zc_unregister(&d, tag, ZC_NR_BUFS), -EINVAL,
		     "unregister at index == table size");
	KL_EXPECT_EQ(zc_register(&d, tag, ZC_NR_BUFS - 1), 0,
		     "register at the last index");
	KL_EXPECT_EQ(zc_unregister(&d, tag, ZC_NR_BUFS - 1), 0,
		     "unregister at the last index");
	kl_ublk_commit(&d, tag, 4096);
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client write");
	kl_ublk_dev_del(&d);
	kl_pass();
}
