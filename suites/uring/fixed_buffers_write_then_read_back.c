// SPDX-License-Identifier: GPL-2.0
/* WRITE_FIXED from a registered buffer, READ_FIXED into another: the bytes survive. */
#include <sys/uio.h>
#include "kl_uring.h"

#define LEN 65536

int main(void)
{
	static unsigned char src[LEN] __attribute__((aligned(4096)));
	static unsigned char dst[LEN] __attribute__((aligned(4096)));
	struct iovec iov[2] = { { src, LEN }, { dst, LEN } };
	struct io_uring ring;
	struct kl_cqe cqe;
	int fd = kl_pattern_file(1, 0);
	int ret;

	for (int i = 0; i < LEN; i++)
		src[i] = (unsigned char)(i * 31 + 7);
	kl_ring_init(&ring, 4, 0);
	ret = io_uring_register_buffers(&ring, iov, 2);
	KL_EXPECT_EQ(ret, 0, "io_uring_register_buffers");

	io_uring_prep_write_fixed(kl_sqe(&ring), fd, src, LEN, 0, 0);
	io_uring_submit(&ring);
	cqe = kl_wait(&ring);
	KL_EXPECT_EQ(cqe.res, LEN, "WRITE_FIXED result");

	io_uring_prep_read_fixed(kl_sqe(&ring), fd, dst, LEN, 0, 1);
	io_uring_submit(&ring);
	cqe = kl_wait(&ring);
	KL_EXPECT_EQ(cqe.res, LEN, "READ_FIXED result");
	for (int i = 0; i < LEN; i++)
		KL_ASSERT(dst[i] == src[i], "byte %d: want 0x%02x, got 0x%02x", i, src[i], dst[i]);
	kl_pass();
}
