// SPDX-License-Identifier: GPL-2.0
/*
 * REGISTER_IO_BUF is refused unless the server owns the request: not for a
 * tag whose FETCH is still pending, not for another idle tag, not after
 * COMMIT_AND_FETCH, not beyond the queue depth, and not on a device created
 * without UBLK_F_SUPPORT_ZERO_COPY (a second device, with the same sparse
 * buffer table, for a request its server owns). The same register on an
 * owned request of the zero-copy device succeeds, so the refusals are the
 * ownership's and the device's, not the table's.
 */
#include "zc_lib.h"

/* zc_cfg without UBLK_F_SUPPORT_ZERO_COPY: a copy-mode device, same ring setup */
static const struct kl_ublk_cfg copy_cfg = {
	.need = 0,
	.need_name = "ublk",
	.max_io = 512U << 10,
	.nr_bufs = ZC_NR_BUFS,
	.fixed_cdev = true,
};

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
	KL_EXPECT_EQ(zc_register(&d, tag, 0), 0, "register the owned request");
	KL_EXPECT_EQ(zc_unregister(&d, tag, 0), 0, "unregister it");
	kl_ublk_commit(&d, tag, 4096);
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client write");
	KL_EXPECT_EQ(zc_register(&d, tag, 0), -EINVAL,
		     "register a tag after COMMIT_AND_FETCH");
	KL_EXPECT_EQ(zc_register(&d, KL_UBLK_DEPTH, 0), -EINVAL,
		     "register a tag beyond the queue depth");
	kl_ublk_dev_del(&d);

	/*
	 * a device without UBLK_F_SUPPORT_ZERO_COPY (USER_COPY: no server
	 * buffer to copy into), its request owned by the server
	 */
	kl_ublk_require(&d, &copy_cfg);
	kl_ublk_dev_setup(&d, UBLK_F_USER_COPY);
	KL_ASSERT(!(d.flags & UBLK_F_SUPPORT_ZERO_COPY), "copy-mode device got SUPPORT_ZERO_COPY");
	pid = kl_ublk_child(&d, true, 0, 4096, 0x34, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_register(&d, tag, 0), -EINVAL,
		     "register on a device without UBLK_F_SUPPORT_ZERO_COPY");
	KL_EXPECT_EQ(zc_unregister(&d, tag, 0), -EINVAL,
		     "unregister on a device without UBLK_F_SUPPORT_ZERO_COPY");
	kl_ublk_commit(&d, tag, 4096);
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS), 0, "client write on the copy-mode device");
	kl_ublk_dev_del(&d);
	kl_pass();
}
