// SPDX-License-Identifier: GPL-2.0
/*
 * fused-zc: zero copy through the lab's io_uring fused command
 * (kernel-patches/fused). STUB: only the probe is real.
 *
 * Intended data path, for whoever fills this in:
 *  - dev_flags UBLK_F_FUSED_ZERO_COPY; ring_flags IORING_SETUP_FUSED_REQ
 *    (and SQE128 if the fused pair travels in one 128-byte SQE);
 *    server_buf false, io_buf_addr NULL (FETCH/COMMIT carry addr 0).
 *  - submit_io: a primary IORING_OP_FUSED_CMD on KL_FIX_CDEV with cmd_op
 *    UBLK_U_IO_FUSED_SUBMIT_IO and {q_id, tag} (kl_prep_io_cmd() fills the
 *    ublksrv_io_cmd; then set the opcode/flags the fused patch wants, e.g.
 *    IORING_FUSED_CMD_BUF in uring_cmd_flags), followed by the secondary
 *    IORING_OP_READ/WRITE on KL_FIX_TGT (kl_prep_tgt_rw() with buf = byte
 *    offset inside the request buffer, normally 0) that uses the primary's
 *    buffer. Tag both kl_ud(tag, KL_UD_MODE, sub), set io->inflight to the
 *    number of CQEs expected, return -EINPROGRESS.
 *  - complete_io: record the secondary's result (short read: zero-fill is
 *    the kernel's job or resubmit the rest), return it once the primary's
 *    CQE (which comes last) is in.
 *  - null target: nothing to read or write; return kl_iod_bytes(iod), or
 *    issue the fused pair against /dev/null to exercise the path.
 */
#include <errno.h>

#include "ublk_mode.h"

static const char *fused_zc_probe(__u64 features)
{
	if (!(features & UBLK_F_FUSED_ZERO_COPY))
		return "kernel lacks UBLK_F_FUSED_ZERO_COPY";
	return "kl-ublk: fused-zc mode not implemented yet (mode_fused_zc.c)";
}

static int fused_zc_submit_io(struct kl_queue *q, unsigned int tag,
			      const struct ublksrv_io_desc *iod)
{
	return -EOPNOTSUPP;
}

static int fused_zc_complete_io(struct kl_queue *q, unsigned int tag,
				const struct ublksrv_io_desc *iod,
				const struct io_uring_cqe *cqe)
{
	return -EOPNOTSUPP;
}

const struct kl_mode_ops kl_mode_fused_zc = {
	.name = "fused-zc",
	.dev_flags = UBLK_F_FUSED_ZERO_COPY,
	.probe = fused_zc_probe,
	.submit_io = fused_zc_submit_io,
	.complete_io = fused_zc_complete_io,
};
