// SPDX-License-Identifier: GPL-2.0
/*
 * STOP_DEV while a request's buffer is registered: deleting the disk waits
 * for the request, and the request may not complete while io_uring holds
 * its pages, neither before the server commits nor after. Once the buffer
 * is unregistered the request completes, and so does STOP_DEV: a leaked
 * registration keeps a live server's device, as a request the server never
 * commits does, and nothing else.
 */
#include "zc_lib.h"

/* Has the control ring's STOP_DEV completed? Its result in *res if so. */
static bool stop_done(struct kl_ublk_dev *d, int *res)
{
	struct kl_cqe cqe;

	if (kl_wait_timeout(&d->ctrl.ring, 0, &cqe))
		return false;
	*res = cqe.res;
	return true;
}

/* Serve the queue ring for @ms; FAIL if the client or STOP_DEV finished. */
static void still_held(struct kl_ublk_dev *d, pid_t pid, const char *when)
{
	long long end = kl_now_ms() + 300 * kl_scale();
	int status, res = 0;

	while (kl_now_ms() < end) {
		kl_ublk_reap(d, 5, NULL);
		KL_ASSERT(waitpid(pid, &status, WNOHANG) == 0,
			  "client READ completed %s, its buffer still registered", when);
		KL_ASSERT(!stop_done(d, &res),
			  "STOP_DEV completed (%s) %s, the request's buffer still registered",
			  kl_err(res), when);
	}
}

int main(void)
{
	long long end;
	struct kl_ublk_dev d;
	unsigned int tag;
	int ret, res = 0;
	pid_t pid;

	kl_ublk_require(&d, &zc_cfg);
	kl_ublk_dev_setup(&d, 0);
	pid = kl_ublk_child(&d, false, 0, 4096, 0, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_register(&d, tag, 0), 0, "register");

	ret = kl_ublk_ctrl_submit(&d.ctrl, UBLK_U_CMD_STOP_DEV, d.dev_id, NULL, 0, 0);
	KL_EXPECT_EQ(ret, 0, "submit STOP_DEV");
	still_held(&d, pid, "before the commit");

	kl_ublk_commit(&d, tag, 4096);
	still_held(&d, pid, "after the commit");

	KL_EXPECT_EQ(zc_unregister(&d, tag, 0), 0, "unregister after commit");
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_ASSERT(ret != -ETIMEDOUT, "client READ hangs after its buffer was unregistered");
	KL_EXPECT_EQ(ret, 0, "client READ of the committed 4096 bytes");

	end = kl_now_ms() + 3 * KL_TIMEOUT_MS;
	while (!stop_done(&d, &res)) {
		KL_ASSERT(kl_now_ms() < end, "STOP_DEV hangs after the buffer was unregistered");
		kl_ublk_reap(&d, 5, NULL);
	}
	KL_EXPECT_EQ(res, 0, "STOP_DEV");
	KL_EXPECT_EQ(kl_ublk_get_state(&d), UBLK_S_DEV_DEAD, "state after STOP_DEV");
	kl_ublk_dev_del(&d);
	kl_pass();
}
