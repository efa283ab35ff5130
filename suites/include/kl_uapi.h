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

/* ---- rdma-bzc: bulk zero-copy RDMA transport on /dev/bzc (kernel-patches/rdma-bzc) ---- */
#if __has_include(<rdma/bzc_user.h>)
#include <rdma/bzc_user.h>
#else
#include <linux/ioctl.h>
#include <rdma/rdma_user_ioctl_cmds.h>	/* RDMA_IOCTL_MAGIC 0x1b */
#define BZC_ABI_VERSION		0
#define BZC_CMD_BASE		0x40	/* nr 0x40..0x4f of type 0x1b: no other RDMA uAPI uses them */
struct bzc_addr {
	__u16 family;
	__be16 port;
	__u32 scope_id;
	__u8 addr[16];
};
struct bzc_query {
	__u32 abi_version;
	__u32 num_devices;
	__u64 resv[3];
};
struct bzc_cmd_query {
	__u64 out_ptr;
	__u32 out_len;
	__u32 flags;
};
struct bzc_cmd_listen {
	struct bzc_addr addr;
	__u32 backlog;
	__u32 flags;
};
struct bzc_cmd_accept {
	__s32 listen_fd;
	__u32 flags;
	__u64 resv;
};
struct bzc_cmd_connect {
	struct bzc_addr dst;
	__u32 timeout_ms;
	__u32 flags;
	__u64 resv;
};
struct bzc_cmd_disconnect {
	__u32 flags;
	__u32 resv;
};
#define BZC_U_CMD_QUERY		_IOWR(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0x0, struct bzc_cmd_query)
#define BZC_U_CMD_LISTEN	_IOW(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0x1, struct bzc_cmd_listen)
#define BZC_U_CMD_ACCEPT	_IOW(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0x2, struct bzc_cmd_accept)
#define BZC_U_CMD_CONNECT	_IOW(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0x3, struct bzc_cmd_connect)
#define BZC_ACCESS_REMOTE_READ	(1U << 0)
#define BZC_ACCESS_REMOTE_WRITE	(1U << 1)
struct bzc_cmd_reg {
	__u64 addr;
	__u64 len;
	__u32 access;
	__u32 flags;
};
struct bzc_cmd_dereg {
	__u32 region;
	__u32 flags;
};
#define BZC_RW_NOTIFY		(1U << 0)
struct bzc_cmd_rw {
	__u64 addr;
	__u64 remote_off;
	__u32 len;
	__u32 region;
	__u32 flags;
	__u32 notify;
};
enum bzc_event_type {
	BZC_EVENT_NOTIFY = 1,
	BZC_EVENT_DISCONNECTED = 2,
};
#define BZC_EVENT_WINDOW	64
struct bzc_cmd_event {
	__u32 flags;
	__u32 resv;
};
#define BZC_U_CMD_DISCONNECT	_IOW(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0x4, struct bzc_cmd_disconnect)
#define BZC_U_CMD_REG		_IOW(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0x5, struct bzc_cmd_reg)
#define BZC_U_CMD_DEREG		_IOW(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0x6, struct bzc_cmd_dereg)
#define BZC_U_CMD_WRITE		_IOW(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0x7, struct bzc_cmd_rw)
#define BZC_U_CMD_READ		_IOW(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0x8, struct bzc_cmd_rw)
#define BZC_U_CMD_EVENT		_IOW(RDMA_IOCTL_MAGIC, BZC_CMD_BASE + 0x9, struct bzc_cmd_event)
#endif
_Static_assert(BZC_U_CMD_QUERY == 0xc0101b40, "rdma-bzc QUERY cmd_op is _IOWR(0x1b, 0x40, 16 bytes)");
_Static_assert(sizeof(struct bzc_query) == 32, "struct bzc_query is 32 bytes");
_Static_assert(BZC_U_CMD_LISTEN == 0x40201b41, "rdma-bzc LISTEN is _IOW(0x1b, 0x41, 32 bytes)");
_Static_assert(BZC_U_CMD_ACCEPT == 0x40101b42, "rdma-bzc ACCEPT is _IOW(0x1b, 0x42, 16 bytes)");
_Static_assert(BZC_U_CMD_CONNECT == 0x40281b43, "rdma-bzc CONNECT is _IOW(0x1b, 0x43, 40 bytes)");
_Static_assert(BZC_U_CMD_DISCONNECT == 0x40081b44, "rdma-bzc DISCONNECT is _IOW(0x1b, 0x44, 8 bytes)");
_Static_assert(BZC_U_CMD_REG == 0x40181b45, "rdma-bzc REG is _IOW(0x1b, 0x45, 24 bytes)");
_Static_assert(BZC_U_CMD_DEREG == 0x40081b46, "rdma-bzc DEREG is _IOW(0x1b, 0x46, 8 bytes)");
_Static_assert(BZC_U_CMD_WRITE == 0x40201b47, "rdma-bzc WRITE is _IOW(0x1b, 0x47, 32 bytes)");
_Static_assert(BZC_U_CMD_READ == 0x40201b48, "rdma-bzc READ is _IOW(0x1b, 0x48, 32 bytes)");
_Static_assert(BZC_ACCESS_REMOTE_READ == 1 && BZC_ACCESS_REMOTE_WRITE == 2, "rdma-bzc region access bits");
_Static_assert(BZC_U_CMD_EVENT == 0x40081b49, "rdma-bzc EVENT is _IOW(0x1b, 0x49, 8 bytes)");
_Static_assert(BZC_RW_NOTIFY == 1 && BZC_EVENT_NOTIFY == 1 && BZC_EVENT_DISCONNECTED == 2 &&
	       BZC_EVENT_WINDOW == 64, "rdma-bzc NOTIFY flag, event types and window");

#endif
