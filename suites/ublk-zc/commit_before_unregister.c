// SPDX-License-Identifier: GPL-2.0
/*
 * COMMIT_AND_FETCH while the buffer is still registered: the block request
 * completes only when the buffer is unregistered.
 */
#include "zc_lib.h"

int main(void)
{
	struct zc_dev d;
	unsigned int tag;
	pid_t pid;
	int ret;

	zc_require_zero_copy(&d);
	zc_dev_start(&d, 0);
	pid = zc_client(&d, true, 0, 4096, 0x42, false);
	tag = zc_wait_req(&d, 10);
	KL_EXPECT_EQ(zc_register(&d, tag, 0), 0, "register");
	zc_commit(&d, tag, 4096);
	usleep(300000);
	zc_poll_queue(&d);
	KL_ASSERT(waitpid(pid, &ret, WNOHANG) == 0,
		  "client request completed while its buffer was registered");
	/* unregister is allowed after the commit (io command is ACTIVE) */
	KL_EXPECT_EQ(zc_unregister(&d, tag, 0), 0, "unregister after commit");
	ret = zc_client_wait(&d, pid, 10);
	KL_EXPECT_EQ(ret, 0, "client write completes after unregister");
	zc_dev_del(&d);
	kl_pass();
}
