// SPDX-License-Identifier: GPL-2.0
/*
 * Recovery with a leased buffer: a recoverable device (USER_RECOVERY |
 * USER_RECOVERY_REISSUE) loses its server while a READ request's buffer is
 * registered. START_USER_RECOVERY may only succeed once the ring gave the
 * buffer back (the queue is reinitialised after that), the request must be
 * requeued rather than failed, and after END_USER_RECOVERY the new server
 * serves it: the client's READ returns the backing data.
 */
#include "zc_lib.h"

int main(void)
{
	int up[2], down[2], fd, ret, status;
	struct kl_ublk_dev d;
	unsigned int tag;
	char dev_id = 0;
	pid_t srv, pid;
	long long end;

	kl_ublk_require(&d, &zc_cfg);
	fd = kl_tmp_file(1 << 20, kl_fill_byte, 0x3c);
	if (pipe(up) || pipe(down))
		kl_fail("pipe");
	srv = fork();
	if (!srv) {
		struct kl_ublk_dev s;

		/* the first server: registers the READ's buffer, then dies */
		kl_ublk_open(&s, &zc_cfg);
		kl_ublk_dev_setup(&s, UBLK_F_USER_RECOVERY |
				  UBLK_F_USER_RECOVERY_REISSUE);
		dev_id = (s.flags & UBLK_F_USER_RECOVERY_REISSUE) ? s.dev_id : -1;
		if (write(up[1], &dev_id, 1) != 1 || dev_id < 0)
			_exit(1);
		tag = kl_ublk_wait_req(&s, KL_TIMEOUT_MS);
		if (zc_register(&s, tag, 0))
			_exit(1);
		if (write(up[1], &dev_id, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	if (read(up[0], &dev_id, 1) != 1)
		kl_fail("first server did not start the device");
	if (dev_id < 0)
		kl_skip("kernel dropped UBLK_F_USER_RECOVERY_REISSUE");
	d.dev_id = dev_id;
	pid = kl_ublk_child(&d, false, 4096, 4096, 0x3c, true);
	if (read(up[0], &dev_id, 1) != 1)
		kl_fail("first server did not register the buffer");
	kill(srv, SIGKILL);
	waitpid(srv, &status, 0);

	end = kl_now_ms() + 6 * KL_TIMEOUT_MS;
	while ((ret = kl_ublk_get_state(&d)) != UBLK_S_DEV_QUIESCED) {
		if (kl_now_ms() > end)
			kl_fail("device state %d, want QUIESCED", ret);
		usleep(20000);
	}
	end = kl_now_ms() + 6 * KL_TIMEOUT_MS;
	while ((ret = kl_ublk_ctrl(&d, UBLK_U_CMD_START_USER_RECOVERY, NULL, 0,
				   0, KL_TIMEOUT_MS)) == -EBUSY) {
		if (kl_now_ms() > end)
			break;
		usleep(20000);
	}
	KL_EXPECT_EQ(ret, 0, "START_USER_RECOVERY");
	KL_ASSERT(waitpid(pid, &status, WNOHANG) == 0,
		  "client READ finished before recovery (exit %d): it should be requeued",
		  WEXITSTATUS(status));

	ret = kl_ublk_queue_open(&d);
	if (ret)
		kl_fail("new queue: %s", strerror(-ret));
	ret = kl_ublk_ctrl(&d, UBLK_U_CMD_END_USER_RECOVERY, NULL, 0, getpid(),
			   3 * KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "END_USER_RECOVERY");

	/* the requeued READ arrives at the new server */
	tag = kl_ublk_wait_req(&d, 2 * KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_serve_chain(&d, tag, fd, 1), 4096, "READ chain");
	ret = kl_ublk_child_wait(&d, pid, 2 * KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client READ after recovery (2 = wrong data)");
	kl_ublk_dev_del(&d);
	kl_pass();
}
