// SPDX-License-Identifier: GPL-2.0
/* REGISTER_IO_BUF into an occupied slot: -EBUSY, the slot keeps its buffer. */
#include "zc_lib.h"

int main(void)
{
	struct kl_ublk_dev d;
	unsigned int tag;
	pid_t pid;
	int fd, ret;
	char buf[4096];

	kl_ublk_require(&d, &zc_cfg);
	fd = kl_tmp_file(4096, kl_fill_byte, 0);
	kl_ublk_dev_setup(&d, 0);
	pid = kl_ublk_child(&d, true, 0, 4096, 0x22, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);

	KL_EXPECT_EQ(zc_register(&d, tag, 3), 0, "first register at 3");
	KL_EXPECT_EQ(zc_register(&d, tag, 3), -EBUSY, "second register at 3");
	/* the first registration is intact and usable */
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 0, 3),
		     4096, "WRITE_FIXED from slot 3");
	KL_EXPECT_EQ(pread(fd, buf, 4096, 0), 4096, "pread backing file");
	KL_ASSERT(buf[0] == 0x22 && buf[4095] == 0x22,
		  "backing file holds %#x, want the client's 0x22", buf[0]);
	KL_EXPECT_EQ(zc_unregister(&d, tag, 3), 0, "unregister 3");
	kl_ublk_commit(&d, tag, 4096);
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client write");
	kl_ublk_dev_del(&d);
	kl_pass();
}
