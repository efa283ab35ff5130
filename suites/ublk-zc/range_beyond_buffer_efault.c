// SPDX-License-Identifier: GPL-2.0
/* Offset/length outside the request buffer: -EFAULT; inside at an offset: ok. */
#include "zc_lib.h"

int main(void)
{
	unsigned char buf[4096];
	struct kl_ublk_dev d;
	unsigned int tag;
	pid_t pid;
	int fd, ret;

	kl_ublk_require(&d, &zc_cfg);
	fd = kl_tmp_file(16384, kl_fill_byte, 0);
	kl_ublk_dev_setup(&d, 0);
	pid = kl_ublk_child(&d, true, 0, 8192, 0x7c, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(d.iods[tag].nr_sectors, 16, "request sectors");
	KL_EXPECT_EQ(zc_register(&d, tag, 0), 0, "register");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 4096, 8192, 0, 0),
		     -EFAULT, "offset 4096 + len 8192 in an 8192 buffer");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 8192, 512, 0, 0),
		     -EFAULT, "offset at the end of the buffer");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 8704, 0, 0),
		     -EFAULT, "len beyond the buffer");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd,
				 (__u64)-4096, 8192, 0, 0),
		     -EFAULT, "offset that wraps");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 4096, 4096, 8192, 0),
		     4096, "second half at offset 4096");
	KL_EXPECT_EQ(pread(fd, buf, 4096, 8192), 4096, "pread");
	KL_ASSERT(buf[0] == 0x7c && buf[4095] == 0x7c,
		  "backing file at 8192 holds %#x, want 0x7c", buf[0]);
	KL_EXPECT_EQ(zc_unregister(&d, tag, 0), 0, "unregister");
	kl_ublk_commit(&d, tag, 8192);
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client write");
	kl_ublk_dev_del(&d);
	kl_pass();
}
