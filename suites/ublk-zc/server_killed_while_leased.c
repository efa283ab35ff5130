// SPDX-License-Identifier: GPL-2.0
/*
 * Abort while leased: the server process is SIGKILLed while one request's
 * buffer is registered and another request was committed with its buffer
 * still registered. The kernel must not complete a request whose pages
 * io_uring still holds (KASAN/WARN would show it); the client whose request
 * was never committed gets an error (no success for IO nobody served), the
 * client whose request was committed gets its committed result or an error
 * (never a crash or a hang); and the device must be deletable. Which
 * client's request is which depends on arrival: the server says which one
 * it committed.
 */
#include "zc_lib.h"

int main(void)
{
	struct kl_ublk_dev d, ctl;
	int up[2], down[2], ret, status;
	pid_t srv, c1, c2;
	char dev_id = 0, committed_op;
	int c1_res, c2_res;

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
		dev_id = (char)ublksrv_get_op(&d.iods[t2]);
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
	if (read(up[0], &committed_op, 1) != 1)
		kl_fail("server did not register");
	if (committed_op != UBLK_IO_OP_READ && committed_op != UBLK_IO_OP_WRITE)
		kl_fail("the server committed op %d, neither client's", committed_op);
	kill(srv, SIGKILL);
	waitpid(srv, &status, 0);

	c1_res = kl_ublk_child_wait(NULL, c1, 6 * KL_TIMEOUT_MS);
	KL_ASSERT(c1_res != -ETIMEDOUT, "client 1 (read) hangs after the server died");
	c2_res = kl_ublk_child_wait(NULL, c2, 6 * KL_TIMEOUT_MS);
	KL_ASSERT(c2_res != -ETIMEDOUT, "client 2 (write) hangs after the server died");
	if (committed_op == UBLK_IO_OP_READ) {
		KL_ASSERT(c2_res == 1, "the write, never committed: want an IO error (exit 1), got exit %d",
			  c2_res);
		KL_ASSERT(c1_res == 0 || c1_res == 1,
			  "the committed read: want its result or an IO error, got exit %d", c1_res);
	} else {
		KL_ASSERT(c1_res == 1, "the read, never committed: want an IO error (exit 1), got exit %d",
			  c1_res);
		KL_ASSERT(c2_res == 0 || c2_res == 1,
			  "the committed write: want its result or an IO error, got exit %d", c2_res);
	}
	kl_info("committed the %s; read exit %d, write exit %d",
		committed_op == UBLK_IO_OP_READ ? "read" : "write", c1_res, c2_res);
	ret = kl_ublk_ctrl(&ctl, UBLK_U_CMD_DEL_DEV, NULL, 0, 0, 6 * KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "DEL_DEV after the server died");
	kl_pass();
}
