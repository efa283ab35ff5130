/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal single-threaded ublk server for the ublk-zc regression tests.
 *
 * One device, one queue. The test program is the server: it sees each
 * request (zc_wait_req), registers/unregisters its buffer, does fixed
 * buffer IO on its own ring and commits. Client IO runs in a forked child
 * (zc_client_*) so the server can block waiting for requests. While the
 * server waits for something else (START_DEV, STOP_DEV, a given CQE),
 * requests that arrive are served as a null target (commit full length).
 */
#ifndef ZC_LIB_H
#define ZC_LIB_H

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <linux/ublk_cmd.h>
#include <liburing.h>

#include "kl_test.h"
#include "kl_uapi.h"

#define ZC_DEPTH	4
#define ZC_NR_BUFS	8
#define ZC_DEV_BYTES	(64ULL << 20)
#define ZC_MAX_IO	(512U << 10)

/* user_data of the queue ring's CQEs */
#define ZC_UD_FETCH	(1ULL << 32)	/* | tag */
#define ZC_UD_OP	(2ULL << 32)	/* | sequence */

struct zc_dev {
	int ctrl_fd;
	struct io_uring ctrl;
	int dev_id;
	__u64 flags;
	int cdev_fd;
	struct io_uring q;
	bool q_open;
	const struct ublksrv_io_desc *iods;
	size_t iods_len;
	/* tags the driver handed us and nobody consumed yet */
	bool ready[ZC_DEPTH];
	bool owned[ZC_DEPTH];
	/* completions of ZC_UD_OP requests that arrived early */
	__u64 done_ud[64];
	int done_res[64];
	int nr_done;
	__u32 op_seq;
	bool auto_serve;
	char bdev[32];
	struct io_uring_sqe *last_sqe;	/* of zc_prep_fixed() */
};

static inline double zc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- control commands ---- */

static inline int zc_ctrl_submit(struct zc_dev *d, __u32 op, __u32 dev_id,
				 void *addr, __u16 len, __u64 data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ctrl);
	struct ublksrv_ctrl_cmd *cmd;

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = d->ctrl_fd;
	sqe->cmd_op = op;
	cmd = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	cmd->dev_id = dev_id;
	cmd->queue_id = (__u16)-1;
	cmd->addr = (__u64)(uintptr_t)addr;
	cmd->len = len;
	cmd->data[0] = data;
	sqe->user_data = op;
	return io_uring_submit(&d->ctrl) == 1 ? 0 : -EIO;
}

static void zc_poll_queue(struct zc_dev *d);

/* Run a control command, serving requests meanwhile. */
static inline int zc_ctrl_cmd(struct zc_dev *d, __u32 op, void *addr,
			      __u16 len, __u64 data, double timeout)
{
	struct io_uring_cqe *cqe;
	double end = zc_now() + timeout;
	int ret;

	ret = zc_ctrl_submit(d, op, d->dev_id, addr, len, data);
	if (ret)
		return ret;
	for (;;) {
		if (!io_uring_peek_cqe(&d->ctrl, &cqe)) {
			ret = cqe->res;
			io_uring_cqe_seen(&d->ctrl, cqe);
			return ret;
		}
		if (d->q_open)
			zc_poll_queue(d);
		if (zc_now() > end)
			kl_fail("control command %#x: no completion in %.0fs",
				op, timeout);
		usleep(1000);
	}
}

static inline int zc_ctrl_open(struct zc_dev *d)
{
	memset(d, 0, sizeof(*d));
	d->dev_id = -1;
	d->cdev_fd = -1;
	d->ctrl_fd = open("/dev/ublk-control", O_RDWR);
	if (d->ctrl_fd < 0)
		return -errno;
	return io_uring_queue_init(4, &d->ctrl, IORING_SETUP_SQE128);
}

/* SKIP unless /dev/ublk-control exists and the kernel advertises ZC. */
static inline void zc_require_zero_copy(struct zc_dev *d)
{
	__u64 features = 0;
	int ret;

	ret = zc_ctrl_open(d);
	if (ret)
		kl_skip("no usable /dev/ublk-control: %s", strerror(-ret));
	ret = zc_ctrl_cmd(d, UBLK_U_CMD_GET_FEATURES, &features,
			  sizeof(features), 0, 10);
	if (ret)
		kl_skip("UBLK_U_CMD_GET_FEATURES: %s", strerror(-ret));
	if (!(features & UBLK_F_SUPPORT_ZERO_COPY))
		kl_skip("kernel lacks UBLK_F_SUPPORT_ZERO_COPY (ublk-zc patch set)");
}

/* ---- queue ring ---- */

static inline void zc_prep_io_cmd(struct zc_dev *d, struct io_uring_sqe *sqe,
				  __u32 op, unsigned int tag, int result,
				  __u64 addr)
{
	struct ublksrv_io_cmd *cmd = (struct ublksrv_io_cmd *)sqe->cmd;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = 0;
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->cmd_op = op;
	cmd->q_id = 0;
	cmd->tag = tag;
	cmd->result = result;
	cmd->addr = addr;
}

static inline struct io_uring_sqe *zc_sqe(struct zc_dev *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->q);

	if (!sqe)
		kl_fail("queue ring SQ full");
	return sqe;
}

/* FETCH_REQ or COMMIT_AND_FETCH_REQ for @tag, submitted at once */
static inline void zc_fetch(struct zc_dev *d, unsigned int tag, __u32 op,
			    int res)
{
	struct io_uring_sqe *sqe = zc_sqe(d);

	zc_prep_io_cmd(d, sqe, op, tag, res, 0);
	sqe->user_data = ZC_UD_FETCH | tag;
	d->owned[tag] = false;
	io_uring_submit(&d->q);
}

static inline void zc_commit(struct zc_dev *d, unsigned int tag, int res)
{
	zc_fetch(d, tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ, res);
}

/* user_data for a test's own SQE; its CQE is collected by zc_wait_op() */
static inline __u64 zc_op_ud(struct zc_dev *d)
{
	return ZC_UD_OP | ++d->op_seq;
}

static inline void zc_handle_cqe(struct zc_dev *d, struct io_uring_cqe *cqe)
{
	__u64 ud = cqe->user_data;

	if ((ud >> 32) == (ZC_UD_FETCH >> 32)) {
		unsigned int tag = ud & 0xffff;

		if (cqe->res != UBLK_IO_RES_OK) {
			if (cqe->res != UBLK_IO_RES_ABORT)
				kl_info("tag %u: fetch completed with %d", tag,
					cqe->res);
			return;
		}
		d->owned[tag] = true;
		if (d->auto_serve) {
			const struct ublksrv_io_desc *iod = &d->iods[tag];

			zc_commit(d, tag, iod->nr_sectors << 9);
			return;
		}
		d->ready[tag] = true;
		return;
	}
	if (d->nr_done >= 64)
		kl_fail("too many unclaimed completions");
	d->done_ud[d->nr_done] = ud;
	d->done_res[d->nr_done] = cqe->res;
	d->nr_done++;
}

static void zc_poll_queue(struct zc_dev *d)
{
	struct io_uring_cqe *cqe;

	while (!io_uring_peek_cqe(&d->q, &cqe)) {
		zc_handle_cqe(d, cqe);
		io_uring_cqe_seen(&d->q, cqe);
	}
}

static inline void zc_wait_cqe(struct zc_dev *d, double end, const char *what)
{
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 20000000 };
	struct io_uring_cqe *cqe;

	if (zc_now() > end)
		kl_fail("timed out waiting for %s", what);
	if (!io_uring_wait_cqe_timeout(&d->q, &cqe, &ts)) {
		zc_handle_cqe(d, cqe);
		io_uring_cqe_seen(&d->q, cqe);
	}
}

/* Result of the SQE tagged @ud; fails the test after @timeout seconds. */
static inline int zc_wait_op(struct zc_dev *d, __u64 ud, double timeout)
{
	double end = zc_now() + timeout;
	int i;

	for (;;) {
		for (i = 0; i < d->nr_done; i++) {
			if (d->done_ud[i] == ud) {
				int res = d->done_res[i];

				d->done_ud[i] = d->done_ud[--d->nr_done];
				d->done_res[i] = d->done_res[d->nr_done];
				return res;
			}
		}
		zc_wait_cqe(d, end, "an io_uring completion");
	}
}

/* Has the SQE tagged @ud completed (without waiting)? */
static inline bool zc_op_done(struct zc_dev *d, __u64 ud, int *res)
{
	int i;

	zc_poll_queue(d);
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

/* Next request the driver hands us: its tag. */
static inline unsigned int zc_wait_req(struct zc_dev *d, double timeout)
{
	double end = zc_now() + timeout;
	unsigned int t;

	for (;;) {
		for (t = 0; t < ZC_DEPTH; t++) {
			if (d->ready[t]) {
				d->ready[t] = false;
				return t;
			}
		}
		zc_wait_cqe(d, end, "a ublk request");
	}
}

/* A single ublk uring_cmd (REGISTER/UNREGISTER_IO_BUF...), waited for. */
static inline int zc_io_cmd(struct zc_dev *d, __u32 op, unsigned int tag,
			    __u64 addr)
{
	struct io_uring_sqe *sqe = zc_sqe(d);
	__u64 ud = zc_op_ud(d);

	zc_prep_io_cmd(d, sqe, op, tag, 0, addr);
	sqe->user_data = ud;
	io_uring_submit(&d->q);
	return zc_wait_op(d, ud, 10);
}

static inline int zc_register(struct zc_dev *d, unsigned int tag,
			      unsigned int index)
{
	return zc_io_cmd(d, UBLK_U_IO_REGISTER_IO_BUF, tag, index);
}

static inline int zc_unregister(struct zc_dev *d, unsigned int tag,
				unsigned int index)
{
	return zc_io_cmd(d, UBLK_U_IO_UNREGISTER_IO_BUF, tag, index);
}

/* READ_FIXED/WRITE_FIXED on @fd (a plain fd) from/to buffer @index */
static inline __u64 zc_prep_fixed(struct zc_dev *d, int op, int fd,
				  __u64 buf_off, unsigned int len,
				  __u64 file_off, unsigned int index)
{
	struct io_uring_sqe *sqe = zc_sqe(d);
	__u64 ud = zc_op_ud(d);

	io_uring_prep_rw(op, sqe, fd, (void *)(uintptr_t)buf_off, len,
			 file_off);
	sqe->buf_index = index;
	sqe->user_data = ud;
	d->last_sqe = sqe;
	return ud;
}

static inline int zc_fixed_rw(struct zc_dev *d, int op, int fd, __u64 buf_off,
			      unsigned int len, __u64 file_off,
			      unsigned int index)
{
	__u64 ud = zc_prep_fixed(d, op, fd, buf_off, len, file_off, index);

	io_uring_submit(&d->q);
	return zc_wait_op(d, ud, 10);
}

static inline int zc_queue_open(struct zc_dev *d)
{
	char path[64];
	double end = zc_now() + 5;
	long page = sysconf(_SC_PAGESIZE);
	int ret, i;
	void *p;

	snprintf(path, sizeof(path), "/dev/ublkc%d", d->dev_id);
	while ((d->cdev_fd = open(path, O_RDWR)) < 0) {
		if (zc_now() > end)
			return -errno;
		usleep(10000);
	}
	d->iods_len = (ZC_DEPTH * sizeof(struct ublksrv_io_desc) + page - 1) &
		      ~(page - 1);
	p = mmap(NULL, d->iods_len, PROT_READ, MAP_SHARED | MAP_POPULATE,
		 d->cdev_fd, UBLKSRV_CMD_BUF_OFFSET);
	if (p == MAP_FAILED)
		return -errno;
	d->iods = p;
	ret = io_uring_queue_init(64, &d->q, 0);
	if (ret)
		return ret;
	d->q_open = true;
	ret = io_uring_register_files(&d->q, &d->cdev_fd, 1);
	if (ret)
		return ret;
	ret = io_uring_register_buffers_sparse(&d->q, ZC_NR_BUFS);
	if (ret)
		return ret;
	for (i = 0; i < ZC_DEPTH; i++)
		zc_fetch(d, i, UBLK_U_IO_FETCH_REQ, 0);
	return 0;
}

/*
 * Add and start a device with @flags (UBLK_F_SUPPORT_ZERO_COPY added).
 * Requests the kernel sends while starting (partition scan) are served.
 */
static inline void zc_dev_start(struct zc_dev *d, __u64 flags)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	int ret;

	memset(&info, 0, sizeof(info));
	info.nr_hw_queues = 1;
	info.queue_depth = ZC_DEPTH;
	info.max_io_buf_bytes = ZC_MAX_IO;
	info.dev_id = -1;
	info.flags = flags | UBLK_F_SUPPORT_ZERO_COPY;
	ret = zc_ctrl_submit(d, UBLK_U_CMD_ADD_DEV, -1, &info, sizeof(info), 0);
	if (!ret) {
		struct io_uring_cqe *cqe;

		ret = io_uring_wait_cqe(&d->ctrl, &cqe);
		if (!ret) {
			ret = cqe->res;
			io_uring_cqe_seen(&d->ctrl, cqe);
		}
	}
	if (ret)
		kl_fail("ADD_DEV: %s", strerror(-ret));
	d->dev_id = info.dev_id;
	d->flags = info.flags;
	if (!(d->flags & UBLK_F_SUPPORT_ZERO_COPY))
		kl_fail("ADD_DEV dropped UBLK_F_SUPPORT_ZERO_COPY (flags %#llx)",
			(unsigned long long)d->flags);

	memset(&p, 0, sizeof(p));
	p.len = sizeof(p);
	p.types = UBLK_PARAM_TYPE_BASIC;
	p.basic.logical_bs_shift = 9;
	p.basic.physical_bs_shift = 12;
	p.basic.io_opt_shift = 12;
	p.basic.io_min_shift = 9;
	p.basic.max_sectors = ZC_MAX_IO >> 9;
	p.basic.dev_sectors = ZC_DEV_BYTES >> 9;
	ret = zc_ctrl_cmd(d, UBLK_U_CMD_SET_PARAMS, &p, sizeof(p), 0, 10);
	if (ret)
		kl_fail("SET_PARAMS: %s", strerror(-ret));

	ret = zc_queue_open(d);
	if (ret)
		kl_fail("queue setup: %s", strerror(-ret));

	d->auto_serve = true;
	ret = zc_ctrl_cmd(d, UBLK_U_CMD_START_DEV, NULL, 0, getpid(), 30);
	if (ret)
		kl_fail("START_DEV: %s", strerror(-ret));
	/* let the partition scan drain */
	usleep(100000);
	zc_poll_queue(d);
	d->auto_serve = false;
	snprintf(d->bdev, sizeof(d->bdev), "/dev/ublkb%d", d->dev_id);
}

/* Close the server side: ring and char device. */
static inline void zc_queue_close(struct zc_dev *d)
{
	if (d->q_open) {
		io_uring_queue_exit(&d->q);
		d->q_open = false;
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

/* Stop and delete; fails the test if the kernel doesn't let go. */
static inline void zc_dev_del(struct zc_dev *d)
{
	int ret;

	if (d->dev_id < 0)
		return;
	d->auto_serve = true;
	ret = zc_ctrl_cmd(d, UBLK_U_CMD_STOP_DEV, NULL, 0, 0, 30);
	if (ret && ret != -ENODEV)
		kl_info("STOP_DEV: %s", strerror(-ret));
	zc_queue_close(d);
	ret = zc_ctrl_cmd(d, UBLK_U_CMD_DEL_DEV, NULL, 0, 0, 30);
	if (ret && ret != -ENODEV)
		kl_fail("DEL_DEV: %s", strerror(-ret));
	d->dev_id = -1;
}

/* ---- client ---- */

/*
 * In a forked client: drop the server's mappings (ring, io descriptors) and
 * every inherited descriptor but stdio. Mappings pin the ring and the char
 * device as much as descriptors do; a client must not keep them alive.
 */
static inline void zc_close_inherited(struct zc_dev *d)
{
	int fd;

	if (d && d->q_open)
		io_uring_queue_exit(&d->q);
	if (d && d->iods)
		munmap((void *)d->iods, d->iods_len);
	if (d)
		io_uring_queue_exit(&d->ctrl);
	for (fd = 3; fd < 1024; fd++)
		close(fd);
}

/*
 * Fork a client doing one O_DIRECT pread/pwrite of @len bytes at @off on
 * the block device. WRITE data is @fill; READ data is compared with @fill
 * when @check. Exit status: 0 ok, 1 error, 2 data mismatch.
 */
static inline pid_t zc_client(struct zc_dev *d, bool write, __u64 off,
			      unsigned int len, unsigned char fill, bool check)
{
	pid_t pid = fork();

	if (pid < 0)
		kl_fail("fork: %s", strerror(errno));
	if (!pid) {
		void *buf;
		ssize_t n;
		int fd;

		/* don't keep the server's ring or char device alive */
		zc_close_inherited(d);
		fd = open(d->bdev, O_RDWR | O_DIRECT);

		if (fd < 0 || posix_memalign(&buf, 4096, len))
			_exit(1);
		memset(buf, write ? fill : (unsigned char)~fill, len);
		n = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
		if (n != (ssize_t)len)
			_exit(1);
		if (!write && check) {
			unsigned int i;

			for (i = 0; i < len; i++)
				if (((unsigned char *)buf)[i] != fill)
					_exit(2);
		}
		_exit(0);
	}
	return pid;
}

/* Exit status of a client, serving requests (null) while waiting. */
static inline int zc_client_wait(struct zc_dev *d, pid_t pid, double timeout)
{
	double end = zc_now() + timeout;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		if (zc_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		if (d && d->q_open)
			zc_poll_queue(d);
		usleep(2000);
	}
}

/* A temporary backing file of @len bytes filled with @fill. */
static inline int zc_tmpfile(unsigned int len, unsigned char fill)
{
	const char *dir = getenv("KL_TMP");
	char path[256];
	void *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/zc-backing-XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		kl_fail("mkstemp %s: %s", path, strerror(errno));
	unlink(path);
	buf = malloc(len);
	memset(buf, fill, len);
	if (pwrite(fd, buf, len, 0) != (ssize_t)len)
		kl_fail("writing backing file: %s", strerror(errno));
	free(buf);
	return fd;
}

/*
 * Serve one request the zero copy way in a single submission:
 * REGISTER (HARDLINK|CQE_SKIP_SUCCESS) -> READ/WRITE_FIXED on @fd ->
 * UNREGISTER, then COMMIT_AND_FETCH with the IO result.
 * Returns the IO result.
 */
static inline int zc_serve_chain(struct zc_dev *d, unsigned int tag, int fd,
				 unsigned int index)
{
	const struct ublksrv_io_desc *iod = &d->iods[tag];
	unsigned int len = iod->nr_sectors << 9;
	int op = ublksrv_get_op(iod) == UBLK_IO_OP_READ ? IORING_OP_READ_FIXED :
							  IORING_OP_WRITE_FIXED;
	struct io_uring_sqe *sqe;
	__u64 ud_reg, ud_rw, ud_unreg;
	int res, rw;

	if (ublksrv_get_op(iod) != UBLK_IO_OP_READ &&
	    ublksrv_get_op(iod) != UBLK_IO_OP_WRITE) {
		zc_commit(d, tag, 0);
		return 0;
	}
	sqe = zc_sqe(d);
	ud_reg = zc_op_ud(d);
	zc_prep_io_cmd(d, sqe, UBLK_U_IO_REGISTER_IO_BUF, tag, 0, index);
	sqe->flags |= IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
	sqe->user_data = ud_reg;
	ud_rw = zc_prep_fixed(d, op, fd, 0, len, iod->start_sector << 9, index);
	d->last_sqe->flags |= IOSQE_IO_HARDLINK;
	sqe = zc_sqe(d);
	ud_unreg = zc_op_ud(d);
	zc_prep_io_cmd(d, sqe, UBLK_U_IO_UNREGISTER_IO_BUF, tag, 0, index);
	sqe->user_data = ud_unreg;
	io_uring_submit(&d->q);

	rw = zc_wait_op(d, ud_rw, 10);
	res = zc_wait_op(d, ud_unreg, 10);
	if (res)
		kl_fail("UNREGISTER_IO_BUF in chain: want 0, got %d", res);
	if (zc_op_done(d, ud_reg, &res))
		kl_fail("REGISTER_IO_BUF in chain failed: %d", res);
	zc_commit(d, tag, rw);
	return rw;
}

#endif
