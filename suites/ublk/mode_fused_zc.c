// SPDX-License-Identifier: GPL-2.0
/*
 * fused-zc: zero copy through the lab's io_uring fused command
 * (kernel-patches/fused, UBLK_F_FUSED_ZERO_COPY).
 *
 * The device implies UBLK_F_USER_COPY: FETCH/COMMIT carry no buffer and
 * there is no server buffer at all. Each READ/WRITE request is served by
 * one fused pair on the queue ring: a primary IORING_OP_FUSED_CMD carrying
 * UBLK_U_IO_FUSED_SUBMIT_IO {q_id, tag} with IORING_FUSED_CMD_BUF, and right
 * behind it the secondary READ/WRITE whose sqe->addr is the byte offset in
 * the request's buffer (what is already done) and sqe->len what is left.
 * The kernel lends the request's pages to the secondary, so the data goes
 * between the bio pages and the target file directly. The ring needs
 * IORING_SETUP_FUSED_REQ. Both CQEs come back here (primary last):
 *  - short transfer: another fused pair for the rest;
 *  - READ at EOF of the backing file: the rest is read from /dev/zero (the
 *    server can't touch the pages to zero-fill them itself);
 *  - null target: READ from /dev/zero, WRITE to /dev/null, so the fused path
 *    is exercised without a backing file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ublk_mode.h"

/* cqe sub-op of the two halves of a fused pair */
#define FZ_SUB_PRIMARY		1
#define FZ_SUB_SECONDARY	2

/* io->mode_data[0]: results of the pair in flight */
#define FZ_PRIM_SHIFT		32

struct fz_queue {
	int zero_fd;	/* READ source for null targets and EOF */
	int null_fd;	/* WRITE sink for null targets */
};

static const char *fused_zc_probe(__u64 features)
{
	if (!(features & UBLK_F_FUSED_ZERO_COPY))
		return "kernel lacks UBLK_F_FUSED_ZERO_COPY";
	return NULL;
}

static int fused_zc_queue_init(struct kl_queue *q)
{
	struct fz_queue *fz = calloc(1, sizeof(*fz));

	if (!fz)
		return -ENOMEM;
	fz->zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	fz->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fz->zero_fd < 0 || fz->null_fd < 0) {
		int err = -errno;

		if (fz->zero_fd >= 0)
			close(fz->zero_fd);
		if (fz->null_fd >= 0)
			close(fz->null_fd);
		free(fz);
		return err;
	}
	q->mode_priv = fz;
	return 0;
}

static void fused_zc_queue_exit(struct kl_queue *q)
{
	struct fz_queue *fz = q->mode_priv;

	if (!fz)
		return;
	close(fz->zero_fd);
	close(fz->null_fd);
	free(fz);
	q->mode_priv = NULL;
}

/*
 * Queue a fused pair moving what is left of the request (from io->done on)
 * between its pages and the target; @zero: read zeros instead (EOF fill).
 */
static int fz_submit_pair(struct kl_queue *q, unsigned int tag,
			  const struct ublksrv_io_desc *iod, bool zero)
{
	struct fz_queue *fz = q->mode_priv;
	struct kl_io *io = &q->ios[tag];
	bool rd = ublksrv_get_op(iod) == UBLK_IO_OP_READ;
	unsigned int left = kl_iod_bytes(iod) - io->done;
	struct io_uring_sqe *prim, *sec;
	int fd = -1;

	/* the pair must go in together: make room for both */
	if (io_uring_sq_space_left(&q->ring) < 2)
		kl_queue_submit(q, 0);
	prim = io_uring_get_sqe(&q->ring);
	sec = prim ? io_uring_get_sqe(&q->ring) : NULL;
	if (!sec)
		return -ENOMEM;

	kl_prep_io_cmd(q, prim, UBLK_U_IO_FUSED_SUBMIT_IO, tag, 0, 0);
	prim->opcode = IORING_OP_FUSED_CMD;
	prim->uring_cmd_flags = IORING_FUSED_CMD_BUF;
	io_uring_sqe_set_data64(prim, kl_ud(tag, KL_UD_MODE, FZ_SUB_PRIMARY));

	if (zero || !kl_tgt_has_backing(q)) {
		fd = rd ? fz->zero_fd : fz->null_fd;
		io_uring_prep_rw(rd ? IORING_OP_READ : IORING_OP_WRITE, sec, fd,
				 NULL, left, 0);
	} else {
		kl_prep_tgt_rw(q, sec, iod, NULL, left,
			       (iod->start_sector << 9) + io->done);
	}
	/* not a user address: the offset in the request's buffer */
	sec->addr = io->done;
	io_uring_sqe_set_data64(sec, kl_ud(tag, KL_UD_MODE, FZ_SUB_SECONDARY));

	io->mode_data[0] = 0;
	io->mode_data[1] = zero;
	io->inflight += 2;
	return -EINPROGRESS;
}

static int fused_zc_submit_io(struct kl_queue *q, unsigned int tag,
			      const struct ublksrv_io_desc *iod)
{
	if (!kl_iod_bytes(iod))
		return 0;
	return fz_submit_pair(q, tag, iod, false);
}

static int fused_zc_complete_io(struct kl_queue *q, unsigned int tag,
				const struct ublksrv_io_desc *iod,
				const struct io_uring_cqe *cqe)
{
	struct kl_io *io = &q->ios[tag];
	unsigned int len = kl_iod_bytes(iod);
	bool rd = ublksrv_get_op(iod) == UBLK_IO_OP_READ;
	int prim, sec;

	/* a primary succeeds only once it has lent the request's pages */
	if (kl_ud_sub(cqe->user_data) == FZ_SUB_PRIMARY) {
		io->mode_data[0] |= (__u64)(__u32)cqe->res << FZ_PRIM_SHIFT;
		if (cqe->res >= 0)
			kl_stat_add(q, KL_ST_FUSED, 1);
	} else {
		io->mode_data[0] |= (__u32)cqe->res;
		if (cqe->res > 0)
			kl_stat_add(q, KL_ST_ZC_BYTES, cqe->res);
	}
	if (--io->inflight)
		return -EINPROGRESS;

	prim = (int)(__u32)(io->mode_data[0] >> FZ_PRIM_SHIFT);
	sec = (int)(__u32)io->mode_data[0];
	/* the secondary's error says more; the primary's if it never ran */
	if (sec < 0 && sec != -ECANCELED)
		return sec;
	if (prim < 0)
		return prim;
	if (sec < 0)
		return sec;
	if (sec == 0) {
		/* READ past the end of the backing file: zeros for the rest */
		if (rd && !io->mode_data[1])
			return fz_submit_pair(q, tag, iod, true);
		return -EIO;
	}
	io->done += sec;
	if (io->done < len)
		return fz_submit_pair(q, tag, iod, io->mode_data[1]);
	return len;
}

const struct kl_mode_ops kl_mode_fused_zc = {
	.name = "fused-zc",
	.dev_flags = UBLK_F_FUSED_ZERO_COPY,
	.ring_flags = IORING_SETUP_FUSED_REQ,
	.server_buf = false,
	.probe = fused_zc_probe,
	.queue_init = fused_zc_queue_init,
	.queue_exit = fused_zc_queue_exit,
	.submit_io = fused_zc_submit_io,
	.complete_io = fused_zc_complete_io,
};
