/* SPDX-License-Identifier: GPL-2.0 */
/* Small io_uring helpers shared by the suites (liburing 2.3 lacks the uring_cmd preps). */
#ifndef KL_URING_H
#define KL_URING_H

#include <fcntl.h>
/* The tested kernel's header first: liburing's bundled copy shares its include guard. */
#include <linux/io_uring.h>
#include <liburing.h>
#include <unistd.h>
#include "kl_test.h"

static inline void kl_ring_init(struct io_uring *ring, unsigned int entries, unsigned int flags)
{
	int ret = io_uring_queue_init(entries, ring, flags);

	if (ret == -ENOSYS)
		kl_skip("io_uring not supported by this kernel");
	if (ret < 0)
		kl_fail("io_uring_queue_init(%u, flags 0x%x): %s", entries, flags, strerror(-ret));
}

static inline struct io_uring_sqe *kl_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		kl_fail("submission queue full");
	return sqe;
}

/* A completion copied out of the ring (the ring's cqe has a flexible array tail). */
struct kl_cqe {
	__u64 user_data;
	__s32 res;
	__u32 flags;
};

/* Wait for one CQE and copy it out. */
static inline struct kl_cqe kl_wait(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	struct kl_cqe copy;
	int ret = io_uring_wait_cqe(ring, &cqe);

	if (ret < 0)
		kl_fail("io_uring_wait_cqe: %s", strerror(-ret));
	copy.user_data = cqe->user_data;
	copy.res = cqe->res;
	copy.flags = cqe->flags;
	io_uring_cqe_seen(ring, cqe);
	return copy;
}

/* A file of len bytes filled with a byte pattern, on tmpfs. */
static inline int kl_pattern_file(size_t len, unsigned char seed)
{
	char path[] = "/tmp/kl-XXXXXX";
	unsigned char *buf = malloc(len);
	int fd = mkstemp(path);

	if (fd < 0 || !buf)
		kl_fail("cannot create a scratch file: %s", strerror(errno));
	unlink(path);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed + i * 7);
	if (write(fd, buf, len) != (ssize_t)len)
		kl_fail("cannot fill the scratch file: %s", strerror(errno));
	free(buf);
	return fd;
}

#endif
