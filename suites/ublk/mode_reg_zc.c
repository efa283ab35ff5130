// SPDX-License-Identifier: GPL-2.0
/*
 * reg-zc: zero copy by registering the request's pages in the queue ring's
 * fixed buffer table, as upstream 6.15 (kernel-patches/ublk-zc).
 *
 *  - UBLK_F_SUPPORT_ZERO_COPY, no server buffer, addr 0 in FETCH/COMMIT.
 *  - queue_init registers a sparse buffer table of q->depth slots, so the
 *    buffer index of a request is its tag.
 *  - submit_io queues one hard-linked chain per request:
 *      REGISTER_IO_BUF (addr = tag)      HARDLINK | CQE_SKIP_SUCCESS
 *      READ_FIXED / WRITE_FIXED          HARDLINK, buf_index = tag,
 *                                        addr = offset in the request
 *      UNREGISTER_IO_BUF (addr = tag)
 *    The null target has no backing IO: register + unregister only.
 *    Hard links make the unregister run even when the register or the
 *    read/write fails, so no buffer is left behind in the table.
 *  - complete_io: the register CQE only shows up on failure; the
 *    read/write result is kept until the unregister CQE (always the last
 *    of the chain) arrives, then the request is finished: committed only
 *    after UNREGISTER, a short transfer is continued with another chain.
 */
#include <errno.h>
#include <stdint.h>

#include "ublk_mode.h"

enum {
	REG_ZC_SUB_REG = 1,
	REG_ZC_SUB_RW,
	REG_ZC_SUB_UNREG,
};

/* kl_io scratch: ->result is the first error, mode_data[0] the rw result */
#define REG_ZC_RW_RES(io)	((io)->mode_data[0])

static const char *reg_zc_probe(__u64 features)
{
	if (!(features & UBLK_F_SUPPORT_ZERO_COPY))
		return "kernel lacks UBLK_F_SUPPORT_ZERO_COPY";
	return NULL;
}

static int reg_zc_queue_init(struct kl_queue *q)
{
	return io_uring_register_buffers_sparse(&q->ring, q->depth);
}

/* Queue the register/IO/unregister chain for what is left of the request. */
static int reg_zc_queue_chain(struct kl_queue *q, unsigned int tag,
			      const struct ublksrv_io_desc *iod)
{
	struct kl_io *io = &q->ios[tag];
	unsigned int len = kl_iod_bytes(iod);
	unsigned int n = kl_tgt_has_backing(q) ? 3 : 2;
	struct io_uring_sqe *sqe[3];
	unsigned int i;

	/* a link chain must not be split over two submissions */
	if (io_uring_sq_space_left(&q->ring) < n)
		kl_queue_submit(q, 0);
	if (io_uring_sq_space_left(&q->ring) < n)
		return -EBUSY;
	for (i = 0; i < n; i++)
		sqe[i] = io_uring_get_sqe(&q->ring);

	io->result = 0;
	REG_ZC_RW_RES(io) = 0;

	kl_prep_io_cmd(q, sqe[0], UBLK_U_IO_REGISTER_IO_BUF, tag, 0, tag);
	sqe[0]->flags |= IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe[0], kl_ud(tag, KL_UD_MODE, REG_ZC_SUB_REG));

	if (kl_tgt_has_backing(q)) {
		int op = ublksrv_get_op(iod) == UBLK_IO_OP_READ ?
			 IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;

		io_uring_prep_rw(op, sqe[1], KL_FIX_TGT,
				 (void *)(uintptr_t)io->done, len - io->done,
				 (iod->start_sector << 9) + io->done);
		sqe[1]->buf_index = tag;
		sqe[1]->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
		io_uring_sqe_set_data64(sqe[1],
					kl_ud(tag, KL_UD_MODE, REG_ZC_SUB_RW));
	}

	kl_prep_io_cmd(q, sqe[n - 1], UBLK_U_IO_UNREGISTER_IO_BUF, tag, 0, tag);
	io_uring_sqe_set_data64(sqe[n - 1], kl_ud(tag, KL_UD_MODE,
						  REG_ZC_SUB_UNREG));
	return -EINPROGRESS;
}

static int reg_zc_submit_io(struct kl_queue *q, unsigned int tag,
			    const struct ublksrv_io_desc *iod)
{
	return reg_zc_queue_chain(q, tag, iod);
}

static int reg_zc_complete_io(struct kl_queue *q, unsigned int tag,
			      const struct ublksrv_io_desc *iod,
			      const struct io_uring_cqe *cqe)
{
	struct kl_io *io = &q->ios[tag];
	unsigned int len = kl_iod_bytes(iod);
	int rw;

	switch (kl_ud_sub(cqe->user_data)) {
	case REG_ZC_SUB_REG:
		/* CQE_SKIP_SUCCESS: only a failed register is posted */
		if (!io->result)
			io->result = cqe->res < 0 ? cqe->res : -EIO;
		return -EINPROGRESS;
	case REG_ZC_SUB_RW:
		REG_ZC_RW_RES(io) = (__u64)(__s64)cqe->res;
		return -EINPROGRESS;
	case REG_ZC_SUB_UNREG:
		break;
	default:
		kl_log("q%d tag %u: reg-zc: CQE of unknown step %u", q->q_id,
		       tag, kl_ud_sub(cqe->user_data));
		return -EINPROGRESS;
	}

	/* the chain is over: the buffer is out of the table (or never was) */
	if (io->result < 0)
		return io->result;
	if (cqe->res < 0) {
		kl_log("q%d tag %u: UNREGISTER_IO_BUF: %d", q->q_id, tag,
		       cqe->res);
		return cqe->res;
	}
	/* register and unregister both succeeded: the pages were in the table */
	kl_stat_add(q, KL_ST_BUF_REGS, 1);
	if (!kl_tgt_has_backing(q))
		return len;

	rw = (int)(__s64)REG_ZC_RW_RES(io);
	if (rw < 0)
		return rw;
	kl_stat_add(q, KL_ST_ZC_BYTES, rw);
	/*
	 * 0: the file ends inside the device (READ) or refused the write; the
	 * request pages can't be zero-filled from here, report an error.
	 */
	if (rw == 0)
		return -EIO;
	io->done += rw;
	if (io->done < len)
		return reg_zc_queue_chain(q, tag, iod);
	return len;
}

const struct kl_mode_ops kl_mode_reg_zc = {
	.name = "reg-zc",
	.dev_flags = UBLK_F_SUPPORT_ZERO_COPY,
	.probe = reg_zc_probe,
	.queue_init = reg_zc_queue_init,
	.submit_io = reg_zc_submit_io,
	.complete_io = reg_zc_complete_io,
};
