// SPDX-License-Identifier: GPL-2.0
/*
 * COMMIT_AND_FETCH while the buffer is still registered: the block request
 * completes only when the buffer is unregistered.
 */
#include "zc_lib.h"

int main(void)
{
	struct kl_ublk_dev d;
	unsigned int tag;
	pid_t pid;
	int ret;

	kl_ublk_require(&d, &zc_cfg);
	kl_ublk_dev_setup(&d, 0);
	pid = kl_ublk_child(&d, true, 0, 4096, 0x42, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_register(&d, tag, 0), 0, "register");
	kl_ublk_commit(&d, tag, 4096);
	usleep(300000);
	kl_ublk_poll(&d);
	KL_ASSERT(waitpid(pid, &ret, WNOHANG) == 0,
		  "client request completed while its buffer was registered");
	/* unregister is allowed after the commit (io command is ACTIVE) */
	KL_EXPECT_EQ(zc_unregister(&d, tag, 0), 0, "unregister after commit");
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client write completes after unregister");
	kl_ublk_dev_del(&d);
	kl_pass();
}
