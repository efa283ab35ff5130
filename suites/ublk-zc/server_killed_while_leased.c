// SPDX-License-Identifier: GPL-2.0
/*
 * Abort while leased: the server process is SIGKILLed while one request's
 * buffer is registered and another request was committed with its buffer
 * still registered. The kernel must not complete a request whose pages
 * io_uring still holds (KASAN/WARN would show it), the client must get an
 * error or its committed result, and the device must be deletable.
 */
#include "zc_lib.h"

int main(void)
{
	struct kl_ublk_dev d, ctl;
	int up[2], down[2], ret, status;
	pid_t srv, c1, c2;
	char dev_id = 0;

	kl_ublk_require(&ctl, &zc_cfg);
	if (pipe(up) || pipe(down))
		kl_fail("pipe");
	srv = fork();
	if (!srv) {
		unsigned int t1, t2;

		if (kl_ublk_open(&d, &zc_cfg))
			_exit(1);
		kl_ublk_dev_setup(&d, 0);
		dev_id = d.dev_id;
		if (write(up[1], &dev_id, 1) != 1)
			_exit(1);
		if (read(down[0], &dev_id, 1) != 1)	/* clients started */
			_exit(1);
		t1 = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
		if (zc_register(&d, t1, 0))
			_exit(1);
		t2 = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
		if (zc_register(&d, t2, 1))
			_exit(1);
		kl_ublk_commit(&d, t2, 4096);
		if (write(up[1], &dev_id, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &dev_id, 1) != 1)
		kl_fail("server did not start the device");
	ctl.dev_id = dev_id;
	c1 = kl_ublk_child(&ctl, false, 0, 4096, 0, false);
	c2 = kl_ublk_child(&ctl, true, 8192, 4096, 0x5, false);
	if (write(down[1], &dev_id, 1) != 1)
		kl_fail("pipe");
	if (read(up[0], &dev_id, 1) != 1)
		kl_fail("server did not register");
	kill(srv, SIGKILL);
	waitpid(srv, &status, 0);

	ret = kl_ublk_child_wait(NULL, c1, 6 * KL_TIMEOUT_MS);
	KL_ASSERT(ret != -ETIMEDOUT, "client 1 hangs after the server died");
	ret = kl_ublk_child_wait(NULL, c2, 6 * KL_TIMEOUT_MS);
	KL_ASSERT(ret != -ETIMEDOUT, "client 2 hangs after the server died");
	ret = kl_ublk_ctrl(&ctl, UBLK_U_CMD_DEL_DEV, NULL, 0, 0, 6 * KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "DEL_DEV after the server died");
	kl_pass();
}
