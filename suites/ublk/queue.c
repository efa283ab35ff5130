// SPDX-License-Identifier: GPL-2.0
/*
 * Per-queue server threads. Each thread owns one io_uring on which it
 * keeps one ublk command per tag in the kernel and runs the target IO.
 *
 * Life of a tag: FETCH_REQ (state FETCHING) -> CQE res 0 hands us a request
 * (SERVING) -> target IO through the mode -> COMMIT_AND_FETCH_REQ with the
 * result (FETCHING again). When the device stops the driver completes the
 * pending commands with UBLK_IO_RES_ABORT (IDLE). The thread leaves once
 * every tag is IDLE, which is what lets DEL_DEV finish: it waits for the
 * last reference to /dev/ublkcN, held by our ring's fixed file table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kl_ublk.h"
#include "ublk_mode.h"

/*
 * Submit what is queued (and wait for @wait_nr CQEs). Every submission of
 * the queue thread goes through here.
 *
 * With --poison-sqes, each SQE the kernel consumed is then overwritten with
 * 0xff bytes. Once io_uring_enter() has consumed an SQE its slot belongs to
 * the application again, and a busy server does reuse it soon; the kernel
 * must have copied whatever it still needs (a linked request that is issued
 * only after its predecessor completes, e.g. UNREGISTER_IO_BUF behind a
 * READ_FIXED punted to io-wq). Poisoning makes a late read of the slot fail
 * every time (q_id 0xffff: -EINVAL) instead of once in a while, when the
 * ring happened to wrap before the linked request ran.
 */
int kl_queue_submit(struct kl_queue *q, unsigned int wait_nr)
{
	struct io_uring_sq *sq = &q->ring.sq;
	size_t sqe_size = sizeof(struct io_uring_sqe);
	unsigned int head, new_head;
	int ret;

	if (!q->dev->cfg.poison_sqes)
		return wait_nr ? io_uring_submit_and_wait(&q->ring, wait_nr) :
				 io_uring_submit(&q->ring);

	if (q->ring.flags & IORING_SETUP_SQE128)
		sqe_size *= 2;
	head = __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE);
	ret = wait_nr ? io_uring_submit_and_wait(&q->ring, wait_nr) :
			io_uring_submit(&q->ring);
	new_head = __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE);
	for (; head != new_head; head++)
		memset((char *)sq->sqes + (size_t)(head & sq->ring_mask) * sqe_size,
		       0xff, sqe_size);
	return ret;
}

struct io_uring_sqe *kl_queue_get_sqe(struct kl_queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	/* SQ full: push what we have to the kernel and take a fresh slot */
	if (!sqe) {
		kl_queue_submit(q, 0);
		sqe = io_uring_get_sqe(&q->ring);
	}
	return sqe;
}

void kl_prep_io_cmd(struct kl_queue *q, struct io_uring_sqe *sqe, __u32 cmd_op,
		    unsigned int tag, int result, __u64 addr)
{
	struct ublksrv_io_cmd *cmd;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = KL_FIX_CDEV;
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->cmd_op = cmd_op;
	/* 16-byte ublksrv_io_cmd fits the 64-byte SQE's inline cmd area */
	cmd = (struct ublksrv_io_cmd *)sqe->cmd;
	cmd->q_id = q->q_id;
	cmd->tag = tag;
	cmd->result = result;
	cmd->addr = addr;
}

void kl_prep_tgt_rw(struct kl_queue *q, struct io_uring_sqe *sqe,
		    const struct ublksrv_io_desc *iod, void *buf, unsigned int len,
		    __u64 off)
{
	int op = ublksrv_get_op(iod) == UBLK_IO_OP_READ ? IORING_OP_READ :
							  IORING_OP_WRITE;

	io_uring_prep_rw(op, sqe, KL_FIX_TGT, buf, len, off);
	sqe->flags |= IOSQE_FIXED_FILE;
}

/* Read or write what is left of the request between io->buf and the file. */
int kl_tgt_submit_rw(struct kl_queue *q, unsigned int tag,
		     const struct ublksrv_io_desc *iod)
{
	struct kl_io *io = &q->ios[tag];
	struct io_uring_sqe *sqe = kl_queue_get_sqe(q);

	if (!sqe)
		return -ENOMEM;
	kl_prep_tgt_rw(q, sqe, iod, (char *)io->buf + io->done,
		       kl_iod_bytes(iod) - io->done,
		       (iod->start_sector << 9) + io->done);
	io_uring_sqe_set_data64(sqe, kl_ud(tag, KL_UD_MODE, KL_SUB_TGT_RW));
	io->inflight++;
	return -EINPROGRESS;
}

/*
 * Account one backing-file CQE. Short transfers are continued rather than
 * reported: the block layer would turn a short count into an error. A read
 * at EOF (file shorter than the device) is zero-filled.
 */
int kl_tgt_rw_done(struct kl_queue *q, unsigned int tag,
		   const struct ublksrv_io_desc *iod, int res)
{
	struct kl_io *io = &q->ios[tag];
	unsigned int len = kl_iod_bytes(iod);
	__u64 t0;

	io->inflight--;
	if (res < 0)
		return res;
	if (res == 0) {
		if (ublksrv_get_op(iod) != UBLK_IO_OP_READ)
			return -EIO;
		t0 = kl_now_ns();
		memset((char *)io->buf + io->done, 0, len - io->done);
		kl_stat_add(q, KL_ST_FILL_NS, kl_now_ns() - t0);
		kl_stat_add(q, KL_ST_FILL_BYTES, len - io->done);
		return len;
	}
	io->done += res;
	if (io->done < len)
		return kl_tgt_submit_rw(q, tag, iod);
	return len;
}

__u64 kl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

__u64 kl_user_copy_pos(int q_id, unsigned int tag, unsigned int off)
{
	return UBLKSRV_IO_BUF_OFFSET + ((__u64)q_id << UBLK_QID_OFF) +
	       ((__u64)tag << UBLK_TAG_OFF) + off;
}

static __u64 kl_io_addr(struct kl_queue *q, unsigned int tag)
{
	const struct kl_mode_ops *m = q->dev->cfg.mode;

	if (m->io_buf_addr)
		return m->io_buf_addr(q, tag);
	return 0;
}

static int kl_queue_cmd(struct kl_queue *q, unsigned int tag, __u32 op, int res)
{
	struct io_uring_sqe *sqe = kl_queue_get_sqe(q);

	if (!sqe)
		return -ENOMEM;
	kl_prep_io_cmd(q, sqe, op, tag, res, kl_io_addr(q, tag));
	io_uring_sqe_set_data64(sqe, kl_ud(tag, KL_UD_CMD, 0));
	q->ios[tag].state = KL_IO_FETCHING;
	return 0;
}

/*
 * Account a finished request. The driver copies a request's data to or
 * from our buffer exactly when the address we gave it is that buffer.
 */
static void kl_count_commit(struct kl_queue *q, unsigned int tag, int res)
{
	__u8 op = ublksrv_get_op(&q->iods[tag]);
	void *buf = q->ios[tag].buf;

	if (op != UBLK_IO_OP_READ && op != UBLK_IO_OP_WRITE)
		return;
	if (res < 0) {
		kl_stat_add(q, KL_ST_ERRS, 1);
		return;
	}
	kl_stat_add(q, KL_ST_REQS, 1);
	kl_stat_add(q, KL_ST_REQ_BYTES, res);
	if (buf && kl_io_addr(q, tag) == (__u64)(uintptr_t)buf)
		kl_stat_add(q, KL_ST_DRV_COPY_BYTES, res);
}

static void kl_commit(struct kl_queue *q, unsigned int tag, int res)
{
	kl_count_commit(q, tag, res);
	if (kl_queue_cmd(q, tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ, res)) {
		kl_log("q%d tag %u: no SQE for COMMIT_AND_FETCH", q->q_id, tag);
		q->ios[tag].state = KL_IO_IDLE;
	}
}

static int kl_tgt_flush(struct kl_queue *q, unsigned int tag)
{
	struct io_uring_sqe *sqe;

	if (!kl_tgt_has_backing(q))
		return 0;
	sqe = kl_queue_get_sqe(q);
	if (!sqe)
		return -ENOMEM;
	io_uring_prep_fsync(sqe, KL_FIX_TGT, IORING_FSYNC_DATASYNC);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, kl_ud(tag, KL_UD_TGT, 0));
	return -EINPROGRESS;
}

/* The driver handed us a request on @tag: start serving it. */
static void kl_io_start(struct kl_queue *q, unsigned int tag)
{
	const struct ublksrv_io_desc *iod = &q->iods[tag];
	struct kl_io *io = &q->ios[tag];
	int ret;

	io->state = KL_IO_SERVING;
	io->done = 0;
	io->inflight = 0;
	io->result = 0;

	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		ret = q->dev->cfg.mode->submit_io(q, tag, iod);
		break;
	case UBLK_IO_OP_FLUSH:
		ret = kl_tgt_flush(q, tag);
		break;
	default:
		/* no discard/write-zeroes params are set, so none should come */
		ret = -EOPNOTSUPP;
		break;
	}
	if (ret != -EINPROGRESS)
		kl_commit(q, tag, ret);
}

static void kl_handle_cmd_cqe(struct kl_queue *q, unsigned int tag, int res)
{
	struct kl_io *io = &q->ios[tag];

	if (res == UBLK_IO_RES_OK) {
		kl_io_start(q, tag);
		return;
	}
	/* ABORT: the device is stopping; anything else is a protocol bug */
	if (res != UBLK_IO_RES_ABORT)
		kl_log("q%d tag %u: ublk command failed: %s", q->q_id, tag,
		       strerror(-res));
	io->state = KL_IO_IDLE;
}

static void kl_handle_cqe(struct kl_queue *q, const struct io_uring_cqe *cqe)
{
	unsigned int tag = kl_ud_tag(cqe->user_data);
	const struct ublksrv_io_desc *iod = &q->iods[tag];
	int ret;

	if (tag >= (unsigned int)q->depth) {
		kl_log("q%d: CQE with bad user_data %llx", q->q_id,
		       (unsigned long long)cqe->user_data);
		return;
	}
	switch (kl_ud_kind(cqe->user_data)) {
	case KL_UD_CMD:
		kl_handle_cmd_cqe(q, tag, cqe->res);
		return;
	case KL_UD_TGT:
		ret = cqe->res;
		break;
	case KL_UD_MODE:
		ret = q->dev->cfg.mode->complete_io(q, tag, iod, cqe);
		break;
	default:
		kl_log("q%d: CQE of unknown kind %llx", q->q_id,
		       (unsigned long long)cqe->user_data);
		return;
	}
	if (ret != -EINPROGRESS)
		kl_commit(q, tag, ret);
}

static int kl_queue_busy(const struct kl_queue *q)
{
	int i, n = 0;

	for (i = 0; i < q->depth; i++)
		n += q->ios[i].state != KL_IO_IDLE;
	return n;
}

static void kl_queue_loop(struct kl_queue *q)
{
	while (kl_queue_busy(q)) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;
		int ret;

		ret = kl_queue_submit(q, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN &&
		    ret != -EBUSY) {
			kl_log("q%d: io_uring_submit_and_wait: %s", q->q_id,
			       strerror(-ret));
			break;
		}
		io_uring_for_each_cqe(&q->ring, head, cqe) {
			kl_handle_cqe(q, cqe);
			n++;
		}
		io_uring_cq_advance(&q->ring, n);
	}
}

static int kl_queue_ring_init(struct kl_queue *q)
{
	const struct kl_mode_ops *m = q->dev->cfg.mode;
	unsigned int entries = q->depth * 4;
	struct io_uring_params p;
	int fds[2] = { q->dev->cdev_fd, q->dev->tgt_fd };
	int ret;

	/*
	 * Task work (ublk dispatch, IO completions) runs only when this
	 * thread enters the kernel to wait, which is all it ever does.
	 */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN | m->ring_flags;
	ret = io_uring_queue_init_params(entries, &q->ring, &p);
	if (ret == -EINVAL && !m->ring_flags) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(entries, &q->ring, &p);
	}
	if (ret)
		return ret;
	ret = io_uring_register_files(&q->ring, fds, q->dev->tgt_fd >= 0 ? 2 : 1);
	if (ret)
		io_uring_queue_exit(&q->ring);
	return ret;
}

/* The driver's per-queue array of io descriptors, read-only for us. */
static int kl_queue_map_iods(struct kl_queue *q)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t max_len = UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc);
	off_t off;
	void *p;

	max_len = (max_len + page - 1) & ~(page - 1);
	q->iods_len = (q->depth * sizeof(struct ublksrv_io_desc) + page - 1) &
		      ~(page - 1);
	off = UBLKSRV_CMD_BUF_OFFSET + (off_t)q->q_id * max_len;
	p = mmap(NULL, q->iods_len, PROT_READ, MAP_SHARED | MAP_POPULATE,
		 q->dev->cdev_fd, off);
	if (p == MAP_FAILED)
		return -errno;
	q->iods = p;
	return 0;
}

static int kl_queue_alloc_ios(struct kl_queue *q)
{
	unsigned int buf_len = q->dev->info.max_io_buf_bytes;
	int i;

	q->ios = calloc(q->depth, sizeof(*q->ios));
	if (!q->ios)
		return -ENOMEM;
	if (!q->dev->cfg.mode->server_buf)
		return 0;
	for (i = 0; i < q->depth; i++) {
		/* page aligned so an O_DIRECT backing file accepts it */
		if (posix_memalign(&q->ios[i].buf, 4096, buf_len))
			return -ENOMEM;
	}
	return 0;
}

static void kl_queue_free(struct kl_queue *q)
{
	int i;

	if (q->ios) {
		for (i = 0; i < q->depth; i++)
			free(q->ios[i].buf);
		free(q->ios);
		q->ios = NULL;
	}
	if (q->iods) {
		munmap((void *)q->iods, q->iods_len);
		q->iods = NULL;
	}
}

static int kl_queue_setup(struct kl_queue *q)
{
	const struct kl_mode_ops *m = q->dev->cfg.mode;
	int ret;

	ret = kl_queue_ring_init(q);
	if (ret) {
		kl_log("q%d: ring setup: %s", q->q_id, strerror(-ret));
		return ret;
	}
	ret = kl_queue_map_iods(q);
	if (!ret)
		ret = kl_queue_alloc_ios(q);
	if (!ret && m->queue_init)
		ret = m->queue_init(q);
	if (ret) {
		kl_log("q%d: setup: %s", q->q_id, strerror(-ret));
		kl_queue_free(q);
		io_uring_queue_exit(&q->ring);
	}
	return ret;
}

static int kl_queue_fetch_all(struct kl_queue *q)
{
	int i, ret;

	for (i = 0; i < q->depth; i++) {
		ret = kl_queue_cmd(q, i, UBLK_U_IO_FETCH_REQ, 0);
		if (ret)
			return ret;
	}
	ret = kl_queue_submit(q, 0);
	return ret < 0 ? ret : 0;
}

static void *kl_queue_thread(void *arg)
{
	struct kl_queue *q = arg;
	const struct kl_mode_ops *m = q->dev->cfg.mode;

	q->init_err = kl_queue_setup(q);
	if (!q->init_err) {
		q->init_err = kl_queue_fetch_all(q);
		if (q->init_err)
			kl_log("q%d: FETCH_REQ submit: %s", q->q_id,
			       strerror(-q->init_err));
	}
	/* even with an error: START_DEV must not be sent then */
	sem_post(&q->dev->ready);
	if (q->ios && !q->init_err)
		kl_queue_loop(q);
	if (q->ios) {
		if (m->queue_exit)
			m->queue_exit(q);
		kl_queue_free(q);
		io_uring_queue_exit(&q->ring);
	}
	return NULL;
}

int kl_queues_start(struct kl_dev *dev)
{
	int i, ret = 0, started = 0;

	sem_init(&dev->ready, 0, 0);
	for (i = 0; i < dev->info.nr_hw_queues; i++) {
		struct kl_queue *q = &dev->q[i];

		q->dev = dev;
		q->q_id = i;
		q->depth = dev->info.queue_depth;
		q->stats = dev->stats ? dev->stats->q[i] : q->stats_local;
		ret = -pthread_create(&q->thread, NULL, kl_queue_thread, q);
		if (ret)
			break;
		started++;
	}
	for (i = 0; i < started; i++)
		sem_wait(&dev->ready);
	for (i = 0; i < started && !ret; i++)
		ret = dev->q[i].init_err;
	dev->nr_threads = started;
	return ret;
}

void kl_queues_join(struct kl_dev *dev)
{
	int i;

	for (i = 0; i < dev->nr_threads; i++)
		pthread_join(dev->q[i].thread, NULL);
}
