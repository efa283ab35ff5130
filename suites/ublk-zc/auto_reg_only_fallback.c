// SPDX-License-Identifier: GPL-2.0
/*
 * UBLK_F_AUTO_BUF_REG without UBLK_F_SUPPORT_ZERO_COPY, with
 * UBLK_AUTO_BUF_REG_FALLBACK: a request whose buffer can't be registered
 * (the index is beyond the ring's table) is delivered with
 * UBLK_IO_F_NEED_REG_BUF, and the server can serve it by hand: REGISTER,
 * READ_FIXED, UNREGISTER succeed on this device (review finding B5: they
 * were refused for want of SUPPORT_ZERO_COPY, so the flag promised a way
 * out the driver did not give). The client reads the backing file's bytes.
 */
#include "zc_lib.h"

int main(void)
{
	struct kl_ublk_dev d;
	unsigned int tag;
	pid_t pid;
	int fd;

	kl_ublk_require(&d, &zc_auto_only_cfg);
	zc_auto_index(&d, ZC_NR_BUFS, UBLK_AUTO_BUF_REG_FALLBACK);
	fd = kl_tmp_file(8192, kl_fill_byte, 0x3d);
	kl_ublk_dev_setup(&d, UBLK_F_AUTO_BUF_REG);
	KL_ASSERT(!(d.flags & UBLK_F_SUPPORT_ZERO_COPY),
		  "the device has SUPPORT_ZERO_COPY: this test is about AUTO_BUF_REG alone");

	pid = kl_ublk_child(&d, false, 0, 4096, 0x3d, true);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 0);
	KL_ASSERT(d.iods[tag].op_flags & UBLK_IO_F_NEED_REG_BUF,
		  "request delivered without UBLK_IO_F_NEED_REG_BUF (op_flags %#x)",
		  d.iods[tag].op_flags);
	KL_EXPECT_EQ(zc_serve_chain(&d, tag, fd, tag), 4096,
		     "manual REGISTER -> READ_FIXED -> UNREGISTER on an AUTO_BUF_REG-only device");
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS), 0,
		     "client reads the backing file's 0x3d");
	kl_ublk_dev_del(&d);
	kl_pass();
}
