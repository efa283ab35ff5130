/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How request data moves between the ublk driver and the target: one ops
 * table per mode, one file per mode (mode_<name>.c).
 *
 * The core (queue.c) owns the ublk command cycle: it FETCHes every tag, and
 * when a READ or WRITE arrives it calls ->submit_io(). The mode either
 * finishes the request at once (returns the byte count or -errno) or queues
 * SQEs on q->ring with user_data kl_ud(tag, KL_UD_MODE, sub) and returns
 * -EINPROGRESS. Each such CQE is passed to ->complete_io(), which again
 * returns a final result or -EINPROGRESS. A final result is committed with
 * UBLK_U_IO_COMMIT_AND_FETCH_REQ, whose addr comes from ->io_buf_addr().
 *
 * Non-data ops (FLUSH) and unknown ops never reach the mode.
 *
 * A mode that wants its own ublk commands in the same link (fused primary,
 * buffer register/unregister) builds them with kl_prep_io_cmd() and tags
 * them KL_UD_MODE, so their CQEs come back to ->complete_io() too.
 * kl_tgt_has_backing() is false for the null target: there is no target IO
 * to do, only the data movement the mode wants to exercise.
 */
#ifndef KL_UBLK_MODE_H
#define KL_UBLK_MODE_H

#include "kl_ublk.h"

struct kl_mode_ops {
	const char *name;
	/* UBLK_F_* the device is added with */
	__u64 dev_flags;
	/* extra io_uring_setup() flags for every queue ring */
	unsigned int ring_flags;
	/* the core allocates a max_io_buf_bytes buffer per tag in io->buf */
	bool server_buf;
	/*
	 * NULL when the running kernel can do this mode, else a short reason
	 * ("kernel lacks UBLK_F_USER_COPY"). @features is GET_FEATURES.
	 */
	const char *(*probe)(__u64 features);
	/* optional: per-queue setup after the ring and fixed files exist */
	int (*queue_init)(struct kl_queue *q);
	void (*queue_exit)(struct kl_queue *q);
	/* addr for FETCH / COMMIT_AND_FETCH of @tag */
	__u64 (*io_buf_addr)(struct kl_queue *q, unsigned int tag);
	int (*submit_io)(struct kl_queue *q, unsigned int tag,
			 const struct ublksrv_io_desc *iod);
	int (*complete_io)(struct kl_queue *q, unsigned int tag,
			   const struct ublksrv_io_desc *iod,
			   const struct io_uring_cqe *cqe);
};

extern const struct kl_mode_ops kl_mode_copy;
extern const struct kl_mode_ops kl_mode_user_copy;
extern const struct kl_mode_ops kl_mode_fused_zc;
extern const struct kl_mode_ops kl_mode_reg_zc;
extern const struct kl_mode_ops kl_mode_auto_zc;

const struct kl_mode_ops *kl_mode_find(const char *name);

#endif
