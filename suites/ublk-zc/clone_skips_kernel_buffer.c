// SPDX-License-Identifier: GPL-2.0
/*
 * IORING_REGISTER_CLONE_BUFFERS of a table that holds a request's buffer
 * (0003: "clone skips them"). The clone gets the user buffers but not the
 * request's: its slot is empty there, so a WRITE_FIXED from it fails with
 * -EFAULT on the clone. The clone takes no reference on the request either:
 * with the clone still open, the server unregisters the buffer from its
 * own ring, commits, and the client's write completes.
 */
#include <sys/syscall.h>

#include "zc_lib.h"

int main(void)
{
	static unsigned char user[4096] __attribute__((aligned(4096)));
	struct iovec iov = { .iov_base = user, .iov_len = sizeof(user) };
	struct io_uring_clone_buffers cb = { 0 };
	struct io_uring_cqe *cqe;
	struct io_uring clone;
	struct kl_ublk_dev d;
	unsigned char buf[4096];
	unsigned int tag;
	int fd, ret, i;
	pid_t pid;

	kl_ublk_require(&d, &zc_cfg);
	fd = kl_tmp_file(8192, kl_fill_byte, 0);
	kl_ublk_dev_setup(&d, 0);
	memset(user, 0x66, sizeof(user));
	KL_EXPECT_EQ(io_uring_register_buffers_update_tag(&d.ring, 6, &iov, NULL, 1), 1,
		     "a user buffer at slot 6");
	pid = kl_ublk_child(&d, true, 0, 4096, 0x44, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_register(&d, tag, 5), 0, "register the request at 5");

	if (io_uring_queue_init(8, &clone, 0))
		kl_fail("io_uring_queue_init of the clone failed");
	cb.src_fd = d.ring.ring_fd;
	ret = syscall(__NR_io_uring_register, clone.ring_fd, IORING_REGISTER_CLONE_BUFFERS,
		      &cb, 1);
	KL_EXPECT_EQ(ret, 0, "IORING_REGISTER_CLONE_BUFFERS from the server's ring");

	for (i = 0; i < 2; i++) {
		struct io_uring_sqe *sqe = kl_sqe(&clone);

		/* slot 5 at offset 0 (a kernel buffer's address), slot 6 at the user address */
		io_uring_prep_write_fixed(sqe, fd, i ? (void *)user : NULL, 4096, 4096 * i,
					  5 + i);
		io_uring_submit(&clone);
		if (io_uring_wait_cqe(&clone, &cqe))
			kl_fail("waiting for the clone's WRITE_FIXED");
		if (i == 0)
			KL_EXPECT_EQ(cqe->res, -EFAULT,
				     "WRITE_FIXED from slot 5 of the clone (the request's slot)");
		else
			KL_EXPECT_EQ(cqe->res, 4096, "WRITE_FIXED from slot 6 of the clone (user)");
		io_uring_cqe_seen(&clone, cqe);
	}
	KL_EXPECT_EQ(pread(fd, buf, 4096, 0), 4096, "pread backing file");
	KL_ASSERT(buf[0] == 0 && buf[4095] == 0,
		  "the clone wrote the request's data (%#x) to the file", buf[0]);
	KL_EXPECT_EQ(pread(fd, buf, 4096, 4096), 4096, "pread backing file");
	KL_ASSERT(buf[0] == 0x66 && buf[4095] == 0x66,
		  "the clone's user buffer wrote %#x, want 0x66", buf[0]);

	/* the server's own slot 5 still holds the request */
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 0, 5), 4096,
		     "WRITE_FIXED from slot 5 of the server's ring");
	KL_EXPECT_EQ(pread(fd, buf, 4096, 0), 4096, "pread backing file");
	KL_ASSERT(buf[0] == 0x44 && buf[4095] == 0x44,
		  "backing file holds %#x, want the client's 0x44", buf[0]);
	KL_EXPECT_EQ(zc_unregister(&d, tag, 5), 0, "unregister 5 from the server's ring");
	kl_ublk_commit(&d, tag, 4096);
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS), 0,
		     "client write completes with the clone still open");
	io_uring_queue_exit(&clone);
	kl_ublk_dev_del(&d);
	kl_pass();
}
