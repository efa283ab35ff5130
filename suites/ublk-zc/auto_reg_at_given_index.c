// SPDX-License-Identifier: GPL-2.0
/*
 * UBLK_F_AUTO_BUF_REG: when a request reaches the server, its pages are
 * already in the ring's buffer table at the index the tag's FETCH /
 * COMMIT_AND_FETCH named (here tag + 4, so the index is not the tag by
 * chance): fixed-buffer IO on that index moves the client's data, a manual
 * REGISTER there finds the slot taken, and the commit empties the slot.
 */
#include "zc_lib.h"

static void check_file(int fd, unsigned int len, unsigned char want)
{
	unsigned char buf[4096];
	unsigned int i;

	KL_EXPECT_EQ(pread(fd, buf, len, 0), len, "read back the backing file");
	for (i = 0; i < len; i++)
		if (buf[i] != want)
			kl_fail("backing file byte %u: want %#x, got %#x", i, want, buf[i]);
}

int main(void)
{
	struct kl_ublk_dev d;
	unsigned int tag, idx;
	pid_t pid;
	int fd;

	kl_ublk_require(&d, &zc_auto_cfg);
	zc_auto_index(&d, 4, 0);
	fd = kl_tmp_file(8192, kl_fill_byte, 0);
	kl_ublk_dev_setup(&d, UBLK_F_AUTO_BUF_REG);

	/* client WRITE: the registered pages hold the client's data */
	pid = kl_ublk_child(&d, true, 0, 4096, 0x5a, false);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_WRITE, 0);
	idx = tag + 4;
	KL_EXPECT_EQ(zc_register(&d, tag, idx), -EBUSY,
		     "manual REGISTER_IO_BUF at the index the driver filled");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 0, idx), 4096,
		     "WRITE_FIXED out of the auto-registered buffer");
	check_file(fd, 4096, 0x5a);
	kl_ublk_commit(&d, tag, 4096);
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS), 0, "client write completes");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 0, idx), -EFAULT,
		     "WRITE_FIXED on the index after the commit (slot empty)");

	/* client READ: filling the registered pages is what the client reads */
	if (pwrite(fd, memset((char[4096]){ 0 }, 0x77, 4096), 4096, 0) != 4096)
		kl_fail("refilling the backing file: %s", strerror(errno));
	pid = kl_ublk_child(&d, false, 8192, 4096, 0x77, true);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 8192);
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_READ_FIXED, fd, 0, 4096, 0, tag + 4), 4096,
		     "READ_FIXED into the auto-registered buffer");
	kl_ublk_commit(&d, tag, 4096);
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS), 0,
		     "client reads the 0x77 the server put in the request pages");
	kl_ublk_dev_del(&d);
	kl_pass();
}
