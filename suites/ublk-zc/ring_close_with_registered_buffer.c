// SPDX-License-Identifier: GPL-2.0
/*
 * The server's ring is closed while a request's buffer is still registered
 * (never unregistered, never committed). Ring teardown must give the buffer
 * back, the aborted request must then fail (not hang, not complete
 * successfully with pages io_uring might still write) and the device must
 * be deletable.
 *
 * With the argument "auto" the first registration is the driver's own
 * (UBLK_F_AUTO_BUF_REG, at index tag), made when the request was delivered.
 */
#include "zc_lib.h"

int main(int argc, char **argv)
{
	bool autoreg = argc > 1 && !strcmp(argv[1], "auto");
	struct kl_ublk_dev d;
	unsigned int tag;
	pid_t pid;
	int ret;

	kl_ublk_require(&d, autoreg ? &zc_auto_cfg : &zc_cfg);
	if (autoreg)
		zc_auto_index(&d, 0, 0);
	kl_ublk_dev_setup(&d, autoreg ? UBLK_F_AUTO_BUF_REG : 0);
	pid = kl_ublk_child(&d, false, 0, 4096, 0, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	if (autoreg)
		KL_EXPECT_EQ(zc_register(&d, tag, tag), -EBUSY,
			     "the driver registered the buffer at the tag's index");
	else
		KL_EXPECT_EQ(zc_register(&d, tag, 0), 0, "register");
	KL_EXPECT_EQ(zc_register(&d, tag, KL_UBLK_DEPTH), 0, "register again at another index");

	kl_ublk_queue_close(&d);
	ret = kl_ublk_child_wait(NULL, pid, 6 * KL_TIMEOUT_MS);
	KL_ASSERT(ret != -ETIMEDOUT, "client READ hangs after the ring closed");
	KL_EXPECT_EQ(ret, 1, "client READ fails (exit 1) once the buffer returns");
	kl_ublk_dev_del(&d);
	kl_pass();
}
