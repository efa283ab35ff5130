/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the fused suite (kernel-patches/fused): probing for the feature
 * and building fused pairs. The ublk device every case puts a buffer behind
 * a fused command with is the test's own (kl_ublk_dev.h, fu_cfg):
 * UBLK_F_FUSED_ZERO_COPY, its queue ring set up with IORING_SETUP_FUSED_REQ;
 * requests the test did not ask for (partition scan at START_DEV) are served
 * by a fused pair on /dev/zero (READ) or /dev/null (WRITE).
 */
#ifndef FUSED_LIB_H
#define FUSED_LIB_H

#include "kl_ublk_dev.h"

/* cqe->user_data kinds of a fused pair on the queue ring (| tag) */
#define FU_UD_PRIM	(16ULL << 32)
#define FU_UD_SEC	(17ULL << 32)

/*
 * SKIP unless the kernel advertises IORING_FEAT_FUSED_REQ. A kernel without
 * io_uring lacks it too (ENOSYS); any other setup failure is a broken kernel.
 */
static inline void fu_require_fused(void)
{
	struct io_uring_params p;
	struct io_uring ring;
	int ret;

	memset(&p, 0, sizeof(p));
	ret = io_uring_queue_init_params(4, &ring, &p);
	if (ret == -ENOSYS)
		kl_skip("kernel lacks io_uring (io_uring_setup: ENOSYS)");
	if (ret)
		kl_fail("io_uring_setup of a 4-entry ring: %s", strerror(-ret));
	io_uring_queue_exit(&ring);
	if (!(p.features & IORING_FEAT_FUSED_REQ))
		kl_skip("kernel lacks IORING_FEAT_FUSED_REQ (fused patch set)");
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

/* sqe->flags fu_fused_rw() gives the primary and the secondary */
static unsigned int fu_prim_sqe_flags, fu_sec_sqe_flags;

/*
 * Submit a fused pair for @tag and wait for both CQEs. *prim_last tells
 * whether the primary's CQE came after the secondary's. Requests arriving
 * meanwhile are kept for kl_ublk_next_req().
 */
static inline void fu_fused_rw(struct kl_ublk_dev *d, unsigned int tag, int op,
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
		struct kl_cqe cqe;

		ret = kl_ublk_reap(d, KL_TIMEOUT_MS, &cqe);
		if (ret < 0)
			kl_fail("waiting for the fused pair of tag %u: %s (got %d)",
				tag, strerror(-ret), got);
		if (!ret)
			continue;	/* another tag's request: kept for later */
		switch (KL_UBLK_UD_KIND(cqe.user_data)) {
		case FU_UD_PRIM:
			*prim_res = cqe.res;
			*prim_last = got == 2;
			got |= 1;
			break;
		case FU_UD_SEC:
			*sec_res = cqe.res;
			got |= 2;
			break;
		default:
			kl_fail("unexpected CQE %llx",
				(unsigned long long)cqe.user_data);
		}
	}
}

/* Serve a request nobody waits for with a fused pair on /dev/zero or /dev/null. */
static inline void fu_serve(struct kl_ublk_dev *d, unsigned int tag)
{
	static int zero_fd = -1, null_fd = -1;
	const struct ublksrv_io_desc *iod = &d->iods[tag];
	unsigned int len = iod->nr_sectors << 9;
	int pres = 0, sres = 0, op = ublksrv_get_op(iod);
	bool last;

	if (op != UBLK_IO_OP_READ && op != UBLK_IO_OP_WRITE) {
		kl_ublk_commit(d, tag, 0);
		return;
	}
	if (zero_fd < 0)
		zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0)
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (zero_fd < 0 || null_fd < 0)
		kl_fail("opening /dev/zero and /dev/null: %s", strerror(errno));
	fu_fused_rw(d, tag, op == UBLK_IO_OP_READ ? IORING_OP_READ : IORING_OP_WRITE,
		    op == UBLK_IO_OP_READ ? zero_fd : null_fd, 0, len, 0, &pres,
		    &sres, &last);
	kl_ublk_commit(d, tag, sres < 0 ? sres : pres < 0 ? pres : sres);
}

static const struct kl_ublk_cfg fu_cfg = {
	.need = UBLK_F_FUSED_ZERO_COPY,
	.need_name = "UBLK_F_FUSED_ZERO_COPY (fused patch set)",
	.max_io = 256U << 10,
	.ring_flags = IORING_SETUP_FUSED_REQ,
	.serve = fu_serve,
};

#endif
