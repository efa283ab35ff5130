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

static int dev_state(struct zc_dev *d)
{
	struct ublksrv_ctrl_dev_info info;
	int ret;

	ret = zc_ctrl_cmd(d, UBLK_U_CMD_GET_DEV_INFO, &info, sizeof(info), 0, 10);
	return ret ? ret : info.state;
}

int main(void)
{
	int up[2], down[2], fd, ret, status;
	struct zc_dev d;
	unsigned int tag;
	char dev_id = 0;
	pid_t srv, pid;
	double end;

	zc_require_zero_copy(&d);
	fd = zc_tmpfile(1 << 20, 0x3c);
	if (pipe(up) || pipe(down))
		kl_fail("pipe");
	srv = fork();
	if (!srv) {
		struct zc_dev s;

		/* the first server: registers the READ's buffer, then dies */
		zc_ctrl_open(&s);
		zc_dev_start(&s, UBLK_F_USER_RECOVERY |
			     UBLK_F_USER_RECOVERY_REISSUE);
		dev_id = (s.flags & UBLK_F_USER_RECOVERY_REISSUE) ? s.dev_id : -1;
		if (write(up[1], &dev_id, 1) != 1 || dev_id < 0)
			_exit(1);
		tag = zc_wait_req(&s, 10);
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
	snprintf(d.bdev, sizeof(d.bdev), "/dev/ublkb%d", d.dev_id);
	pid = zc_client(&d, false, 4096, 4096, 0x3c, true);
	if (read(up[0], &dev_id, 1) != 1)
		kl_fail("first server did not register the buffer");
	kill(srv, SIGKILL);
	waitpid(srv, &status, 0);

	end = zc_now() + 60;
	while ((ret = dev_state(&d)) != UBLK_S_DEV_QUIESCED) {
		if (zc_now() > end)
			kl_fail("device state %d, want QUIESCED", ret);
		usleep(20000);
	}
	end = zc_now() + 60;
	while ((ret = zc_ctrl_cmd(&d, UBLK_U_CMD_START_USER_RECOVERY, NULL, 0,
				  0, 10)) == -EBUSY) {
		if (zc_now() > end)
			break;
		usleep(20000);
	}
	KL_EXPECT_EQ(ret, 0, "START_USER_RECOVERY");
	KL_ASSERT(waitpid(pid, &status, WNOHANG) == 0,
		  "client READ finished before recovery (exit %d): it should be requeued",
		  WEXITSTATUS(status));

	ret = zc_queue_open(&d);
	if (ret)
		kl_fail("new queue: %s", strerror(-ret));
	ret = zc_ctrl_cmd(&d, UBLK_U_CMD_END_USER_RECOVERY, NULL, 0, getpid(), 30);
	KL_EXPECT_EQ(ret, 0, "END_USER_RECOVERY");

	/* the requeued READ arrives at the new server */
	tag = zc_wait_req(&d, 20);
	KL_EXPECT_EQ(zc_serve_chain(&d, tag, fd, 1), 4096, "READ chain");
	ret = zc_client_wait(&d, pid, 20);
	KL_EXPECT_EQ(ret, 0, "client READ after recovery (2 = wrong data)");
	zc_dev_del(&d);
	kl_pass();
}
