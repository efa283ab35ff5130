// SPDX-License-Identifier: GPL-2.0
/*
 * auto-zc: zero copy with UBLK_F_AUTO_BUF_REG (kernel-patches/ublk-zc 0007,
 * upstream 6.16). The driver registers each request's pages in the queue
 * ring's buffer table before delivering it, at the index we pass in
 * FETCH / COMMIT_AND_FETCH, and unregisters them when we commit: no
 * REGISTER_IO_BUF / UNREGISTER_IO_BUF per request.
 *
 *  - queue_init registers a sparse table of q->depth slots; the index of a
 *    tag's requests is the tag, so a slot is never busy and
 *    UBLK_AUTO_BUF_REG_FALLBACK isn't needed.
 *  - submit_io: one READ_FIXED / WRITE_FIXED per request (addr = offset in
 *    the request, buf_index = tag); the null target does nothing at all.
 *  - complete_io continues short transfers; a READ that hits the end of
 *    the file is an error, as in reg-zc (we can't zero-fill the pages).
 */
#include <errno.h>
#include <stdint.h>

#include "ublk_mode.h"

static const char *auto_zc_probe(__u64 features)
{
	if (!(features & UBLK_F_AUTO_BUF_REG))
		return "kernel lacks UBLK_F_AUTO_BUF_REG";
	return NULL;
}

static int auto_zc_queue_init(struct kl_queue *q)
{
	return io_uring_register_buffers_sparse(&q->ring, q->depth);
}

static __u64 auto_zc_io_buf_addr(struct kl_queue *q, unsigned int tag)
{
	return kl_auto_buf_reg_addr(tag, 0);
}

static int auto_zc_queue_rw(struct kl_queue *q, unsigned int tag,
			    const struct ublksrv_io_desc *iod)
{
	struct kl_io *io = &q->ios[tag];
	struct io_uring_sqe *sqe = kl_queue_get_sqe(q);
	int op = ublksrv_get_op(iod) == UBLK_IO_OP_READ ?
		 IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;

	if (!sqe)
		return -ENOMEM;
	io_uring_prep_rw(op, sqe, KL_FIX_TGT, (void *)(uintptr_t)io->done,
			 kl_iod_bytes(iod) - io->done,
			 (iod->start_sector << 9) + io->done);
	sqe->buf_index = tag;
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, kl_ud(tag, KL_UD_MODE, KL_SUB_TGT_RW));
	return -EINPROGRESS;
}

static int auto_zc_submit_io(struct kl_queue *q, unsigned int tag,
			     const struct ublksrv_io_desc *iod)
{
	if (iod->op_flags & UBLK_IO_F_NEED_REG_BUF) {
		kl_log("q%d tag %u: auto-zc: delivered without a buffer",
		       q->q_id, tag);
		return -EIO;
	}
	/* without FALLBACK, a request whose registration failed is failed */
	kl_stat_add(q, KL_ST_AUTO_REGS, 1);
	if (!kl_tgt_has_backing(q))
		return kl_iod_bytes(iod);
	return auto_zc_queue_rw(q, tag, iod);
}

static int auto_zc_complete_io(struct kl_queue *q, unsigned int tag,
			       const struct ublksrv_io_desc *iod,
			       const struct io_uring_cqe *cqe)
{
	struct kl_io *io = &q->ios[tag];
	unsigned int len = kl_iod_bytes(iod);

	if (cqe->res < 0)
		return cqe->res;
	if (cqe->res == 0)
		return -EIO;
	kl_stat_add(q, KL_ST_ZC_BYTES, cqe->res);
	io->done += cqe->res;
	if (io->done < len)
		return auto_zc_queue_rw(q, tag, iod);
	return len;
}

const struct kl_mode_ops kl_mode_auto_zc = {
	.name = "auto-zc",
	.dev_flags = UBLK_F_AUTO_BUF_REG,
	.probe = auto_zc_probe,
	.queue_init = auto_zc_queue_init,
	.io_buf_addr = auto_zc_io_buf_addr,
	.submit_io = auto_zc_submit_io,
	.complete_io = auto_zc_complete_io,
};
