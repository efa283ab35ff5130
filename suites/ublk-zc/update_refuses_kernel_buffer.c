// SPDX-License-Identifier: GPL-2.0
/*
 * IORING_REGISTER_BUFFERS_UPDATE of a slot that holds a request's buffer:
 * -EBUSY, and the slot keeps the buffer (review B6). Replacing it would
 * hand the request's pages to the ring's deferred resource removal, which
 * runs only once every older resource node is gone: with the server's
 * FETCH commands parked on the fixed char device, never, and the request
 * would stay in flight. The owner gives it back by unregistering it.
 */
#include "zc_lib.h"

int main(void)
{
	static char user[4096];
	struct iovec iov = { .iov_base = user, .iov_len = sizeof(user) };
	struct kl_ublk_dev d;
	unsigned int tag;
	char buf[4096];
	pid_t pid;
	int fd, ret;

	kl_ublk_require(&d, &zc_cfg);
	fd = kl_tmp_file(4096, kl_fill_byte, 0);
	kl_ublk_dev_setup(&d, 0);
	pid = kl_ublk_child(&d, true, 0, 4096, 0x33, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);

	KL_EXPECT_EQ(zc_register(&d, tag, 5), 0, "register the request at 5");
	ret = io_uring_register_buffers_update_tag(&d.ring, 5, &iov, NULL, 1);
	KL_EXPECT_EQ(ret, -EBUSY, "BUFFERS_UPDATE of slot 5 (a user buffer over the request's)");
	/* an update of a free slot still works: the refusal is for kernel buffers only */
	ret = io_uring_register_buffers_update_tag(&d.ring, 6, &iov, NULL, 1);
	KL_EXPECT_EQ(ret, 1, "BUFFERS_UPDATE of the free slot 6");
	/* slot 5 still holds the request: its data goes out of it */
	KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, 0, 4096, 0, 5),
		     4096, "WRITE_FIXED from slot 5");
	KL_EXPECT_EQ(pread(fd, buf, 4096, 0), 4096, "pread backing file");
	KL_ASSERT(buf[0] == 0x33 && buf[4095] == 0x33,
		  "backing file holds %#x, want the client's 0x33", buf[0]);
	KL_EXPECT_EQ(zc_unregister(&d, tag, 5), 0, "unregister 5");
	kl_ublk_commit(&d, tag, 4096);
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "client write completes");
	kl_ublk_dev_del(&d);
	kl_pass();
}
