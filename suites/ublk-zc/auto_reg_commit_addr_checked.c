// SPDX-License-Identifier: GPL-2.0
/*
 * UBLK_F_AUTO_BUF_REG: ->addr of COMMIT_AND_FETCH is a struct
 * ublk_auto_buf_reg whose reserved fields must be zero and whose flags
 * must be known: otherwise -EINVAL, and the request stays the server's
 * (a correct commit afterwards completes it).
 */
#include "zc_lib.h"

static int commit_with(struct kl_ublk_dev *d, unsigned int tag, __u64 addr)
{
	struct io_uring_sqe *sqe = kl_sqe(&d->ring);
	__u64 ud = kl_ublk_op_ud(d);

	kl_ublk_prep_io_cmd(d, sqe, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag, 4096, addr);
	sqe->user_data = ud;
	io_uring_submit(&d->ring);
	return kl_ublk_wait_op(d, ud, KL_TIMEOUT_MS);
}

int main(void)
{
	struct kl_ublk_dev d;
	unsigned int tag;
	__u64 good;
	pid_t pid;

	kl_ublk_require(&d, &zc_auto_cfg);
	zc_auto_index(&d, 0, 0);
	kl_ublk_dev_setup(&d, UBLK_F_AUTO_BUF_REG);

	pid = kl_ublk_child(&d, true, 0, 4096, 0x11, false);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_WRITE, 0);
	good = d.fetch_addr[tag];
	KL_EXPECT_EQ(commit_with(&d, tag, good | 1ULL << 24), -EINVAL, "reserved0 set");
	KL_EXPECT_EQ(commit_with(&d, tag, good | 1ULL << 32), -EINVAL, "reserved1 set");
	KL_EXPECT_EQ(commit_with(&d, tag, good | (__u64)(UBLK_AUTO_BUF_REG_FALLBACK << 1) << 16),
		     -EINVAL, "unknown flag");
	usleep(100000);
	KL_ASSERT(waitpid(pid, NULL, WNOHANG) == 0,
		  "client completed although every commit was refused");
	kl_ublk_commit(&d, tag, 4096);
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS), 0,
		     "client write completes after a valid commit");
	kl_ublk_dev_del(&d);
	kl_pass();
}
