// SPDX-License-Identifier: GPL-2.0
/*
 * The server's ring is closed while a request's buffer is still registered
 * (never unregistered, never committed). Ring teardown must give the buffer
 * back, the aborted request must then fail (not hang, not complete
 * successfully with pages io_uring might still write) and the device must
 * be deletable.
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
	pid = zc_client(&d, false, 0, 4096, 0, false);
	tag = zc_wait_req(&d, 10);
	KL_EXPECT_EQ(zc_register(&d, tag, 0), 0, "register");
	KL_EXPECT_EQ(zc_register(&d, tag, 1), 0, "register again at another index");

	zc_queue_close(&d);
	ret = zc_client_wait(NULL, pid, 60);
	KL_ASSERT(ret != -ETIMEDOUT, "client READ hangs after the ring closed");
	KL_EXPECT_EQ(ret, 1, "client READ fails (exit 1) once the buffer returns");
	zc_dev_del(&d);
	kl_pass();
}
