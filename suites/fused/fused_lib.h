/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the fused suite (kernel-patches/fused): probing for the feature,
 * building fused pairs, and a minimal ublk device driven by the test itself
 * (UBLK_F_FUSED_ZERO_COPY, one queue), so that every case can put a buffer
 * behind a fused command without depending on the kl-ublk server.
 *
 * The mini server: the calling thread FETCHes every tag and is the queue's
 * daemon; IO on /dev/ublkbN comes from a client thread (fu_client_*) or a
 * child process. fu_next_req() hands the test the next request; requests
 * the test did not ask for (partition scan at START_DEV) are served with
 * zeros. Everything waits with a timeout so a broken kernel gives a FAIL
 * rather than a hung test.
 */
#ifndef FUSED_LIB_H
#define FUSED_LIB_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
/* the tested kernel's uAPI must win over liburing's bundled copy */
#include <linux/io_uring.h>
#include <linux/ublk_cmd.h>
#include <liburing.h>

#include "kl_test.h"
#include "kl_uapi.h"

#define FU_TIMEOUT_MS	(10000 * fu_scale())

static inline int fu_scale(void)
{
	const char *s = getenv("KL_SCALE");
	int v = s ? atoi(s) : 1;

	return v > 0 ? v : 1;
}

static inline long long fu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* SKIP unless the kernel advertises IORING_FEAT_FUSED_REQ. */
static inline void fu_require_fused(void)
{
	struct io_uring_params p;
	struct io_uring ring;
	int ret;

	memset(&p, 0, sizeof(p));
	ret = io_uring_queue_init_params(4, &ring, &p);
	if (ret)
		kl_skip("io_uring_setup: %s", strerror(-ret));
	io_uring_queue_exit(&ring);
	if (!(p.features & IORING_FEAT_FUSED_REQ))
		kl_skip("kernel lacks IORING_FEAT_FUSED_REQ (fused patch set)");
}

static inline int fu_ring_init(struct io_uring *ring, unsigned int entries,
			       unsigned int flags)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	return io_uring_queue_init_params(entries, ring, &p);
}

/*
 * A fused pair as two consecutive SQEs: @prim becomes the primary (a ublk
 * UBLK_U_IO_FUSED_SUBMIT_IO for q 0 / @tag on @cdev_fd), @sec the secondary
 * @op on @fd using @len bytes at @buf_off in the primary's buffer, at file
 * offset @file_off.
 */
static inline void fu_prep_primary(struct io_uring_sqe *prim, int cdev_fd,
				   unsigned int tag, __u64 ud)
{
	struct ublksrv_io_cmd *cmd;

	memset(prim, 0, sizeof(*prim));
	prim->opcode = IORING_OP_FUSED_CMD;
	prim->fd = cdev_fd;
	prim->cmd_op = UBLK_U_IO_FUSED_SUBMIT_IO;
	prim->uring_cmd_flags = IORING_FUSED_CMD_BUF;
	cmd = (struct ublksrv_io_cmd *)prim->cmd;
	cmd->q_id = 0;
	cmd->tag = tag;
	prim->user_data = ud;
}

static inline void fu_prep_secondary(struct io_uring_sqe *sec, int op, int fd,
				     __u64 buf_off, unsigned int len,
				     __u64 file_off, __u64 ud)
{
	memset(sec, 0, sizeof(*sec));
	sec->opcode = op;
	sec->fd = fd;
	sec->addr = buf_off;
	sec->len = len;
	sec->off = file_off;
	sec->user_data = ud;
}

/* Wait at most @ms for one CQE: 0 with @ud and @res filled, or -ETIME. */
static inline int fu_wait_cqe(struct io_uring *ring, int ms, __u64 *ud,
			      int *res)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000LL,
	};
	struct io_uring_cqe *cqe;
	int ret;

	do {
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	} while (ret == -EINTR);
	if (ret)
		return ret;
	*ud = cqe->user_data;
	*res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/* ---- a minimal ublk device ---- */

#define FU_UD_CMD	(1ULL << 32)	/* FETCH / COMMIT of a tag */
#define FU_UD_PRIM	(2ULL << 32)
#define FU_UD_SEC	(3ULL << 32)
#define FU_UD_KIND(ud)	((ud) & ~0xffffffffULL)
#define FU_UD_TAG(ud)	((unsigned int)((ud) & 0xffff))

#define FU_DEPTH	4
#define FU_MAX_IO	(256U << 10)
#define FU_DEV_BYTES	(64ULL << 20)

struct fu_dev {
	int ctrl_fd;
	struct io_uring ctrl;	/* SQE128, control commands */
	int dev_id;
	__u64 flags;		/* as the kernel accepted them */
	int cdev_fd;
	struct ublksrv_io_desc *iods;
	size_t iods_len;
	struct io_uring ring;	/* server ring, IORING_SETUP_FUSED_REQ */
	int zero_fd, null_fd;
	bool fetching[FU_DEPTH];
	/* requests whose FETCH/COMMIT CQE came in while waiting for others */
	int pending[FU_DEPTH * 2];
	int nr_pending;
	volatile int start_res;
	volatile bool started;
};

static inline int fu_ctrl_cmd(struct fu_dev *d, __u32 op, void *buf, __u16 len,
			      __u64 data0, int ms)
{
	struct ublksrv_ctrl_cmd *cmd;
	struct io_uring_sqe *sqe;
	__u64 ud;
	int ret, res;

	sqe = io_uring_get_sqe(&d->ctrl);
	if (!sqe)
		return -EBUSY;
	/* an SQE128 slot: clear both halves */
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = d->ctrl_fd;
	sqe->cmd_op = op;
	cmd = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	cmd->dev_id = d->dev_id;
	cmd->queue_id = (__u16)-1;
	cmd->addr = (__u64)(uintptr_t)buf;
	cmd->len = len;
	cmd->data[0] = data0;
	ret = io_uring_submit(&d->ctrl);
	if (ret < 0)
		return ret;
	ret = fu_wait_cqe(&d->ctrl, ms, &ud, &res);
	return ret ? ret : res;
}

static inline int fu_ctrl_open(struct fu_dev *d)
{
	d->ctrl_fd = open("/dev/ublk-control", O_RDWR | O_CLOEXEC);
	if (d->ctrl_fd < 0)
		return -errno;
	return fu_ring_init(&d->ctrl, 4, IORING_SETUP_SQE128);
}

static inline int fu_get_features(struct fu_dev *d, __u64 *features)
{
	return fu_ctrl_cmd(d, UBLK_U_CMD_GET_FEATURES, features,
			   UBLK_FEATURES_LEN, 0, FU_TIMEOUT_MS);
}

static inline int fu_get_state(struct fu_dev *d)
{
	struct ublksrv_ctrl_dev_info info;
	int ret;

	memset(&info, 0, sizeof(info));
	ret = fu_ctrl_cmd(d, UBLK_U_CMD_GET_DEV_INFO, &info, sizeof(info), 0,
			  FU_TIMEOUT_MS);
	return ret < 0 ? ret : info.state;
}

static inline int fu_open_retry(const char *path, int flags)
{
	long long end = fu_now_ms() + FU_TIMEOUT_MS;
	int fd;

	for (;;) {
		fd = open(path, flags);
		if (fd >= 0 || (errno != ENOENT && errno != ENXIO) ||
		    fu_now_ms() > end)
			return fd < 0 ? -errno : fd;
		usleep(10000);
	}
}

static inline int fu_queue_cmd(struct fu_dev *d, __u32 op, unsigned int tag,
			       int result)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
	struct ublksrv_io_cmd *cmd;

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = d->cdev_fd;
	sqe->cmd_op = op;
	cmd = (struct ublksrv_io_cmd *)sqe->cmd;
	cmd->q_id = 0;
	cmd->tag = tag;
	cmd->result = result;
	sqe->user_data = FU_UD_CMD | tag;
	d->fetching[tag] = true;
	return 0;
}

/*
 * Add the device with @flags and FETCH every tag: returns 0, or a reason to
 * SKIP in @why (the driver lacks what we need) and -errno.
 */
static inline int fu_dev_add(struct fu_dev *d, __u64 flags, const char **why)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	char path[64];
	__u64 features = 0;
	long page = sysconf(_SC_PAGESIZE);
	int ret, i;

	memset(d, 0, sizeof(*d));
	d->dev_id = -1;
	d->cdev_fd = d->zero_fd = d->null_fd = -1;
	*why = NULL;
	ret = fu_ctrl_open(d);
	if (ret) {
		*why = "no /dev/ublk-control (CONFIG_BLK_DEV_UBLK)";
		return ret;
	}
	ret = fu_get_features(d, &features);
	if (ret < 0) {
		*why = "UBLK_U_CMD_GET_FEATURES failed";
		return ret;
	}
	if ((flags & UBLK_F_FUSED_ZERO_COPY) &&
	    !(features & UBLK_F_FUSED_ZERO_COPY)) {
		*why = "ublk lacks UBLK_F_FUSED_ZERO_COPY";
		return -EOPNOTSUPP;
	}

	memset(&info, 0, sizeof(info));
	info.nr_hw_queues = 1;
	info.queue_depth = FU_DEPTH;
	info.max_io_buf_bytes = FU_MAX_IO;
	info.dev_id = (__u32)-1;
	info.ublksrv_pid = getpid();
	info.flags = flags | UBLK_F_CMD_IOCTL_ENCODE;
	ret = fu_ctrl_cmd(d, UBLK_U_CMD_ADD_DEV, &info, sizeof(info), 0,
			  FU_TIMEOUT_MS);
	if (ret < 0)
		return ret;
	d->dev_id = info.dev_id;
	d->flags = info.flags;

	memset(&p, 0, sizeof(p));
	p.len = sizeof(p);
	p.types = UBLK_PARAM_TYPE_BASIC;
	p.basic.logical_bs_shift = 9;
	p.basic.physical_bs_shift = 12;
	p.basic.io_opt_shift = 12;
	p.basic.io_min_shift = 9;
	p.basic.max_sectors = FU_MAX_IO >> 9;
	p.basic.dev_sectors = FU_DEV_BYTES >> 9;
	ret = fu_ctrl_cmd(d, UBLK_U_CMD_SET_PARAMS, &p, sizeof(p), 0,
			  FU_TIMEOUT_MS);
	if (ret < 0)
		return ret;

	snprintf(path, sizeof(path), "/dev/ublkc%d", d->dev_id);
	d->cdev_fd = fu_open_retry(path, O_RDWR | O_CLOEXEC);
	if (d->cdev_fd < 0)
		return d->cdev_fd;
	d->iods_len = (FU_DEPTH * sizeof(struct ublksrv_io_desc) + page - 1) &
		      ~(page - 1);
	d->iods = mmap(NULL, d->iods_len, PROT_READ, MAP_SHARED | MAP_POPULATE,
		       d->cdev_fd, UBLKSRV_CMD_BUF_OFFSET);
	if (d->iods == MAP_FAILED) {
		d->iods = NULL;
		return -errno;
	}
	d->zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	d->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (d->zero_fd < 0 || d->null_fd < 0)
		return -errno;

	ret = fu_ring_init(&d->ring, 64, IORING_SETUP_FUSED_REQ);
	if (ret)
		return ret;
	for (i = 0; i < FU_DEPTH; i++) {
		ret = fu_queue_cmd(d, UBLK_U_IO_FETCH_REQ, i, 0);
		if (ret)
			return ret;
	}
	ret = io_uring_submit(&d->ring);
	return ret < 0 ? ret : 0;
}

static inline void *fu_start_thread(void *arg)
{
	struct fu_dev *d = arg;

	d->start_res = fu_ctrl_cmd(d, UBLK_U_CMD_START_DEV, NULL, 0, getpid(),
				   FU_TIMEOUT_MS);
	__atomic_store_n(&d->started, true, __ATOMIC_RELEASE);
	return NULL;
}

/* sqe->flags fu_fused_rw() gives the primary and the secondary */
static unsigned int fu_prim_sqe_flags, fu_sec_sqe_flags;

/* Serve with a fused pair on /dev/zero (READ) or /dev/null (WRITE). */
static inline int fu_fused_rw(struct fu_dev *d, unsigned int tag, int op,
			      int fd, __u64 buf_off, unsigned int len,
			      __u64 file_off, int *prim_res, int *sec_res,
			      bool *prim_last);

static inline void fu_commit(struct fu_dev *d, unsigned int tag, int res)
{
	if (fu_queue_cmd(d, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag, res) ||
	    io_uring_submit(&d->ring) < 0)
		kl_fail("COMMIT_AND_FETCH_REQ of tag %u: no SQE", tag);
}

static inline void fu_serve_default(struct fu_dev *d, unsigned int tag)
{
	const struct ublksrv_io_desc *iod = &d->iods[tag];
	unsigned int len = iod->nr_sectors << 9;
	int pres = 0, sres = 0, op = ublksrv_get_op(iod);
	bool last;

	if (op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE) {
		fu_fused_rw(d, tag, op == UBLK_IO_OP_READ ? IORING_OP_READ :
			    IORING_OP_WRITE, op == UBLK_IO_OP_READ ?
			    d->zero_fd : d->null_fd, 0, len, 0, &pres, &sres,
			    &last);
		fu_commit(d, tag, sres < 0 ? sres : pres < 0 ? pres : sres);
	} else {
		fu_commit(d, tag, 0);
	}
}

/*
 * Next request handed to the server, within @ms: its tag, -ETIME, or
 * -ENODEV once the device is stopping (the FETCHes come back aborted).
 */
static inline int fu_next_req(struct fu_dev *d, int ms)
{
	long long end = fu_now_ms() + ms;

	for (;;) {
		__u64 ud;
		int res, ret, left = end - fu_now_ms();

		if (d->nr_pending) {
			ret = d->pending[0];
			memmove(d->pending, d->pending + 1,
				--d->nr_pending * sizeof(int));
			return ret;
		}
		if (left <= 0)
			return -ETIME;
		ret = fu_wait_cqe(&d->ring, left > 100 ? 100 : left, &ud, &res);
		if (ret == -ETIME)
			continue;
		if (ret)
			return ret;
		if (FU_UD_KIND(ud) != FU_UD_CMD)
			kl_fail("unexpected CQE %llx res %d while idle",
				(unsigned long long)ud, res);
		d->fetching[FU_UD_TAG(ud)] = false;
		if (res == UBLK_IO_RES_ABORT)
			return -ENODEV;
		if (res != UBLK_IO_RES_OK)
			kl_fail("FETCH/COMMIT of tag %u: %d", FU_UD_TAG(ud), res);
		return FU_UD_TAG(ud);
	}
}

/* START_DEV, serving what add_disk() reads meanwhile. */
static inline int fu_dev_start(struct fu_dev *d)
{
	long long end = fu_now_ms() + 2 * FU_TIMEOUT_MS;
	struct fu_dev *dp = d;
	pthread_t thr;
	int tag;

	if (pthread_create(&thr, NULL, fu_start_thread, dp))
		return -EAGAIN;
	while (!__atomic_load_n(&d->started, __ATOMIC_ACQUIRE)) {
		if (fu_now_ms() > end)
			kl_fail("START_DEV did not complete");
		tag = fu_next_req(d, 100);
		if (tag >= 0)
			fu_serve_default(d, tag);
		else if (tag != -ETIME)
			break;
	}
	pthread_join(thr, NULL);
	return d->start_res;
}

/* Serve (with zeros) everything until the device stops, or @ms pass. */
static inline void fu_serve_until_stopped(struct fu_dev *d, int ms)
{
	long long end = fu_now_ms() + ms;
	int tag;

	while (fu_now_ms() < end) {
		bool busy = false;
		int i;

		for (i = 0; i < FU_DEPTH; i++)
			busy |= d->fetching[i];
		if (!busy && !d->nr_pending)
			return;
		tag = fu_next_req(d, 100);
		if (tag >= 0)
			fu_serve_default(d, tag);
	}
}

/* Tear down whatever fu_dev_add() set up; errors are ignored. */
static inline void fu_dev_del(struct fu_dev *d)
{
	if (d->dev_id >= 0 && d->ring.ring_fd > 0) {
		/* STOP_DEV waits for in-flight IO: keep serving meanwhile */
		struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ctrl);
		struct ublksrv_ctrl_cmd *cmd;
		__u64 ud;
		int res;

		if (!sqe)
			kl_fail("no SQE for STOP_DEV");
		memset(sqe, 0, 2 * sizeof(*sqe));
		sqe->opcode = IORING_OP_URING_CMD;
		sqe->fd = d->ctrl_fd;
		sqe->cmd_op = UBLK_U_CMD_STOP_DEV;
		cmd = (struct ublksrv_ctrl_cmd *)sqe->cmd;
		cmd->dev_id = d->dev_id;
		cmd->queue_id = (__u16)-1;
		io_uring_submit(&d->ctrl);
		fu_serve_until_stopped(d, FU_TIMEOUT_MS);
		fu_wait_cqe(&d->ctrl, FU_TIMEOUT_MS, &ud, &res);
	}
	if (d->ring.ring_fd > 0)
		io_uring_queue_exit(&d->ring);
	memset(&d->ring, 0, sizeof(d->ring));
	if (d->iods)
		munmap(d->iods, d->iods_len);
	d->iods = NULL;
	if (d->cdev_fd >= 0)
		close(d->cdev_fd);
	d->cdev_fd = -1;
	if (d->dev_id >= 0)
		fu_ctrl_cmd(d, UBLK_U_CMD_DEL_DEV, NULL, 0, 0, FU_TIMEOUT_MS);
	d->dev_id = -1;
}

/* Add + start, or SKIP/FAIL. */
static inline void fu_dev_setup(struct fu_dev *d, __u64 flags)
{
	const char *why;
	int ret;

	ret = fu_dev_add(d, flags, &why);
	if (ret && why)
		kl_skip("%s", why);
	if (ret == -EPERM || ret == -EACCES)
		kl_skip("adding a ublk device: %s", strerror(-ret));
	if (ret)
		kl_fail("adding a ublk device: %s", strerror(-ret));
	ret = fu_dev_start(d);
	if (ret)
		kl_fail("START_DEV: %s", strerror(-ret));
}

/*
 * Submit a fused pair for @tag and wait for both CQEs. *prim_last tells
 * whether the primary's CQE came after the secondary's.
 */
static inline int fu_fused_rw(struct fu_dev *d, unsigned int tag, int op,
			      int fd, __u64 buf_off, unsigned int len,
			      __u64 file_off, int *prim_res, int *sec_res,
			      bool *prim_last)
{
	struct io_uring_sqe *prim, *sec;
	int got = 0, ret;

	if (io_uring_sq_space_left(&d->ring) < 2)
		io_uring_submit(&d->ring);
	prim = io_uring_get_sqe(&d->ring);
	sec = io_uring_get_sqe(&d->ring);
	if (!prim || !sec)
		kl_fail("no SQEs for a fused pair");
	fu_prep_primary(prim, d->cdev_fd, tag, FU_UD_PRIM | tag);
	fu_prep_secondary(sec, op, fd, buf_off, len, file_off, FU_UD_SEC | tag);
	prim->flags |= fu_prim_sqe_flags;
	sec->flags |= fu_sec_sqe_flags;
	ret = io_uring_submit(&d->ring);
	if (ret < 0)
		kl_fail("submitting a fused pair: %s", strerror(-ret));
	*prim_last = false;
	while (got != 3) {
		__u64 ud;
		int res;

		ret = fu_wait_cqe(&d->ring, FU_TIMEOUT_MS, &ud, &res);
		if (ret)
			kl_fail("waiting for the fused pair of tag %u: %s (got %d)",
				tag, strerror(-ret), got);
		switch (FU_UD_KIND(ud)) {
		case FU_UD_PRIM:
			*prim_res = res;
			*prim_last = got == 2;
			got |= 1;
			break;
		case FU_UD_SEC:
			*sec_res = res;
			got |= 2;
			break;
		case FU_UD_CMD:
			/* another tag's request arrived: keep it for later */
			d->fetching[FU_UD_TAG(ud)] = false;
			if (res == UBLK_IO_RES_OK)
				d->pending[d->nr_pending++] = FU_UD_TAG(ud);
			break;
		default:
			kl_fail("unexpected CQE %llx", (unsigned long long)ud);
		}
	}
	return 0;
}

/* ---- client IO on /dev/ublkbN from a thread ---- */
struct fu_client {
	pthread_t thr;
	int dev_id;
	bool write;
	void *buf;
	size_t len;
	off_t off;
	volatile ssize_t res;	/* bytes or -errno */
	volatile bool done;
};

static inline void *fu_client_fn(void *arg)
{
	struct fu_client *c = arg;
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/dev/ublkb%d", c->dev_id);
	fd = fu_open_retry(path, (c->write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		c->res = fd;
	} else {
		if (c->write)
			n = pwrite(fd, c->buf, c->len, c->off);
		else
			n = pread(fd, c->buf, c->len, c->off);
		c->res = n < 0 ? -errno : n;
		close(fd);
	}
	__atomic_store_n(&c->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Start one O_DIRECT pread/pwrite of @len bytes at @off. */
static inline void fu_client_start(struct fu_client *c, int dev_id, bool write,
				   size_t len, off_t off)
{
	memset(c, 0, sizeof(*c));
	c->dev_id = dev_id;
	c->write = write;
	c->len = len;
	c->off = off;
	if (posix_memalign(&c->buf, 4096, len))
		kl_fail("out of memory");
	memset(c->buf, 0, len);
	if (pthread_create(&c->thr, NULL, fu_client_fn, c))
		kl_fail("pthread_create failed");
}

static inline ssize_t fu_client_wait(struct fu_client *c)
{
	pthread_join(c->thr, NULL);
	return c->res;
}

/* The next request the client's IO made: (op, offset) must match. */
static inline unsigned int fu_wait_client_req(struct fu_dev *d, int ublk_op,
					      off_t off)
{
	long long end = fu_now_ms() + FU_TIMEOUT_MS;

	for (;;) {
		const struct ublksrv_io_desc *iod;
		int tag = fu_next_req(d, end - fu_now_ms());

		if (tag < 0)
			kl_fail("no request for the client IO: %s",
				strerror(-tag));
		iod = &d->iods[tag];
		if (ublksrv_get_op(iod) == ublk_op &&
		    iod->start_sector == (__u64)off >> 9)
			return tag;
		fu_serve_default(d, tag);
	}
}

static inline void fu_fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed + i * 7 + (i >> 9));
}

/* A tmpfs file with @len bytes of pattern @seed, opened read-write. */
static inline int fu_tmp_file(size_t len, unsigned int seed)
{
	const char *dir = getenv("KL_TMP");
	char path[256];
	void *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/fused-XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		kl_fail("mkstemp %s: %s", path, strerror(errno));
	unlink(path);
	buf = malloc(len);
	if (!buf)
		kl_fail("out of memory");
	fu_fill(buf, len, seed);
	if (pwrite(fd, buf, len, 0) != (ssize_t)len)
		kl_fail("writing %s: %s", path, strerror(errno));
	free(buf);
	return fd;
}

#endif
