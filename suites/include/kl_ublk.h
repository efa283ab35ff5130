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

/* Issue one control command; returns the CQE result. */
static inline int kl_ublk_ctrl_cmd(struct kl_ublk_ctrl *c, __u32 op, __u32 dev_id,
				   void *buf, __u16 len, __u64 data)
{
	struct io_uring_sqe *sqe = kl_sqe(&c->ring);
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
	io_uring_submit(&c->ring);
	return kl_wait(&c->ring).res;
}

#endif
