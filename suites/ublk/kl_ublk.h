/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kl-ublk: kernel-lab's own ublk server.
 *
 * One process per device. The main thread drives the control device
 * (/dev/ublk-control, SQE128 ring); each hardware queue gets a pthread with
 * its own io_uring that carries both the ublk IO commands (FETCH /
 * COMMIT_AND_FETCH on /dev/ublkcN) and the target IO on the backing file.
 *
 * How data moves between a ublk request and the target is a "mode"
 * (ublk_mode.h): copy, user-copy, fused-zc, reg-zc, auto-zc.
 */
#ifndef KL_UBLK_SRV_H
#define KL_UBLK_SRV_H

#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <linux/types.h>
/* the tested kernel's uAPI must win over liburing's bundled copy */
#include <linux/io_uring.h>
#include <linux/ublk_cmd.h>
#include <liburing.h>

#include "kl_uapi.h"

#define KL_UBLK_MAX_QUEUES	16
#define KL_UBLK_DEF_QUEUES	1
#define KL_UBLK_DEF_DEPTH	64
#define KL_UBLK_IO_BUF_BYTES	(512U << 10)
#define KL_UBLK_NULL_SIZE	(256ULL << 20)
#define KL_UBLK_RUN_DIR		"/tmp/.kl-ublk"

/* exit codes of the CLI (KL_SKIP matches kl_test.h) */
#define KL_UBLK_OK	0
#define KL_UBLK_ERR	1
#define KL_UBLK_USAGE	2
#define KL_UBLK_SKIP	4

/* fixed-file slots registered on every queue ring */
#define KL_FIX_CDEV	0
#define KL_FIX_TGT	1

/*
 * cqe->user_data layout: bits 0-15 tag, 16-23 kind, 24-31 a sub-op the
 * owner of that kind chooses, 32-63 free for modes.
 */
enum kl_ud_kind {
	KL_UD_CMD = 1,		/* FETCH / COMMIT_AND_FETCH on /dev/ublkcN */
	KL_UD_TGT,		/* core-owned target IO (flush) */
	KL_UD_MODE,		/* IO submitted by the mode's submit_io hook */
};

static inline __u64 kl_ud(unsigned int tag, unsigned int kind, unsigned int sub)
{
	return (__u64)(tag & 0xffff) | ((__u64)(kind & 0xff) << 16) |
	       ((__u64)(sub & 0xff) << 24);
}

static inline unsigned int kl_ud_tag(__u64 ud) { return ud & 0xffff; }
static inline unsigned int kl_ud_kind(__u64 ud) { return (ud >> 16) & 0xff; }
static inline unsigned int kl_ud_sub(__u64 ud) { return (ud >> 24) & 0xff; }

/* sub-op of the core's backing-file read/write helper (kl_tgt_submit_rw) */
#define KL_SUB_TGT_RW	0xf0

enum kl_tgt_type { KL_TGT_NULL, KL_TGT_LOOP };

struct kl_mode_ops;

/*
 * What the server did to move request data, counted per queue. ublk-perf
 * reads them around each measurement to check that a mode did what it is
 * named for: a zero-copy mode copies no byte and lends, registers or
 * auto-registers the pages of every request; a copy mode copies each byte
 * once. They live in KL_UBLK_RUN_DIR/<id>.stats, mapped shared by the
 * daemon, so `kl-ublk stats` reads them while the device serves IO. Each
 * row has one writer, its queue thread.
 */
enum kl_stat {
	KL_ST_REQS,		/* READ/WRITE requests committed with success */
	KL_ST_REQ_BYTES,	/* ... their bytes */
	KL_ST_ERRS,		/* READ/WRITE requests committed with an error */
	KL_ST_DRV_COPY_BYTES,	/* bytes the driver copied to/from our buffer */
	KL_ST_UCOPY_CALLS,	/* pread/pwrite calls on /dev/ublkcN */
	KL_ST_UCOPY_BYTES,	/* ... bytes they moved */
	KL_ST_UCOPY_NS,		/* ... time spent in them */
	KL_ST_FILL_BYTES,	/* bytes the server zero-filled in its buffer */
	KL_ST_FILL_NS,		/* ... time spent on it */
	KL_ST_FUSED,		/* fused primaries that lent a request's pages */
	KL_ST_BUF_REGS,		/* REGISTER_IO_BUF..UNREGISTER_IO_BUF chains that held */
	KL_ST_AUTO_REGS,	/* requests delivered with an auto-registered buffer */
	KL_ST_ZC_BYTES,		/* bytes target IO moved on the request's own pages */
	KL_ST_NR,
};

#define KL_STATS_MAGIC	0x6b6c7374	/* "klst" */

struct kl_stats_file {
	__u32 magic;
	__u32 nr_queues;
	__u64 dev_flags;	/* UBLK_F_* the driver kept at ADD_DEV */
	char mode[16];
	__u64 q[KL_UBLK_MAX_QUEUES][KL_ST_NR];
};

extern const char *const kl_stat_names[KL_ST_NR];

/* Everything "add" (and "recover", from the saved state file) needs. */
struct kl_dev_cfg {
	enum kl_tgt_type tgt;
	const struct kl_mode_ops *mode;
	int nr_queues;
	int depth;
	int dev_id;		/* -1: let the kernel choose */
	bool recovery;
	bool foreground;
	/* overwrite SQEs once submitted: see kl_queue_submit() */
	bool poison_sqes;
	__u64 size;		/* null: device size; loop: taken from the file */
	char file[PATH_MAX];
};

/* Where a tag is, seen from the server. */
enum kl_io_state {
	KL_IO_IDLE,		/* no command in the kernel: tag is finished */
	KL_IO_FETCHING,		/* FETCH or COMMIT_AND_FETCH in the kernel */
	KL_IO_SERVING,		/* request handed to us, target IO running */
};

struct kl_io {
	void *buf;		/* server buffer (copy, user-copy) */
	enum kl_io_state state;
	unsigned int done;	/* bytes of the request finished so far */
	unsigned int inflight;	/* target CQEs still expected */
	int result;		/* mode scratch: first error or byte count */
	__u64 mode_data[2];	/* mode scratch */
};

struct kl_dev;

struct kl_queue {
	struct kl_dev *dev;
	int q_id;
	int depth;
	struct io_uring ring;
	const struct ublksrv_io_desc *iods;	/* mmap of /dev/ublkcN */
	size_t iods_len;
	struct kl_io *ios;
	pthread_t thread;
	int init_err;		/* set before the ready semaphore is posted */
	void *mode_priv;
	__u64 *stats;		/* this queue's row of dev->stats (or a private one) */
	__u64 stats_local[KL_ST_NR];
};

struct kl_dev {
	struct kl_dev_cfg cfg;
	struct ublksrv_ctrl_dev_info info;
	int cdev_fd;		/* /dev/ublkcN */
	int tgt_fd;		/* backing file, -1 for null */
	bool tgt_direct;	/* backing file opened O_DIRECT */
	__u64 size;
	sem_t ready;
	int nr_threads;
	struct kl_stats_file *stats;	/* NULL: counters stay private */
	struct kl_queue q[KL_UBLK_MAX_QUEUES];
};

/* ---- control device (ctrl.c) ---- */
struct kl_ctrl {
	int fd;
	struct io_uring ring;
};

int kl_ctrl_open(struct kl_ctrl *c);
void kl_ctrl_close(struct kl_ctrl *c);
int kl_ctrl_get_features(struct kl_ctrl *c, __u64 *features);
int kl_ctrl_add_dev(struct kl_ctrl *c, struct ublksrv_ctrl_dev_info *info);
int kl_ctrl_set_params(struct kl_ctrl *c, int dev_id, struct ublk_params *p);
int kl_ctrl_get_params(struct kl_ctrl *c, int dev_id, struct ublk_params *p);
int kl_ctrl_get_info(struct kl_ctrl *c, int dev_id, struct ublksrv_ctrl_dev_info *info);
int kl_ctrl_start_dev(struct kl_ctrl *c, int dev_id, int pid, int timeout_ms);
int kl_ctrl_stop_dev(struct kl_ctrl *c, int dev_id);
int kl_ctrl_del_dev(struct kl_ctrl *c, int dev_id, bool wait, int timeout_ms);
int kl_ctrl_start_recovery(struct kl_ctrl *c, int dev_id);
int kl_ctrl_end_recovery(struct kl_ctrl *c, int dev_id, int pid, int timeout_ms);
const char *kl_state_name(int state);

/* ---- queues and IO (queue.c) ---- */
int kl_queues_start(struct kl_dev *dev);
void kl_queues_join(struct kl_dev *dev);
int kl_queue_submit(struct kl_queue *q, unsigned int wait_nr);
struct io_uring_sqe *kl_queue_get_sqe(struct kl_queue *q);
void kl_prep_io_cmd(struct kl_queue *q, struct io_uring_sqe *sqe, __u32 cmd_op,
		    unsigned int tag, int result, __u64 addr);
void kl_prep_tgt_rw(struct kl_queue *q, struct io_uring_sqe *sqe,
		    const struct ublksrv_io_desc *iod, void *buf, unsigned int len,
		    __u64 off);
int kl_tgt_rw_done(struct kl_queue *q, unsigned int tag,
		   const struct ublksrv_io_desc *iod, int res);
int kl_tgt_submit_rw(struct kl_queue *q, unsigned int tag,
		     const struct ublksrv_io_desc *iod);
__u64 kl_user_copy_pos(int q_id, unsigned int tag, unsigned int off);

/* Only the queue's own thread writes its row; readers may be elsewhere. */
static inline void kl_stat_add(struct kl_queue *q, enum kl_stat s, __u64 v)
{
	__atomic_store_n(&q->stats[s], q->stats[s] + v, __ATOMIC_RELAXED);
}

__u64 kl_now_ns(void);

static inline bool kl_tgt_has_backing(const struct kl_queue *q)
{
	return q->dev->tgt_fd >= 0;
}

static inline unsigned int kl_iod_bytes(const struct ublksrv_io_desc *iod)
{
	return iod->nr_sectors << 9;
}

/* ---- targets (target.c) ---- */
int kl_tgt_open(struct kl_dev *dev);
void kl_tgt_close(struct kl_dev *dev);
void kl_tgt_params(const struct kl_dev *dev, struct ublk_params *p);
const char *kl_tgt_name(enum kl_tgt_type t);
int kl_tgt_parse(const char *s, enum kl_tgt_type *t);

/* ---- logging ---- */
void kl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
