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
	struct zc_dev d;
	unsigned int tag;
	pid_t pid;
	int ret;

	zc_require_zero_copy(&d);
	zc_dev_start(&d, 0);
	pid = zc_client(&d, true, 0, 4096, 0x31, false);
	tag = zc_wait_req(&d, 10);
	KL_EXPECT_EQ(zc_register(&d, tag, 0), 0, "register");
	zc_commit(&d, tag, 4096);
	usleep(100000);
	zc_poll_queue(&d);
	KL_ASSERT(waitpid(pid, &ret, WNOHANG) == 0,
		  "client completed while its buffer was registered");

	zc_queue_close(&d);
	ret = zc_client_wait(NULL, pid, 60);
	KL_ASSERT(ret != -ETIMEDOUT, "client WRITE hangs after the ring closed");
	KL_EXPECT_EQ(ret, 0, "committed client WRITE completes with its result");
	zc_dev_del(&d);
	kl_pass();
}
