// SPDX-License-Identifier: GPL-2.0
/*
 * UNREGISTER_IO_BUF of a slot that holds a user buffer (one the ring
 * registered itself): -EINVAL, and the user buffer stays usable. The
 * driver may only take back what it lent.
 */
#include "zc_lib.h"

int main(void)
{
	static char user[4096];
	struct iovec iov = { .iov_base = user, .iov_len = sizeof(user) };
	struct kl_ublk_dev d;
	unsigned int tag;
	char buf[4096];
	pid_t pid;
	int fd, ret;

	kl_ublk_require(&d, &zc_cfg);
	fd = kl_tmp_file(8192, kl_fill_byte, 0);
	kl_ublk_dev_setup(&d, 0);
	pid = kl_ublk_child(&d, true, 0, 4096, 0x44, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);

	memset(user, 0x5a, sizeof(user));
	KL_EXPECT_EQ(io_uring_register_buffers_update_tag(&d.ring, 4, &iov, NULL, 1), 1,
		     "BUFFERS_UPDATE: a user buffer at 4");
	KL_EXPECT_EQ(zc_unregister(&d, tag, 4), -EINVAL, "UNREGISTER_IO_BUF of the user buffer at 4");
	/* the user buffer is still there */
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, (uintptr_t)user, 4096, 4096, 4),
		     4096, "WRITE_FIXED from the user buffer at 4");
	KL_EXPECT_EQ(pread(fd, buf, 4096, 4096), 4096, "pread backing file at 4096");
	KL_ASSERT(buf[0] == 0x5a && buf[4095] == 0x5a, "backing file holds %#x, want 0x5a", buf[0]);
	/* and the request is served as usual */
	KL_EXPECT_EQ(zc_register(&d, tag, 3), 0, "register the request at 3");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 0, 3), 4096,
		     "WRITE_FIXED from the request at 3");
	KL_EXPECT_EQ(pread(fd, buf, 4096, 0), 4096, "pread backing file at 0");
	KL_ASSERT(buf[0] == 0x44 && buf[4095] == 0x44, "backing file holds %#x, want the client's 0x44", buf[0]);
	KL_EXPECT_EQ(zc_unregister(&d, tag, 3), 0, "unregister 3");
	kl_ublk_commit(&d, tag, 4096);
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client write completes");
	kl_ublk_dev_del(&d);
	kl_pass();
}
