/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uAPI numbers taken by kernel-lab's own patch sets (kernel-patches/<set>/README
 * lists the same numbers). Chosen to clash with neither Linux 6.12 nor later
 * upstream, so the sets stack and a newer upstream header never aliases them.
 * Tests include this after the tested kernel's headers: a patched kernel's
 * header wins, the fallbacks let the same program build (and SKIP) on the base.
 */
#ifndef KL_UAPI_H
#define KL_UAPI_H

#include <linux/io_uring.h>
#include <linux/ublk_cmd.h>

/* ---- fused: io_uring fused command (kernel-patches/fused) ---- */
#ifndef IORING_OP_FUSED_CMD
#define IORING_OP_FUSED_CMD		96	/* upstream uses up to 64 (2026) */
#endif
#ifndef IORING_SETUP_FUSED_REQ
#define IORING_SETUP_FUSED_REQ		(1U << 28)	/* upstream uses up to 1U << 20 */
#endif
#ifndef IORING_FEAT_FUSED_REQ
#define IORING_FEAT_FUSED_REQ		(1U << 28)	/* upstream uses up to 1U << 17 */
#endif
#ifndef IORING_FUSED_CMD_BUF
#define IORING_FUSED_CMD_BUF		(1U << 8)	/* sqe->uring_cmd_flags */
#endif
#ifndef UBLK_IO_FUSED_SUBMIT_IO
#define UBLK_IO_FUSED_SUBMIT_IO		0x30	/* upstream ublk io cmds: 0x20..0x27 */
#endif
#ifndef UBLK_U_IO_FUSED_SUBMIT_IO
#define UBLK_U_IO_FUSED_SUBMIT_IO	_IOWR('u', UBLK_IO_FUSED_SUBMIT_IO, struct ublksrv_io_cmd)
#endif
#ifndef UBLK_F_FUSED_ZERO_COPY
#define UBLK_F_FUSED_ZERO_COPY		(1ULL << 32)	/* upstream uses up to 1ULL << 19 */
#endif

/* ---- ublk-zc: kernel buffer registration, as upstream 6.15 (kernel-patches/ublk-zc) ---- */
#ifndef UBLK_U_IO_REGISTER_IO_BUF
#define UBLK_U_IO_REGISTER_IO_BUF	_IOWR('u', 0x23, struct ublksrv_io_cmd)
#endif
#ifndef UBLK_U_IO_UNREGISTER_IO_BUF
#define UBLK_U_IO_UNREGISTER_IO_BUF	_IOWR('u', 0x24, struct ublksrv_io_cmd)
#endif
#ifndef UBLK_F_AUTO_BUF_REG
#define UBLK_F_AUTO_BUF_REG		(1ULL << 11)	/* upstream number (6.16) */
#endif
#ifndef UBLK_AUTO_BUF_REG_FALLBACK
#define UBLK_AUTO_BUF_REG_FALLBACK	(1 << 0)
#endif
#ifndef UBLK_IO_F_NEED_REG_BUF
#define UBLK_IO_F_NEED_REG_BUF		(1U << 17)	/* upstream number (6.16) */
#endif
/* ->addr of FETCH / COMMIT_AND_FETCH with UBLK_F_AUTO_BUF_REG (struct ublk_auto_buf_reg) */
static inline __u64 kl_auto_buf_reg_addr(__u16 index, __u8 flags)
{
	return (__u64)index | (__u64)flags << 16;
}

/* ---- uring-bpf: completion-time BPF program (kernel-patches/uring-bpf) ---- */
#ifndef IORING_REGISTER_CQE_BPF
#define IORING_REGISTER_CQE_BPF		64	/* upstream register opcodes: up to 37 (2026) */
#endif
#ifndef IORING_UNREGISTER_CQE_BPF
#define IORING_UNREGISTER_CQE_BPF	65
#endif

#endif
