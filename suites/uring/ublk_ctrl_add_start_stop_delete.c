// SPDX-License-Identifier: GPL-2.0
/*
 * ublk control through uring_cmd: ADD_DEV, SET_PARAMS, a trivial server thread that
 * fetches requests, START_DEV (completes once every tag is fetched), the block device
 * appears, STOP_DEV aborts the fetches, DEL_DEV removes the device.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "kl_ublk.h"

#define DEPTH 4
#define BUFSZ 65536

static struct ublksrv_ctrl_dev_info info;
static int aborted;

static void *server(void *arg)
{
	static char bufs[DEPTH][BUFSZ];
	struct io_uring ring;
	char path[64];
	int cdev, ret;

	snprintf(path, sizeof(path), "/dev/ublkc%u", info.dev_id);
	for (int i = 0; i < 100 && (cdev = open(path, O_RDWR)) < 0; i++)
		usleep(10000);
	if (cdev < 0)
		kl_fail("open %s: %s", path, strerror(errno));
	ret = io_uring_queue_init(DEPTH * 2, &ring, 0);
	if (ret < 0)
		kl_fail("server ring: %s", strerror(-ret));
	for (int tag = 0; tag < DEPTH; tag++) {
		struct io_uring_sqe *sqe = kl_sqe(&ring);
		struct ublksrv_io_cmd *cmd = (struct ublksrv_io_cmd *)sqe->cmd;

		memset(sqe, 0, sizeof(*sqe));
		sqe->opcode = IORING_OP_URING_CMD;
		sqe->fd = cdev;
		sqe->cmd_op = UBLK_U_IO_FETCH_REQ;
		sqe->user_data = tag;
		cmd->q_id = 0;
		cmd->tag = tag;
		cmd->addr = (__u64)(uintptr_t)bufs[tag];
	}
	io_uring_submit(&ring);
	/* No IO is sent to the device: every fetch ends when the device stops. */
	for (int i = 0; i < DEPTH; i++) {
		struct io_uring_cqe cqe = kl_wait(&ring);

		if (cqe.res == UBLK_IO_RES_ABORT)
			__atomic_add_fetch(&aborted, 1, __ATOMIC_SEQ_CST);
		else
			kl_info("tag %llu: unexpected result %d", (unsigned long long)cqe.user_data, cqe.res);
	}
	io_uring_queue_exit(&ring);
	close(cdev);
	return NULL;
}

int main(void)
{
	struct kl_ublk_ctrl c;
	struct ublk_params p = { 0 };
	char bdev[64];
	struct stat st;
	pthread_t th;
	int ret;

	kl_ublk_ctrl_open(&c);
	info.nr_hw_queues = 1;
	info.queue_depth = DEPTH;
	info.max_io_buf_bytes = BUFSZ;
	info.dev_id = (__u32)-1;
	info.ublksrv_pid = getpid();
	ret = kl_ublk_ctrl_cmd(&c, UBLK_U_CMD_ADD_DEV, (__u32)-1, &info, sizeof(info), 0);
	KL_EXPECT_EQ(ret, 0, "ADD_DEV");
	kl_info("added ublk device %u", info.dev_id);

	p.len = sizeof(p);
	p.types = UBLK_PARAM_TYPE_BASIC;
	p.basic.logical_bs_shift = 9;
	p.basic.physical_bs_shift = 12;
	p.basic.io_min_shift = 9;
	p.basic.io_opt_shift = 12;
	p.basic.max_sectors = BUFSZ >> 9;
	p.basic.dev_sectors = 2048;
	ret = kl_ublk_ctrl_cmd(&c, UBLK_U_CMD_SET_PARAMS, info.dev_id, &p, sizeof(p), 0);
	KL_EXPECT_EQ(ret, 0, "SET_PARAMS");

	pthread_create(&th, NULL, server, NULL);
	ret = kl_ublk_ctrl_cmd(&c, UBLK_U_CMD_START_DEV, info.dev_id, NULL, 0, getpid());
	KL_EXPECT_EQ(ret, 0, "START_DEV");
	snprintf(bdev, sizeof(bdev), "/dev/ublkb%u", info.dev_id);
	KL_ASSERT(stat(bdev, &st) == 0 && S_ISBLK(st.st_mode), "want block device %s after START_DEV, got %s",
		  bdev, strerror(errno));

	ret = kl_ublk_ctrl_cmd(&c, UBLK_U_CMD_STOP_DEV, info.dev_id, NULL, 0, 0);
	KL_EXPECT_EQ(ret, 0, "STOP_DEV");
	pthread_join(th, NULL);
	KL_EXPECT_EQ(aborted, DEPTH, "fetches ended with UBLK_IO_RES_ABORT");

	ret = kl_ublk_ctrl_cmd(&c, UBLK_U_CMD_DEL_DEV, info.dev_id, NULL, 0, 0);
	KL_EXPECT_EQ(ret, 0, "DEL_DEV");
	KL_ASSERT(stat(bdev, &st) != 0, "%s still exists after DEL_DEV", bdev);
	kl_pass();
}
