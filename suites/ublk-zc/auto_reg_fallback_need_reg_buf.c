// SPDX-License-Identifier: GPL-2.0
/*
 * UBLK_F_AUTO_BUF_REG with UBLK_AUTO_BUF_REG_FALLBACK: when the buffer can't
 * be registered (the index is beyond the ring's table) the request is
 * still delivered, with UBLK_IO_F_NEED_REG_BUF in its descriptor, and the
 * server can serve it the manual zero copy way.
 */
#include "zc_lib.h"

int main(void)
{
	struct kl_ublk_dev d;
	unsigned int tag;
	pid_t pid;
	int fd;

	kl_ublk_require(&d, &zc_auto_cfg);
	zc_auto_index(&d, ZC_NR_BUFS, UBLK_AUTO_BUF_REG_FALLBACK);
	fd = kl_tmp_file(8192, kl_fill_byte, 0x3c);
	kl_ublk_dev_setup(&d, UBLK_F_AUTO_BUF_REG);

	pid = kl_ublk_child(&d, false, 0, 4096, 0x3c, true);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 0);
	KL_ASSERT(d.iods[tag].op_flags & UBLK_IO_F_NEED_REG_BUF,
		  "request delivered without UBLK_IO_F_NEED_REG_BUF (op_flags %#x)",
		  d.iods[tag].op_flags);
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_READ_FIXED, fd, 0, 4096, 0, tag), -EFAULT,
		     "READ_FIXED before registering: nothing is in the table");
	KL_EXPECT_EQ(zc_serve_chain(&d, tag, fd, tag), 4096,
		     "manual REGISTER -> READ_FIXED -> UNREGISTER");
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS), 0,
		     "client reads the backing file's 0x3c");
	kl_ublk_dev_del(&d);
	kl_pass();
}
