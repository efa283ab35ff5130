/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the ublk-zc regression tests. The test program is the server
 * of its own device (kl_ublk_dev.h, zc_cfg: UBLK_F_SUPPORT_ZERO_COPY, the
 * char device as fixed file 0 and ZC_NR_BUFS sparse fixed buffers on the
 * queue ring; requests nobody waits for are served as a null target). Here:
 * registering and unregistering a request's buffer, fixed-buffer IO on it,
 * and the REGISTER -> READ/WRITE_FIXED -> UNREGISTER chain.
 */
#ifndef ZC_LIB_H
#define ZC_LIB_H

#include "kl_ublk_dev.h"

#define ZC_NR_BUFS	8

static const struct kl_ublk_cfg zc_cfg = {
	.need = UBLK_F_SUPPORT_ZERO_COPY,
	.need_name = "UBLK_F_SUPPORT_ZERO_COPY (ublk-zc patch set)",
	.max_io = 512U << 10,
	.nr_bufs = ZC_NR_BUFS,
	.fixed_cdev = true,
};

/*
 * UBLK_F_AUTO_BUF_REG devices (patch 0008): the driver registers each
 * request at the index the tag's FETCH / COMMIT_AND_FETCH named
 * (d->fetch_addr, set between kl_ublk_require() and kl_ublk_dev_setup()).
 * SUPPORT_ZERO_COPY too, for the manual register / unregister the tests
 * compare with.
 */
static const struct kl_ublk_cfg zc_auto_cfg = {
	.need = UBLK_F_AUTO_BUF_REG | UBLK_F_SUPPORT_ZERO_COPY,
	.need_name = "UBLK_F_AUTO_BUF_REG (ublk-zc patch set, 0008)",
	.max_io = 512U << 10,
	.nr_bufs = ZC_NR_BUFS,
	.fixed_cdev = true,
};

/*
 * UBLK_F_AUTO_BUF_REG alone, without UBLK_F_SUPPORT_ZERO_COPY: the server
 * still registers and unregisters by hand when it must (a FALLBACK request,
 * a buffer left in another ring).
 */
static const struct kl_ublk_cfg zc_auto_only_cfg = {
	.need = UBLK_F_AUTO_BUF_REG,
	.need_name = "UBLK_F_AUTO_BUF_REG (ublk-zc patch set, 0008)",
	.max_io = 512U << 10,
	.nr_bufs = ZC_NR_BUFS,
	.fixed_cdev = true,
};

/* Every tag's requests registered at @first + tag, with UBLK_AUTO_BUF_REG_* @flags. */
static inline void zc_auto_index(struct kl_ublk_dev *d, unsigned int first, __u8 flags)
{
	unsigned int t;

	for (t = 0; t < KL_UBLK_DEPTH; t++)
		d->fetch_addr[t] = kl_auto_buf_reg_addr(first + t, flags);
}

/*
 * Queue REGISTER_IO_BUF / UNREGISTER_IO_BUF of @tag's buffer at @index (not
 * submitted), with @sqe_flags: its user_data, for kl_ublk_wait_op().
 */
static inline __u64 zc_prep_buf(struct kl_ublk_dev *d, __u32 op, unsigned int tag,
				__u64 index, unsigned int sqe_flags)
{
	struct io_uring_sqe *sqe = kl_sqe(&d->ring);
	__u64 ud = kl_ublk_op_ud(d);

	kl_ublk_prep_io_cmd(d, sqe, op, tag, 0, index);
	sqe->flags |= sqe_flags;
	sqe->user_data = ud;
	return ud;
}

/* A single ublk uring_cmd (REGISTER/UNREGISTER_IO_BUF...), waited for. */
static inline int zc_io_cmd(struct kl_ublk_dev *d, __u32 op, unsigned int tag, __u64 addr)
{
	__u64 ud = zc_prep_buf(d, op, tag, addr, 0);

	io_uring_submit(&d->ring);
	return kl_ublk_wait_op(d, ud, KL_TIMEOUT_MS);
}

static inline int zc_register(struct kl_ublk_dev *d, unsigned int tag, unsigned int index)
{
	return zc_io_cmd(d, UBLK_U_IO_REGISTER_IO_BUF, tag, index);
}

static inline int zc_unregister(struct kl_ublk_dev *d, unsigned int tag, unsigned int index)
{
	return zc_io_cmd(d, UBLK_U_IO_UNREGISTER_IO_BUF, tag, index);
}

/* Queue READ_FIXED/WRITE_FIXED on @fd (a plain fd) from/to buffer @index: its user_data. */
static inline __u64 zc_prep_fixed(struct kl_ublk_dev *d, int op, int fd, __u64 buf_off,
				  unsigned int len, __u64 file_off, unsigned int index,
				  unsigned int sqe_flags)
{
	struct io_uring_sqe *sqe = kl_sqe(&d->ring);
	__u64 ud = kl_ublk_op_ud(d);

	io_uring_prep_rw(op, sqe, fd, (void *)(uintptr_t)buf_off, len, file_off);
	sqe->buf_index = index;
	sqe->flags |= sqe_flags;
	sqe->user_data = ud;
	return ud;
}

static inline int zc_fixed_rw(struct kl_ublk_dev *d, int op, int fd, __u64 buf_off,
			      unsigned int len, __u64 file_off, unsigned int index)
{
	__u64 ud = zc_prep_fixed(d, op, fd, buf_off, len, file_off, index, 0);

	io_uring_submit(&d->ring);
	return kl_ublk_wait_op(d, ud, KL_TIMEOUT_MS);
}

/*
 * Serve one request the zero copy way in a single submission:
 * REGISTER (HARDLINK|CQE_SKIP_SUCCESS) -> READ/WRITE_FIXED on @fd ->
 * UNREGISTER, then COMMIT_AND_FETCH with the IO result.
 * Returns the IO result.
 */
static inline int zc_serve_chain(struct kl_ublk_dev *d, unsigned int tag, int fd,
				 unsigned int index)
{
	const struct ublksrv_io_desc *iod = &d->iods[tag];
	unsigned int len = iod->nr_sectors << 9;
	int op = ublksrv_get_op(iod) == UBLK_IO_OP_READ ? IORING_OP_READ_FIXED :
							  IORING_OP_WRITE_FIXED;
	__u64 ud_reg, ud_rw, ud_unreg;
	int res, rw;

	if (ublksrv_get_op(iod) != UBLK_IO_OP_READ &&
	    ublksrv_get_op(iod) != UBLK_IO_OP_WRITE) {
		kl_ublk_commit(d, tag, 0);
		return 0;
	}
	ud_reg = zc_prep_buf(d, UBLK_U_IO_REGISTER_IO_BUF, tag, index,
			     IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS);
	ud_rw = zc_prep_fixed(d, op, fd, 0, len, iod->start_sector << 9, index,
			      IOSQE_IO_HARDLINK);
	ud_unreg = zc_prep_buf(d, UBLK_U_IO_UNREGISTER_IO_BUF, tag, index, 0);
	io_uring_submit(&d->ring);

	rw = kl_ublk_wait_op(d, ud_rw, KL_TIMEOUT_MS);
	res = kl_ublk_wait_op(d, ud_unreg, KL_TIMEOUT_MS);
	if (res)
		kl_fail("UNREGISTER_IO_BUF in chain: want 0, got %d", res);
	if (kl_ublk_op_done(d, ud_reg, &res))
		kl_fail("REGISTER_IO_BUF in chain failed: %d", res);
	kl_ublk_commit(d, tag, rw);
	return rw;
}

#endif
