// SPDX-License-Identifier: GPL-2.0
/*
 * The server commits a request while its buffer is still registered (the
 * tag's new FETCH is pending, the request isn't complete), then closes the
 * ring. Ring exit must be able to cancel that FETCH although the request is
 * still started, release the buffer, complete the committed request and
 * let the device be deleted - no hang.
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
	pid = kl_ublk_child(&d, true, 0, 4096, 0x31, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_register(&d, tag, 0), 0, "register");
	kl_ublk_commit(&d, tag, 4096);
	usleep(100000);
	kl_ublk_poll(&d);
	KL_ASSERT(waitpid(pid, &ret, WNOHANG) == 0,
		  "client completed while its buffer was registered");

	kl_ublk_queue_close(&d);
	ret = kl_ublk_child_wait(NULL, pid, 6 * KL_TIMEOUT_MS);
	KL_ASSERT(ret != -ETIMEDOUT, "client WRITE hangs after the ring closed");
	KL_EXPECT_EQ(ret, 0, "committed client WRITE completes with its result");
	kl_ublk_dev_del(&d);
	kl_pass();
}
