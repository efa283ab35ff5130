// SPDX-License-Identifier: GPL-2.0
/*
 * copy: the classic ublk data path. Every tag owns a server buffer whose
 * address goes to the driver in FETCH / COMMIT_AND_FETCH; the driver copies
 * WRITE data into it before handing us the request and copies READ data
 * out of it when we commit.
 */
#include <errno.h>

#include "ublk_mode.h"

static const char *copy_probe(__u64 features)
{
	return NULL;	/* every ublk kernel has it */
}

static __u64 copy_io_buf_addr(struct kl_queue *q, unsigned int tag)
{
	return (__u64)(unsigned long)q->ios[tag].buf;
}

static int copy_submit_io(struct kl_queue *q, unsigned int tag,
			  const struct ublksrv_io_desc *iod)
{
	if (!kl_tgt_has_backing(q))
		return kl_iod_bytes(iod);
	return kl_tgt_submit_rw(q, tag, iod);
}

static int copy_complete_io(struct kl_queue *q, unsigned int tag,
			    const struct ublksrv_io_desc *iod,
			    const struct io_uring_cqe *cqe)
{
	return kl_tgt_rw_done(q, tag, iod, cqe->res);
}

const struct kl_mode_ops kl_mode_copy = {
	.name = "copy",
	.server_buf = true,
	.probe = copy_probe,
	.io_buf_addr = copy_io_buf_addr,
	.submit_io = copy_submit_io,
	.complete_io = copy_complete_io,
};
