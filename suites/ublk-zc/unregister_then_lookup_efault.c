// SPDX-License-Identifier: GPL-2.0
/*
 * After UNREGISTER_IO_BUF the slot is empty: a fixed IO resolving it gets
 * -EFAULT and a second unregister -EINVAL. A fixed IO linked before the
 * unregister in the same submission resolved the buffer first and still
 * completes in full.
 */
#include "zc_lib.h"

int main(void)
{
	struct io_uring_sqe *sqe;
	struct zc_dev d;
	unsigned int tag;
	__u64 ud_w, ud_u;
	pid_t pid;
	int fd, ret;

	zc_require_zero_copy(&d);
	fd = zc_tmpfile(8192, 0);
	zc_dev_start(&d, 0);
	pid = zc_client(&d, true, 0, 4096, 0x12, false);
	tag = zc_wait_req(&d, 10);

	KL_EXPECT_EQ(zc_register(&d, tag, 5), 0, "register");
	/* WRITE_FIXED hard-linked before UNREGISTER, one submission */
	ud_w = zc_prep_fixed(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 0, 5);
	d.last_sqe->flags |= IOSQE_IO_HARDLINK;
	sqe = zc_sqe(&d);
	ud_u = zc_op_ud(&d);
	zc_prep_io_cmd(&d, sqe, UBLK_U_IO_UNREGISTER_IO_BUF, tag, 0, 5);
	sqe->user_data = ud_u;
	io_uring_submit(&d.q);
	KL_EXPECT_EQ(zc_wait_op(&d, ud_w, 10), 4096, "WRITE_FIXED before unregister");
	KL_EXPECT_EQ(zc_wait_op(&d, ud_u, 10), 0, "unregister");

	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 4096, 5),
		     -EFAULT, "WRITE_FIXED after unregister");
	KL_EXPECT_EQ(zc_unregister(&d, tag, 5), -EINVAL, "second unregister");
	zc_commit(&d, tag, 4096);
	ret = zc_client_wait(&d, pid, 10);
	KL_EXPECT_EQ(ret, 0, "client write");
	zc_dev_del(&d);
	kl_pass();
}
