// SPDX-License-Identifier: GPL-2.0
/*
 * UBLK_F_AUTO_BUF_REG: the driver unregisters the buffer on commit only if
 * the commit comes through the ring holding it. Committed through another
 * ring, the buffer stays where it is, still usable, and the request waits
 * until that ring unregisters it - it must not complete while io_uring can
 * still reach its pages.
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

	kl_ublk_require(&d, &zc_auto_cfg);
	zc_auto_index(&d, 0, 0);
	fd = kl_tmp_file(4096, kl_fill_byte, 0);
	kl_ublk_dev_setup(&d, UBLK_F_AUTO_BUF_REG);
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
