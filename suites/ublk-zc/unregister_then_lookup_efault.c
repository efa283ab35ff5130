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
	struct kl_ublk_dev d;
	unsigned int tag;
	__u64 ud_w, ud_u;
	pid_t pid;
	int fd, ret;

	kl_ublk_require(&d, &zc_cfg);
	fd = kl_tmp_file(8192, kl_fill_byte, 0);
	kl_ublk_dev_setup(&d, 0);
	pid = kl_ublk_child(&d, true, 0, 4096, 0x12, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);

	KL_EXPECT_EQ(zc_register(&d, tag, 5), 0, "register");
	/* WRITE_FIXED hard-linked before UNREGISTER, one submission */
	ud_w = zc_prep_fixed(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 0, 5,
			     IOSQE_IO_HARDLINK);
	ud_u = zc_prep_buf(&d, UBLK_U_IO_UNREGISTER_IO_BUF, tag, 5, 0);
	io_uring_submit(&d.ring);
	KL_EXPECT_EQ(kl_ublk_wait_op(&d, ud_w, KL_TIMEOUT_MS), 4096,
		     "WRITE_FIXED before unregister");
	KL_EXPECT_EQ(kl_ublk_wait_op(&d, ud_u, KL_TIMEOUT_MS), 0, "unregister");

	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 4096, 5),
		     -EFAULT, "WRITE_FIXED after unregister");
	KL_EXPECT_EQ(zc_unregister(&d, tag, 5), -EINVAL, "second unregister");
	kl_ublk_commit(&d, tag, 4096);
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client write");
	kl_ublk_dev_del(&d);
	kl_pass();
}
