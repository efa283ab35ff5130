// SPDX-License-Identifier: GPL-2.0
/*
 * A request buffer can only be used in its request's direction: a READ
 * request's pages can be filled (READ_FIXED) but not written out
 * (WRITE_FIXED -> -EFAULT), a WRITE request's pages the other way round.
 */
#include "zc_lib.h"

int main(void)
{
	struct zc_dev d;
	unsigned int tag;
	pid_t pid;
	int fd, ret;

	zc_require_zero_copy(&d);
	fd = zc_tmpfile(8192, 0x5a);
	zc_dev_start(&d, 0);

	/* client READ: the buffer is a destination only */
	pid = zc_client(&d, false, 0, 4096, 0x5a, true);
	tag = zc_wait_req(&d, 10);
	KL_EXPECT_EQ(zc_register(&d, tag, 0), 0, "register READ request");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 4096, 0),
		     -EFAULT, "WRITE_FIXED out of a READ request's buffer");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_READ_FIXED, fd, 0, 4096, 0, 0),
		     4096, "READ_FIXED into a READ request's buffer");
	KL_EXPECT_EQ(zc_unregister(&d, tag, 0), 0, "unregister");
	zc_commit(&d, tag, 4096);
	ret = zc_client_wait(&d, pid, 10);
	KL_EXPECT_EQ(ret, 0, "client read sees the backing file's 0x5a");

	/* client WRITE: the buffer is a source only */
	pid = zc_client(&d, true, 0, 4096, 0x6b, false);
	tag = zc_wait_req(&d, 10);
	KL_EXPECT_EQ(zc_register(&d, tag, 1), 0, "register WRITE request");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_READ_FIXED, fd, 0, 4096, 0, 1),
		     -EFAULT, "READ_FIXED into a WRITE request's buffer");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 0, 1),
		     4096, "WRITE_FIXED out of a WRITE request's buffer");
	KL_EXPECT_EQ(zc_unregister(&d, tag, 1), 0, "unregister");
	zc_commit(&d, tag, 4096);
	ret = zc_client_wait(&d, pid, 10);
	KL_EXPECT_EQ(ret, 0, "client write");
	zc_dev_del(&d);
	kl_pass();
}
