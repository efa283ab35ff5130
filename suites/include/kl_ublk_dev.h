/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A ublk device served by the test itself (one queue, KL_UBLK_DEPTH tags,
 * driven from the calling thread), so that a test sees each request, does
 * to it what it checks and commits it; no kl-ublk server involved. The
 * fused and ublk-zc suites use it; what is theirs alone (fused pairs,
 * buffer registration) is in their fused_lib.h and zc_lib.h.
 *
 * - A suite describes its devices once (struct kl_ublk_cfg: the feature
 *   they need, the queue ring's setup, how to serve a request).
 *   kl_ublk_require() SKIPs unless the driver offers the feature,
 *   kl_ublk_dev_setup() adds and starts a device or FAILs (in two steps,
 *   kl_ublk_dev_add() then kl_ublk_dev_start(), for a test that uses the
 *   queue of a device before it is started: kl_ublk_queue_init()).
 * - The queue ring's CQEs are taken in by kl_ublk_reap(): a FETCH /
 *   COMMIT_AND_FETCH completion queues its tag for kl_ublk_next_req(), the
 *   completion of an SQE tagged with kl_ublk_op_ud() is kept for
 *   kl_ublk_wait_op(); any other CQE goes to the caller.
 * - While the test waits for something else (START_DEV, STOP_DEV, the
 *   request of its client), requests nobody asked for (the partition scan)
 *   are served: by the suite's serve(), else as a null target.
 * - IO on /dev/ublkbN comes from a client thread (kl_ublk_client_*) or from
 *   a forked client that keeps nothing of the server (kl_ublk_child*).
 * - Every wait is bounded by a multiple of KL_TIMEOUT_MS (scaled under
 *   TCG), so a broken kernel gives a FAIL rather than a hung test.
 */
#ifndef KL_UBLK_DEV_H
#define KL_UBLK_DEV_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kl_ublk.h"
#include "kl_uapi.h"

#define KL_UBLK_DEPTH		4
#define KL_UBLK_DEV_BYTES	(64ULL << 20)
#define KL_UBLK_MAX_DONE	64

/* cqe->user_data on the queue ring: a kind in bits 32-63; kinds from 16 up are a suite's */
#define KL_UBLK_UD_FETCH	(1ULL << 32)	/* | tag: FETCH / COMMIT_AND_FETCH */
#define KL_UBLK_UD_OP		(2ULL << 32)	/* | sequence: kl_ublk_op_ud() */
#define KL_UBLK_UD_KIND(ud)	((ud) & ~0xffffffffULL)
#define KL_UBLK_UD_TAG(ud)	((unsigned int)((ud) & 0xffff))

struct kl_ublk_dev;

/* What the devices of a suite are like. */
struct kl_ublk_cfg {
	__u64 need;			/* UBLK_F_*: the driver must offer it, every device has it */
	const char *need_name;		/* for the SKIP reason */
	unsigned int max_io;		/* max_io_buf_bytes */
	unsigned int ring_flags;	/* IORING_SETUP_* of the queue ring */
	unsigned int nr_bufs;		/* sparse fixed buffers registered on it */
	bool fixed_cdev;		/* IO commands on /dev/ublkcN as fixed file 0 */
	/* serves a request nobody waits for; NULL: commit it in full, data untouched */
	void (*serve)(struct kl_ublk_dev *d, unsigned int tag);
};

struct kl_ublk_dev {
	const struct kl_ublk_cfg *cfg;
	struct kl_ublk_ctrl ctrl;
	int dev_id;
	__u64 flags;			/* as ADD_DEV accepted them */
	int cdev_fd;
	const struct ublksrv_io_desc *iods;
	size_t iods_len;
	struct io_uring ring;		/* the queue's: IO commands and the test's own SQEs */
	bool ring_open;
	bool fetching[KL_UBLK_DEPTH];	/* FETCH / COMMIT_AND_FETCH in flight */
	/* ->addr of every FETCH / COMMIT_AND_FETCH of a tag (UBLK_F_AUTO_BUF_REG); 0 by default */
	__u64 fetch_addr[KL_UBLK_DEPTH];
	/* handed to the server and not taken yet: a tag, or -ENODEV for an aborted FETCH */
	int pending[2 * KL_UBLK_DEPTH];
	int nr_pending;
	bool auto_serve;		/* serve pending requests while a command runs */
	/* completions of kl_ublk_op_ud() SQEs nobody claimed yet */
	__u64 done_ud[KL_UBLK_MAX_DONE];
	int done_res[KL_UBLK_MAX_DONE];
	int nr_done;
	__u32 op_seq;
};

static inline void kl_ublk_dev_init(struct kl_ublk_dev *d, const struct kl_ublk_cfg *cfg)
{
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->ctrl.fd = -1;
	d->dev_id = -1;
	d->cdev_fd = -1;
}

/* kl_ublk_dev_init() and the control device: 0 or -errno. */
static inline int kl_ublk_open(struct kl_ublk_dev *d, const struct kl_ublk_cfg *cfg)
{
	kl_ublk_dev_init(d, cfg);
	return kl_ublk_ctrl_try_open(&d->ctrl);
}

/* Open a device node, waiting while it is not there (or not free) yet: fd or -errno. */
static inline int kl_open_retry(const char *path, int flags)
{
	long long end = kl_now_ms() + KL_TIMEOUT_MS;
	int fd;

	for (;;) {
		fd = open(path, flags);
		if (fd >= 0 || (errno != ENOENT && errno != ENXIO && errno != EBUSY) ||
		    kl_now_ms() > end)
			return fd < 0 ? -errno : fd;
		usleep(10000);
	}
}

/* ---- the queue ring ---- */

/* A ublk IO command of queue 0 (FETCH, COMMIT_AND_FETCH, REGISTER_IO_BUF...). */
static inline void kl_ublk_prep_io_cmd(struct kl_ublk_dev *d, struct io_uring_sqe *sqe, __u32 op,
				       unsigned int tag, int result, __u64 addr)
{
	struct ublksrv_io_cmd *cmd = (struct ublksrv_io_cmd *)sqe->cmd;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	if (d->cfg->fixed_cdev) {
		sqe->fd = 0;
		sqe->flags = IOSQE_FIXED_FILE;
	} else {
		sqe->fd = d->cdev_fd;
	}
	sqe->cmd_op = op;
	cmd->q_id = 0;
	cmd->tag = tag;
	cmd->result = result;
	cmd->addr = addr;
}

/* FETCH_REQ or COMMIT_AND_FETCH_REQ of @tag, queued (not submitted). */
static inline void kl_ublk_queue_fetch(struct kl_ublk_dev *d, __u32 op, unsigned int tag, int res)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe)
		kl_fail("FETCH/COMMIT of tag %u: no SQE", tag);
	kl_ublk_prep_io_cmd(d, sqe, op, tag, res, d->fetch_addr[tag]);
	sqe->user_data = KL_UBLK_UD_FETCH | tag;
	d->fetching[tag] = true;
}

/* COMMIT_AND_FETCH_REQ of @tag with @res, submitted at once. */
static inline void kl_ublk_commit(struct kl_ublk_dev *d, unsigned int tag, int res)
{
	int ret;

	kl_ublk_queue_fetch(d, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag, res);
	ret = io_uring_submit(&d->ring);
	if (ret < 0)
		kl_fail("COMMIT_AND_FETCH_REQ of tag %u: %s", tag, strerror(-ret));
}

/* user_data for a test's own SQE on the queue ring: kl_ublk_wait_op() gets its result */
static inline __u64 kl_ublk_op_ud(struct kl_ublk_dev *d)
{
	return KL_UBLK_UD_OP | ++d->op_seq;
}

/*
 * Wait at most @ms (0: don't) for one CQE of the queue ring and take it in:
 * a FETCH / COMMIT_AND_FETCH completion becomes a pending request (or abort),
 * a kl_ublk_op_ud() one is kept for kl_ublk_wait_op(): 0. Any other CQE is
 * copied to *out: 1 (with out NULL it fails the test). -ETIME: no CQE.
 */
static inline int kl_ublk_reap(struct kl_ublk_dev *d, int ms, struct kl_cqe *out)
{
	struct kl_cqe cqe;
	unsigned int tag;
	int ret = kl_wait_timeout(&d->ring, ms, &cqe);

	if (ret)
		return ret < 0 ? ret : -EIO;
	switch (KL_UBLK_UD_KIND(cqe.user_data)) {
	case KL_UBLK_UD_FETCH:
		tag = KL_UBLK_UD_TAG(cqe.user_data);
		d->fetching[tag] = false;
		if (cqe.res != UBLK_IO_RES_OK && cqe.res != UBLK_IO_RES_ABORT)
			kl_fail("FETCH/COMMIT of tag %u: %d", tag, cqe.res);
		if (d->nr_pending == 2 * KL_UBLK_DEPTH)
			kl_fail("more pending requests than tags");
		d->pending[d->nr_pending++] = cqe.res == UBLK_IO_RES_OK ? (int)tag : -ENODEV;
		return 0;
	case KL_UBLK_UD_OP:
		if (d->nr_done == KL_UBLK_MAX_DONE)
			kl_fail("too many unclaimed completions");
		d->done_ud[d->nr_done] = cqe.user_data;
		d->done_res[d->nr_done++] = cqe.res;
		return 0;
	}
	if (!out)
		kl_fail("unexpected CQE %llx res %d", (unsigned long long)cqe.user_data, cqe.res);
	*out = cqe;
	return 1;
}

/* Take in every CQE that is there already. */
static inline void kl_ublk_poll(struct kl_ublk_dev *d)
{
	while (!kl_ublk_reap(d, 0, NULL))
		;
}

/* The result of the kept completion of @ud, if there is one. */
static inline bool kl_ublk_claim(struct kl_ublk_dev *d, __u64 ud, int *res)
{
	int i;

	for (i = 0; i < d->nr_done; i++) {
		if (d->done_ud[i] == ud) {
			*res = d->done_res[i];
			d->done_ud[i] = d->done_ud[--d->nr_done];
			d->done_res[i] = d->done_res[d->nr_done];
			return true;
		}
	}
	return false;
}

/* Has the SQE tagged @ud completed (without waiting)? */
static inline bool kl_ublk_op_done(struct kl_ublk_dev *d, __u64 ud, int *res)
{
	kl_ublk_poll(d);
	return kl_ublk_claim(d, ud, res);
}

/* Result of the SQE tagged @ud; fails the test after @ms. */
static inline int kl_ublk_wait_op(struct kl_ublk_dev *d, __u64 ud, int ms)
{
	long long end = kl_now_ms() + ms;
	int res;

	while (!kl_ublk_claim(d, ud, &res)) {
		long long left = end - kl_now_ms();

		if (left <= 0)
			kl_fail("timed out waiting for an io_uring completion");
		kl_ublk_reap(d, left, NULL);
	}
	return res;
}

/*
 * The next request handed to the server, within @ms: its tag, -ETIME, or
 * -ENODEV for a FETCH that came back aborted (the device is stopping).
 */
static inline int kl_ublk_next_req(struct kl_ublk_dev *d, int ms)
{
	long long end = kl_now_ms() + ms;

	for (;;) {
		long long left = end - kl_now_ms();
		int ret;

		if (d->nr_pending) {
			ret = d->pending[0];
			memmove(d->pending, d->pending + 1, --d->nr_pending * sizeof(int));
			return ret;
		}
		if (left <= 0)
			return -ETIME;
		ret = kl_ublk_reap(d, left, NULL);
		if (ret < 0 && ret != -ETIME)
			return ret;
	}
}

/* The next request, whatever it is: its tag; none within @ms fails the test. */
static inline unsigned int kl_ublk_wait_req(struct kl_ublk_dev *d, int ms)
{
	int tag = kl_ublk_next_req(d, ms);

	if (tag < 0)
		kl_fail("no ublk request within %d ms: %s", ms, strerror(-tag));
	return tag;
}

/* Serve @tag the suite's way, or as a null target. */
static inline void kl_ublk_serve(struct kl_ublk_dev *d, unsigned int tag)
{
	if (d->cfg->serve)
		d->cfg->serve(d, tag);
	else
		kl_ublk_commit(d, tag, d->iods[tag].nr_sectors << 9);
}

/*
 * Serve what comes for @ms; with @until_stopped, only until no FETCH is
 * outstanding any more (the device stopped and aborted them).
 */
static inline void kl_ublk_serve_while(struct kl_ublk_dev *d, int ms, bool until_stopped)
{
	long long end = kl_now_ms() + ms;

	while (kl_now_ms() < end) {
		bool busy = false;
		int i, tag;

		for (i = 0; i < KL_UBLK_DEPTH; i++)
			busy |= d->fetching[i];
		if (until_stopped && !busy && !d->nr_pending)
			return;
		tag = kl_ublk_next_req(d, end - kl_now_ms());
		if (tag >= 0)
			kl_ublk_serve(d, tag);
	}
}

static inline void kl_ublk_serve_until_stopped(struct kl_ublk_dev *d, int ms)
{
	kl_ublk_serve_while(d, ms, true);
}

/* The next request of the client's IO (@ublk_op at byte @off); others are served. */
static inline unsigned int kl_ublk_wait_client_req(struct kl_ublk_dev *d, int ublk_op, off_t off)
{
	long long end = kl_now_ms() + KL_TIMEOUT_MS;

	for (;;) {
		const struct ublksrv_io_desc *iod;
		int tag = kl_ublk_next_req(d, end - kl_now_ms());

		if (tag < 0)
			kl_fail("no request for the client IO: %s", strerror(-tag));
		iod = &d->iods[tag];
		if (ublksrv_get_op(iod) == ublk_op && iod->start_sector == (__u64)off >> 9)
			return tag;
		kl_ublk_serve(d, tag);
	}
}

/* ---- control ---- */

/*
 * A control command on this device: its result. Meanwhile the queue ring's
 * CQEs are taken in (with auto_serve, its requests served); no completion
 * within @ms fails the test.
 */
static inline int kl_ublk_ctrl(struct kl_ublk_dev *d, __u32 op, void *buf, __u16 len,
			       __u64 data, int ms)
{
	long long end = kl_now_ms() + ms;
	struct kl_cqe cqe;
	int ret;

	ret = kl_ublk_ctrl_submit(&d->ctrl, op, d->dev_id, buf, len, data);
	if (ret)
		return ret;
	while (kl_wait_timeout(&d->ctrl.ring, d->ring_open ? 0 : 100, &cqe)) {
		if (kl_now_ms() > end)
			kl_fail("control command %#x: no completion in %d ms", op, ms);
		if (!d->ring_open)
			continue;
		while (d->auto_serve && d->nr_pending) {
			int tag = kl_ublk_next_req(d, 0);

			if (tag >= 0)
				kl_ublk_serve(d, tag);
		}
		kl_ublk_reap(d, 5, NULL);
	}
	return cqe.res;
}

/* UBLK_S_DEV_* of this device, or -errno. */
static inline int kl_ublk_get_state(struct kl_ublk_dev *d)
{
	struct ublksrv_ctrl_dev_info info;
	int ret;

	memset(&info, 0, sizeof(info));
	ret = kl_ublk_ctrl(d, UBLK_U_CMD_GET_DEV_INFO, &info, sizeof(info), 0, KL_TIMEOUT_MS);
	return ret < 0 ? ret : info.state;
}

/*
 * SKIP when the kernel lacks what the test needs: no ublk driver (no
 * /dev/ublk-control), or a driver that does not offer cfg->need. A driver
 * that is there but cannot be opened or asked for its features is broken:
 * FAIL (every 6.12 ublk driver has UBLK_U_CMD_GET_FEATURES).
 */
static inline void kl_ublk_require(struct kl_ublk_dev *d, const struct kl_ublk_cfg *cfg)
{
	__u64 features = 0;
	int ret;

	ret = kl_ublk_open(d, cfg);
	if (ret == -ENOENT)
		kl_skip("no /dev/ublk-control (kernel without CONFIG_BLK_DEV_UBLK)");
	if (ret)
		kl_fail("/dev/ublk-control is there but unusable: %s", strerror(-ret));
	ret = kl_ublk_ctrl(d, UBLK_U_CMD_GET_FEATURES, &features, sizeof(features), 0,
			   KL_TIMEOUT_MS);
	if (ret)
		kl_fail("UBLK_U_CMD_GET_FEATURES: %s", strerror(-ret));
	if ((features & cfg->need) != cfg->need)
		kl_skip("kernel lacks %s", cfg->need_name);
}

/* Open /dev/ublkcN, map its IO descriptors and set up the queue ring (no FETCH yet). */
static inline int kl_ublk_queue_init(struct kl_ublk_dev *d)
{
	long page = sysconf(_SC_PAGESIZE);
	char path[64];
	void *p;
	int ret;

	snprintf(path, sizeof(path), "/dev/ublkc%d", d->dev_id);
	d->cdev_fd = kl_open_retry(path, O_RDWR | O_CLOEXEC);
	if (d->cdev_fd < 0)
		return d->cdev_fd;
	d->iods_len = (KL_UBLK_DEPTH * sizeof(struct ublksrv_io_desc) + page - 1) & ~(page - 1);
	p = mmap(NULL, d->iods_len, PROT_READ, MAP_SHARED | MAP_POPULATE, d->cdev_fd,
		 UBLKSRV_CMD_BUF_OFFSET);
	if (p == MAP_FAILED)
		return -errno;
	d->iods = p;
	ret = io_uring_queue_init(64, &d->ring, d->cfg->ring_flags);
	if (ret)
		return ret;
	d->ring_open = true;
	if (d->cfg->fixed_cdev) {
		ret = io_uring_register_files(&d->ring, &d->cdev_fd, 1);
		if (ret)
			return ret;
	}
	if (d->cfg->nr_bufs) {
		ret = io_uring_register_buffers_sparse(&d->ring, d->cfg->nr_bufs);
		if (ret)
			return ret;
	}
	return 0;
}

/* kl_ublk_queue_init() (unless done already) and FETCH every tag. */
static inline int kl_ublk_queue_open(struct kl_ublk_dev *d)
{
	int ret, i;

	if (!d->ring_open) {
		ret = kl_ublk_queue_init(d);
		if (ret)
			return ret;
	}
	for (i = 0; i < KL_UBLK_DEPTH; i++)
		kl_ublk_queue_fetch(d, UBLK_U_IO_FETCH_REQ, i, 0);
	ret = io_uring_submit(&d->ring);
	return ret < 0 ? ret : 0;
}

/* Close the server side: queue ring, IO descriptors, char device. */
static inline void kl_ublk_queue_close(struct kl_ublk_dev *d)
{
	if (d->ring_open) {
		io_uring_queue_exit(&d->ring);
		d->ring_open = false;
	}
	if (d->iods) {
		munmap((void *)d->iods, d->iods_len);
		d->iods = NULL;
	}
	if (d->cdev_fd >= 0) {
		close(d->cdev_fd);
		d->cdev_fd = -1;
	}
}

/*
 * Add a device with @flags (and cfg->need, which ADD_DEV must keep) and set
 * its parameters. SKIP if adding a device is not allowed here, FAIL on
 * anything else.
 */
static inline void kl_ublk_dev_add(struct kl_ublk_dev *d, __u64 flags)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	int ret;

	memset(&info, 0, sizeof(info));
	info.nr_hw_queues = 1;
	info.queue_depth = KL_UBLK_DEPTH;
	info.max_io_buf_bytes = d->cfg->max_io;
	info.dev_id = (__u32)-1;
	info.ublksrv_pid = getpid();
	info.flags = flags | d->cfg->need | UBLK_F_CMD_IOCTL_ENCODE;
	ret = kl_ublk_ctrl(d, UBLK_U_CMD_ADD_DEV, &info, sizeof(info), 0, KL_TIMEOUT_MS);
	if (ret == -EPERM || ret == -EACCES)
		kl_skip("adding a ublk device: %s", strerror(-ret));
	if (ret)
		kl_fail("ADD_DEV: %s", strerror(-ret));
	d->dev_id = info.dev_id;
	d->flags = info.flags;
	if ((d->flags & d->cfg->need) != d->cfg->need)
		kl_fail("ADD_DEV dropped %s (flags %#llx)", d->cfg->need_name,
			(unsigned long long)d->flags);

	memset(&p, 0, sizeof(p));
	p.len = sizeof(p);
	p.types = UBLK_PARAM_TYPE_BASIC;
	p.basic.logical_bs_shift = 9;
	p.basic.physical_bs_shift = 12;
	p.basic.io_opt_shift = 12;
	p.basic.io_min_shift = 9;
	p.basic.max_sectors = d->cfg->max_io >> 9;
	p.basic.dev_sectors = KL_UBLK_DEV_BYTES >> 9;
	ret = kl_ublk_ctrl(d, UBLK_U_CMD_SET_PARAMS, &p, sizeof(p), 0, KL_TIMEOUT_MS);
	if (ret)
		kl_fail("SET_PARAMS: %s", strerror(-ret));
}

/*
 * Open the queue of an added device (unless kl_ublk_queue_init() did),
 * FETCH every tag and start it, serving what START_DEV reads meanwhile and
 * shortly after (the partition scan).
 */
static inline void kl_ublk_dev_start(struct kl_ublk_dev *d)
{
	int ret;

	ret = kl_ublk_queue_open(d);
	if (ret)
		kl_fail("queue setup: %s", strerror(-ret));
	d->auto_serve = true;
	ret = kl_ublk_ctrl(d, UBLK_U_CMD_START_DEV, NULL, 0, getpid(), 3 * KL_TIMEOUT_MS);
	if (ret)
		kl_fail("START_DEV: %s", strerror(-ret));
	kl_ublk_serve_while(d, 100, false);
	d->auto_serve = false;
}

/* kl_ublk_dev_add() and kl_ublk_dev_start(): a running device. */
static inline void kl_ublk_dev_setup(struct kl_ublk_dev *d, __u64 flags)
{
	kl_ublk_dev_add(d, flags);
	kl_ublk_dev_start(d);
}

/* Stop (serving meanwhile), close the queue and delete; FAIL if the kernel doesn't let go. */
static inline void kl_ublk_dev_del(struct kl_ublk_dev *d)
{
	int ret;

	if (d->dev_id < 0)
		return;
	d->auto_serve = true;
	ret = kl_ublk_ctrl(d, UBLK_U_CMD_STOP_DEV, NULL, 0, 0, 3 * KL_TIMEOUT_MS);
	if (ret && ret != -ENODEV)
		kl_info("STOP_DEV: %s", strerror(-ret));
	d->auto_serve = false;
	kl_ublk_queue_close(d);
	ret = kl_ublk_ctrl(d, UBLK_U_CMD_DEL_DEV, NULL, 0, 0, 3 * KL_TIMEOUT_MS);
	if (ret && ret != -ENODEV)
		kl_fail("DEL_DEV: %s", strerror(-ret));
	d->dev_id = -1;
}

/* ---- clients: IO on /dev/ublkbN ---- */

static inline int kl_ublk_bdev_open(int dev_id, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/ublkb%d", dev_id);
	return kl_open_retry(path, flags);
}

/* One O_DIRECT pread (pwrite with @write) of @len bytes at @off: bytes or -errno. */
static inline ssize_t kl_ublk_bdev_io(int dev_id, bool write, void *buf, size_t len, off_t off)
{
	int fd = kl_ublk_bdev_open(dev_id, (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	n = n < 0 ? -errno : n;
	close(fd);
	return n;
}

/* A client thread: one kl_ublk_bdev_io() into/from its own (aligned, zeroed) buf. */
struct kl_ublk_client {
	pthread_t thr;
	int dev_id;
	bool write;
	void *buf;
	size_t len;
	off_t off;
	volatile ssize_t res;	/* bytes or -errno */
	volatile bool done;
};

static inline void *kl_ublk_client_fn(void *arg)
{
	struct kl_ublk_client *c = arg;

	c->res = kl_ublk_bdev_io(c->dev_id, c->write, c->buf, c->len, c->off);
	__atomic_store_n(&c->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static inline void kl_ublk_client_start(struct kl_ublk_client *c, int dev_id, bool write,
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
	if (pthread_create(&c->thr, NULL, kl_ublk_client_fn, c))
		kl_fail("pthread_create failed");
}

static inline ssize_t kl_ublk_client_wait(struct kl_ublk_client *c)
{
	pthread_join(c->thr, NULL);
	return c->res;
}

/*
 * In a forked client: drop the server's mappings (rings, IO descriptors) and
 * every inherited descriptor but stdio. Mappings pin the ring and the char
 * device as much as descriptors do; a client must not keep them alive.
 */
static inline void kl_ublk_close_inherited(struct kl_ublk_dev *d)
{
	int fd;

	if (d && d->ring_open)
		io_uring_queue_exit(&d->ring);
	if (d && d->iods)
		munmap((void *)d->iods, d->iods_len);
	if (d && d->ctrl.fd >= 0)
		io_uring_queue_exit(&d->ctrl.ring);
	for (fd = 3; fd < 1024; fd++)
		close(fd);
}

/*
 * Fork a client doing one kl_ublk_bdev_io() of @len bytes at @off on @d's
 * block device. WRITE data is @fill; READ data is compared with @fill when
 * @check. Exit status: 0 ok, 1 error, 2 data mismatch.
 */
static inline pid_t kl_ublk_child(struct kl_ublk_dev *d, bool write, __u64 off, unsigned int len,
				  unsigned char fill, bool check)
{
	pid_t pid = fork();

	if (pid < 0)
		kl_fail("fork: %s", strerror(errno));
	if (!pid) {
		unsigned char *buf;
		unsigned int i;

		kl_ublk_close_inherited(d);
		if (posix_memalign((void **)&buf, 4096, len))
			_exit(1);
		memset(buf, write ? fill : (unsigned char)~fill, len);
		if (kl_ublk_bdev_io(d->dev_id, write, buf, len, off) != (ssize_t)len)
			_exit(1);
		for (i = 0; !write && check && i < len; i++)
			if (buf[i] != fill)
				_exit(2);
		_exit(0);
	}
	return pid;
}

/*
 * Exit status of a forked client, taking in the queue ring's CQEs (if @d)
 * while waiting; after @ms it is killed: -ETIMEDOUT.
 */
static inline int kl_ublk_child_wait(struct kl_ublk_dev *d, pid_t pid, int ms)
{
	long long end = kl_now_ms() + ms;
	int status;

	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		if (kl_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		if (d && d->ring_open)
			kl_ublk_reap(d, 2, NULL);
		else
			usleep(2000);
	}
}

#endif
