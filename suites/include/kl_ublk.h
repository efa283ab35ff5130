/* SPDX-License-Identifier: GPL-2.0 */
/* Minimal ublk control over io_uring (SQE128 ring on /dev/ublk-control). */
#ifndef KL_UBLK_H
#define KL_UBLK_H

#include <linux/ublk_cmd.h>
#include "kl_uring.h"

struct kl_ublk_ctrl {
	struct io_uring ring;
	int fd;
};

static inline void kl_ublk_ctrl_open(struct kl_ublk_ctrl *c)
{
	int ret;

	c->fd = open("/dev/ublk-control", O_RDWR);
	if (c->fd < 0)
		kl_skip("/dev/ublk-control: %s", strerror(errno));
	ret = io_uring_queue_init(4, &c->ring, IORING_SETUP_SQE128);
	if (ret < 0)
		kl_fail("control ring (SQE128): %s", strerror(-ret));
}

/* kl_ublk_ctrl_open() for a caller that decides itself: 0 or -errno (c->fd -1). */
static inline int kl_ublk_ctrl_try_open(struct kl_ublk_ctrl *c)
{
	int ret;

	c->fd = open("/dev/ublk-control", O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	ret = io_uring_queue_init(4, &c->ring, IORING_SETUP_SQE128);
	if (ret < 0) {
		close(c->fd);
		c->fd = -1;
	}
	return ret;
}

/* A control command in an SQE128 slot (both halves cleared). */
static inline void kl_ublk_ctrl_prep(struct kl_ublk_ctrl *c, struct io_uring_sqe *sqe, __u32 op,
				     __u32 dev_id, void *buf, __u16 len, __u64 data)
{
	struct ublksrv_ctrl_cmd *cmd = (struct ublksrv_ctrl_cmd *)sqe->cmd;

	memset(sqe, 0, 128);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = c->fd;
	sqe->cmd_op = op;
	cmd->dev_id = dev_id;
	cmd->queue_id = (__u16)-1;
	cmd->addr = (__u64)(uintptr_t)buf;
	cmd->len = len;
	cmd->data[0] = data;
}

/* Issue one control command; returns the CQE result. */
static inline int kl_ublk_ctrl_cmd(struct kl_ublk_ctrl *c, __u32 op, __u32 dev_id,
				   void *buf, __u16 len, __u64 data)
{
	kl_ublk_ctrl_prep(c, kl_sqe(&c->ring), op, dev_id, buf, len, data);
	io_uring_submit(&c->ring);
	return kl_wait(&c->ring).res;
}

/* Submit one control command without waiting: 0 or -errno. */
static inline int kl_ublk_ctrl_submit(struct kl_ublk_ctrl *c, __u32 op, __u32 dev_id,
				      void *buf, __u16 len, __u64 data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	int ret;

	if (!sqe)
		return -EBUSY;
	kl_ublk_ctrl_prep(c, sqe, op, dev_id, buf, len, data);
	ret = io_uring_submit(&c->ring);
	return ret < 0 ? ret : 0;
}

/*
 * One control command, waited for at most @ms: its result, or -ETIME (the
 * caller treats that as final: a late CQE would answer the next command).
 */
static inline int kl_ublk_ctrl_cmd_timeout(struct kl_ublk_ctrl *c, __u32 op, __u32 dev_id,
					   void *buf, __u16 len, __u64 data, int ms)
{
	struct kl_cqe cqe;
	int ret = kl_ublk_ctrl_submit(c, op, dev_id, buf, len, data);

	if (!ret)
		ret = kl_wait_timeout(&c->ring, ms, &cqe);
	return ret ? ret : cqe.res;
}

#endif
