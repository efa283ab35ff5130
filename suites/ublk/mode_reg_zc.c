// SPDX-License-Identifier: GPL-2.0
/*
 * reg-zc: zero copy by registering the request's pages in the queue ring's
 * fixed buffer table, as upstream 6.15 (kernel-patches/ublk-zc).
 * STUB: only the probe is real.
 *
 * Intended data path, for whoever fills this in:
 *  - dev_flags UBLK_F_SUPPORT_ZERO_COPY; server_buf false; io_buf_addr
 *    NULL (addr 0 in FETCH/COMMIT).
 *  - queue_init: io_uring_register_buffers_sparse(&q->ring, q->depth) so
 *    buffer index == tag.
 *  - submit_io, one hard-linked chain per request:
 *      1. kl_prep_io_cmd(UBLK_U_IO_REGISTER_IO_BUF, tag, 0, addr = tag),
 *         flags |= IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
 *      2. IORING_OP_READ_FIXED / WRITE_FIXED on KL_FIX_TGT, addr 0 (offset
 *         in the registered buffer), len kl_iod_bytes(iod),
 *         off start_sector << 9, buf_index tag, IOSQE_IO_HARDLINK;
 *      3. kl_prep_io_cmd(UBLK_U_IO_UNREGISTER_IO_BUF, tag, 0, addr = tag).
 *    All tagged kl_ud(tag, KL_UD_MODE, step); hard links make the
 *    unregister run even when the read/write fails or is short.
 *  - complete_io: keep the read/write result, return it once the
 *    unregister CQE is in (COMMIT must come after UNREGISTER or the
 *    request completes only when the buffer is dropped).
 *  - null target: register + unregister only, result kl_iod_bytes(iod).
 */
#include <errno.h>

#include "ublk_mode.h"

static const char *reg_zc_probe(__u64 features)
{
	if (!(features & UBLK_F_SUPPORT_ZERO_COPY))
		return "kernel lacks UBLK_F_SUPPORT_ZERO_COPY";
	return "kl-ublk: reg-zc mode not implemented yet (mode_reg_zc.c)";
}

static int reg_zc_submit_io(struct kl_queue *q, unsigned int tag,
			    const struct ublksrv_io_desc *iod)
{
	return -EOPNOTSUPP;
}

static int reg_zc_complete_io(struct kl_queue *q, unsigned int tag,
			      const struct ublksrv_io_desc *iod,
			      const struct io_uring_cqe *cqe)
{
	return -EOPNOTSUPP;
}

const struct kl_mode_ops kl_mode_reg_zc = {
	.name = "reg-zc",
	.dev_flags = UBLK_F_SUPPORT_ZERO_COPY,
	.probe = reg_zc_probe,
	.submit_io = reg_zc_submit_io,
	.complete_io = reg_zc_complete_io,
};
