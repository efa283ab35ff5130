// SPDX-License-Identifier: GPL-2.0
/*
 * The buffer is released only when every request that resolved it is done:
 * a READ_FIXED from an empty pipe is in flight, the server unregisters the
 * buffer and commits the request. The client's READ must not complete
 * until the pipe read has filled the pages, and then sees the pipe data.
 */
#include "zc_lib.h"

int main(void)
{
	unsigned char data[4096];
	struct kl_ublk_dev d;
	unsigned int tag;
	int pfd[2], ret, res;
	__u64 ud_r;
	pid_t pid;

	kl_ublk_require(&d, &zc_cfg);
	if (pipe(pfd))
		kl_fail("pipe: %s", strerror(errno));
	kl_ublk_dev_setup(&d, 0);
	pid = kl_ublk_child(&d, false, 0, 4096, 0x77, true);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);

	KL_EXPECT_EQ(zc_register(&d, tag, 0), 0, "register");
	ud_r = zc_prep_fixed(&d, IORING_OP_READ_FIXED, pfd[0], 0, 4096, -1, 0, 0);
	io_uring_submit(&d.ring);
	usleep(100000);
	KL_ASSERT(!kl_ublk_op_done(&d, ud_r, &res), "pipe read completed early: %d",
		  res);
	KL_EXPECT_EQ(zc_unregister(&d, tag, 0), 0, "unregister with IO in flight");
	kl_ublk_commit(&d, tag, 4096);

	usleep(300000);
	KL_ASSERT(waitpid(pid, &ret, WNOHANG) == 0,
		  "client READ completed while a READ_FIXED still used its pages");

	memset(data, 0x77, sizeof(data));
	KL_EXPECT_EQ(write(pfd[1], data, sizeof(data)), 4096, "fill pipe");
	KL_EXPECT_EQ(kl_ublk_wait_op(&d, ud_r, KL_TIMEOUT_MS), 4096, "READ_FIXED from pipe");
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client read sees the pipe data (0 = ok, 2 = wrong data)");
	kl_ublk_dev_del(&d);
	kl_pass();
}
