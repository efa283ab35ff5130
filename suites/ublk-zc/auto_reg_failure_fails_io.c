// SPDX-License-Identifier: GPL-2.0
/*
 * UBLK_F_AUTO_BUF_REG without the fallback flag: a request whose buffer
 * can't be registered (index beyond the ring's table) is failed with an
 * IO error and never delivered to the server; the device still stops and
 * deletes cleanly.
 */
#include "zc_lib.h"

int main(void)
{
	struct kl_ublk_dev d;
	pid_t pid;
	int tag;

	kl_ublk_require(&d, &zc_auto_cfg);
	zc_auto_index(&d, ZC_NR_BUFS, 0);
	kl_ublk_dev_setup(&d, UBLK_F_AUTO_BUF_REG);

	pid = kl_ublk_child(&d, false, 0, 4096, 0, false);
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, 3 * KL_TIMEOUT_MS), 1,
		     "client READ fails (exit 1)");
	tag = kl_ublk_next_req(&d, 200);
	KL_ASSERT(tag == -ETIME, "a request was delivered although its buffer could not be registered (tag %d)",
		  tag);
	kl_ublk_dev_del(&d);
	kl_pass();
}
