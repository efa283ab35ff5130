// SPDX-License-Identifier: GPL-2.0
/*
 * Control commands on /dev/ublk-control. They travel as IORING_OP_URING_CMD
 * with a struct ublksrv_ctrl_cmd in sqe->cmd; 32 bytes do not fit the 16
 * bytes of a 64-byte SQE, so the control ring is set up with SQE128.
 * The driver refuses nonblocking issue (-EAGAIN), so every command runs in
 * io-wq and blocking ones (START_DEV, END_USER_RECOVERY, DEL_DEV) simply
 * complete late: we wait with a timeout so a stuck kernel cannot hang us.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "kl_ublk.h"

#define KL_CTRL_DEV	"/dev/ublk-control"

int kl_ctrl_open(struct kl_ctrl *c)
{
	int ret;

	c->fd = open(KL_CTRL_DEV, O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	ret = io_uring_queue_init(4, &c->ring, IORING_SETUP_SQE128);
	if (ret) {
		close(c->fd);
		c->fd = -1;
	}
	return ret;
}

void kl_ctrl_close(struct kl_ctrl *c)
{
	if (c->fd < 0)
		return;
	io_uring_queue_exit(&c->ring);
	close(c->fd);
	c->fd = -1;
}

/*
 * Issue one control command and wait for it. @timeout_ms < 0 waits forever.
 * Returns cqe->res, or -ETIMEDOUT (the command then stays queued in the
 * kernel until it completes or this process exits).
 */
static int kl_ctrl_cmd(struct kl_ctrl *c, __u32 op, int dev_id, void *buf,
		       __u16 len, __u64 data0, int timeout_ms)
{
	struct ublksrv_ctrl_cmd *cmd;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	sqe = io_uring_get_sqe(&c->ring);
	if (!sqe)
		return -EBUSY;
	/* an SQE128 slot: clear both halves, cmd lives in the second */
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = c->fd;
	sqe->cmd_op = op;
	cmd = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	cmd->dev_id = dev_id;
	cmd->queue_id = (__u16)-1;
	cmd->addr = (__u64)(unsigned long)buf;
	cmd->len = len;
	cmd->data[0] = data0;

	ret = io_uring_submit(&c->ring);
	if (ret < 0)
		return ret;
	if (timeout_ms < 0) {
		ret = io_uring_wait_cqe(&c->ring, &cqe);
	} else {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ms / 1000,
			.tv_nsec = (timeout_ms % 1000) * 1000000LL,
		};

		ret = io_uring_wait_cqe_timeout(&c->ring, &cqe, &ts);
		if (ret == -ETIME)
			return -ETIMEDOUT;
	}
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&c->ring, cqe);
	return ret;
}

#define KL_CTRL_TIMEOUT_MS 10000

int kl_ctrl_get_features(struct kl_ctrl *c, __u64 *features)
{
	return kl_ctrl_cmd(c, UBLK_U_CMD_GET_FEATURES, -1, features,
			   UBLK_FEATURES_LEN, 0, KL_CTRL_TIMEOUT_MS);
}

int kl_ctrl_add_dev(struct kl_ctrl *c, struct ublksrv_ctrl_dev_info *info)
{
	return kl_ctrl_cmd(c, UBLK_U_CMD_ADD_DEV, info->dev_id, info,
			   sizeof(*info), 0, KL_CTRL_TIMEOUT_MS);
}

int kl_ctrl_set_params(struct kl_ctrl *c, int dev_id, struct ublk_params *p)
{
	p->len = sizeof(*p);
	return kl_ctrl_cmd(c, UBLK_U_CMD_SET_PARAMS, dev_id, p, sizeof(*p), 0,
			   KL_CTRL_TIMEOUT_MS);
}

int kl_ctrl_get_params(struct kl_ctrl *c, int dev_id, struct ublk_params *p)
{
	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	return kl_ctrl_cmd(c, UBLK_U_CMD_GET_PARAMS, dev_id, p, sizeof(*p), 0,
			   KL_CTRL_TIMEOUT_MS);
}

int kl_ctrl_get_info(struct kl_ctrl *c, int dev_id,
		     struct ublksrv_ctrl_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	return kl_ctrl_cmd(c, UBLK_U_CMD_GET_DEV_INFO, dev_id, info,
			   sizeof(*info), 0, KL_CTRL_TIMEOUT_MS);
}

/* Blocks in the kernel until every queue has FETCHed every tag. */
int kl_ctrl_start_dev(struct kl_ctrl *c, int dev_id, int pid, int timeout_ms)
{
	return kl_ctrl_cmd(c, UBLK_U_CMD_START_DEV, dev_id, NULL, 0, pid,
			   timeout_ms);
}

int kl_ctrl_stop_dev(struct kl_ctrl *c, int dev_id)
{
	return kl_ctrl_cmd(c, UBLK_U_CMD_STOP_DEV, dev_id, NULL, 0, 0,
			   KL_CTRL_TIMEOUT_MS);
}

/*
 * DEL_DEV waits until the device number is released, i.e. until the server
 * has closed /dev/ublkcN; DEL_DEV_ASYNC does not (used by a server deleting
 * its own device while still holding the char device open).
 */
int kl_ctrl_del_dev(struct kl_ctrl *c, int dev_id, bool wait, int timeout_ms)
{
	return kl_ctrl_cmd(c, wait ? UBLK_U_CMD_DEL_DEV : UBLK_U_CMD_DEL_DEV_ASYNC,
			   dev_id, NULL, 0, 0, timeout_ms);
}

int kl_ctrl_start_recovery(struct kl_ctrl *c, int dev_id)
{
	return kl_ctrl_cmd(c, UBLK_U_CMD_START_USER_RECOVERY, dev_id, NULL, 0, 0,
			   KL_CTRL_TIMEOUT_MS);
}

/* Blocks until the new server has FETCHed every tag of every queue. */
int kl_ctrl_end_recovery(struct kl_ctrl *c, int dev_id, int pid, int timeout_ms)
{
	return kl_ctrl_cmd(c, UBLK_U_CMD_END_USER_RECOVERY, dev_id, NULL, 0, pid,
			   timeout_ms);
}

const char *kl_state_name(int state)
{
	switch (state) {
	case UBLK_S_DEV_DEAD:
		return "DEAD";
	case UBLK_S_DEV_LIVE:
		return "LIVE";
	case UBLK_S_DEV_QUIESCED:
		return "QUIESCED";
	default:
		return "UNKNOWN";
	}
}
