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
	__u64 extra1;	/* a big CQE's first extra word (IORING_SETUP_CQE32), else 0 */
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
	copy.extra1 = (ring->flags & IORING_SETUP_CQE32) ? cqe->big_cqe[0] : 0;
	io_uring_cqe_seen(ring, cqe);
	return copy;
}

/*
 * Wait at most @ms for one CQE and copy it out: 0, or -ETIME when none came
 * (another -errno if the wait itself failed). @ms 0 only looks.
 */
static inline int kl_wait_timeout(struct io_uring *ring, int ms, struct kl_cqe *out)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000LL,
	};
	struct io_uring_cqe *cqe;
	int ret;

	if (ms <= 0)
		ret = io_uring_peek_cqe(ring, &cqe);
	else
		do {
			ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		} while (ret == -EINTR);
	if (ret)
		return ret == -EAGAIN ? -ETIME : ret;
	out->user_data = cqe->user_data;
	out->res = cqe->res;
	out->flags = cqe->flags;
	out->extra1 = (ring->flags & IORING_SETUP_CQE32) ? cqe->big_cqe[0] : 0;
	io_uring_cqe_seen(ring, cqe);
	return 0;
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

/* A byte pattern that differs in every byte of a sector and from sector to sector. */
static inline void kl_fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(seed + i * 7 + (i >> 9));
}

/* @byte in every byte. */
static inline void kl_fill_byte(void *buf, size_t len, unsigned int byte)
{
	memset(buf, (unsigned char)byte, len);
}

/*
 * A scratch file in the test's $KL_TMP (else /tmp), unlinked, read-write,
 * holding @len bytes that @fill (kl_fill, kl_fill_byte) makes of @seed.
 */
static inline int kl_tmp_file(size_t len, void (*fill)(void *, size_t, unsigned int),
			      unsigned int seed)
{
	const char *dir = getenv("KL_TMP");
	char path[256];
	void *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/kl-XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		kl_fail("mkstemp %s: %s", path, strerror(errno));
	unlink(path);
	buf = malloc(len);
	if (!buf)
		kl_fail("out of memory for a %zu byte scratch file", len);
	fill(buf, len, seed);
	if (pwrite(fd, buf, len, 0) != (ssize_t)len)
		kl_fail("writing %s: %s", path, strerror(errno));
	free(buf);
	return fd;
}

#endif
