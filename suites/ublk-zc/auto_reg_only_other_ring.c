// SPDX-License-Identifier: GPL-2.0
/*
 * UBLK_F_AUTO_BUF_REG without UBLK_F_SUPPORT_ZERO_COPY: a request committed
 * through another ring than the one holding its buffer waits for that
 * buffer, and the server takes it back with a manual UNREGISTER on the
 * first ring, which this device allows (review finding B5: it was refused
 * for want of SUPPORT_ZERO_COPY, and the request waited for the ring's
 * teardown). The client's write then completes.
 */
#include "zc_lib.h"

int main(void)
{
	struct kl_ublk_dev d;
	struct io_uring other;
	struct io_uring_sqe *sqe;
	unsigned int tag;
	pid_t pid;
	int fd;

	kl_ublk_require(&d, &zc_auto_only_cfg);
	zc_auto_index(&d, 0, 0);
	fd = kl_tmp_file(4096, kl_fill_byte, 0);
	kl_ublk_dev_setup(&d, UBLK_F_AUTO_BUF_REG);
	KL_ASSERT(!(d.flags & UBLK_F_SUPPORT_ZERO_COPY),
		  "the device has SUPPORT_ZERO_COPY: this test is about AUTO_BUF_REG alone");
	kl_ring_init(&other, 8, 0);

	pid = kl_ublk_child(&d, true, 0, 4096, 0x42, false);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_WRITE, 0);

	/* COMMIT_AND_FETCH through the other ring (plain fd, no fixed file) */
	sqe = kl_sqe(&other);
	kl_ublk_prep_io_cmd(&d, sqe, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag, 4096,
			    d.fetch_addr[tag]);
	sqe->fd = d.cdev_fd;
	sqe->flags = 0;
	d.fetching[tag] = true;
	KL_EXPECT_EQ(io_uring_submit(&other), 1, "submit the commit on the other ring");
	usleep(100000);
	kl_ublk_poll(&d);
	KL_ASSERT(waitpid(pid, NULL, WNOHANG) == 0,
		  "client completed while the first ring still held its buffer");
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 0, tag), 4096,
		     "the buffer is still in the first ring after the commit");

	KL_EXPECT_EQ(zc_unregister(&d, tag, tag), 0, "unregister on the first ring");
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS), 0,
		     "client write completes once the buffer is back");
	kl_ublk_dev_del(&d);
	io_uring_queue_exit(&other);
	kl_pass();
}
