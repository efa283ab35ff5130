// SPDX-License-Identifier: GPL-2.0
/*
 * A request buffer can only be used in its request's direction: a READ
 * request's pages can be filled (READ_FIXED) but not written out
 * (WRITE_FIXED -> -EFAULT), a WRITE request's pages the other way round.
 */
#include "zc_lib.h"

int main(void)
{
	struct kl_ublk_dev d;
	unsigned int tag;
	pid_t pid;
	int fd, ret;

	kl_ublk_require(&d, &zc_cfg);
	fd = kl_tmp_file(8192, kl_fill_byte, 0x5a);
	kl_ublk_dev_setup(&d, 0);

	/* client READ: the buffer is a destination only */
	pid = kl_ublk_child(&d, false, 0, 4096, 0x5a, true);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_register(&d, tag, 0), 0, "register READ request");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 4096, 0),
		     -EFAULT, "WRITE_FIXED out of a READ request's buffer");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_READ_FIXED, fd, 0, 4096, 0, 0),
		     4096, "READ_FIXED into a READ request's buffer");
	KL_EXPECT_EQ(zc_unregister(&d, tag, 0), 0, "unregister");
	kl_ublk_commit(&d, tag, 4096);
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client read sees the backing file's 0x5a");

	/* client WRITE: the buffer is a source only */
	pid = kl_ublk_child(&d, true, 0, 4096, 0x6b, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_register(&d, tag, 1), 0, "register WRITE request");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_READ_FIXED, fd, 0, 4096, 0, 1),
		     -EFAULT, "READ_FIXED into a WRITE request's buffer");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 0, 1),
		     4096, "WRITE_FIXED out of a WRITE request's buffer");
	KL_EXPECT_EQ(zc_unregister(&d, tag, 1), 0, "unregister");
	kl_ublk_commit(&d, tag, 4096);
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client write");
	kl_ublk_dev_del(&d);
	kl_pass();
}
