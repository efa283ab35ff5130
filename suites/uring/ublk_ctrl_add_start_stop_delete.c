// SPDX-License-Identifier: GPL-2.0
/*
 * ublk control through uring_cmd: ADD_DEV, SET_PARAMS, a null server thread that
 * fetches and serves requests, START_DEV (completes once every tag is fetched and the
 * partition scan is served), the block device appears, STOP_DEV aborts the fetches,
 * DEL_DEV removes the device.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "kl_ublk.h"

#define DEPTH 4
#define BUFSZ 65536

static struct ublksrv_ctrl_dev_info info;
static int aborted, served;

static void queue_io_cmd(struct io_uring *ring, int cdev, __u32 op, int tag, int result, void *buf)
{
	struct io_uring_sqe *sqe = kl_sqe(ring);
	struct ublksrv_io_cmd *cmd = (struct ublksrv_io_cmd *)sqe->cmd;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = cdev;
	sqe->cmd_op = op;
	sqe->user_data = tag;
	cmd->q_id = 0;
	cmd->tag = tag;
	cmd->result = result;
	cmd->addr = (__u64)(uintptr_t)buf;
}

/*
 * A null target: START_DEV scans partitions, so the server must serve IO (reads return
 * zeros, writes are dropped) until STOP_DEV aborts every fetch.
 */
static void *server(void *arg)
{
	static char bufs[DEPTH][BUFSZ];
	const struct ublksrv_io_desc *iods;
	size_t iod_len = (DEPTH * sizeof(*iods) + 4095) & ~4095UL;
	struct io_uring ring;
	char path[64];
	int cdev = -1, ret;

	snprintf(path, sizeof(path), "/dev/ublkc%u", info.dev_id);
	for (int i = 0; i < 100 && (cdev = open(path, O_RDWR)) < 0; i++)
		usleep(10000);
	if (cdev < 0)
		kl_fail("open %s: %s", path, strerror(errno));
	iods = mmap(NULL, iod_len, PROT_READ, MAP_SHARED | MAP_POPULATE, cdev, UBLKSRV_CMD_BUF_OFFSET);
	if (iods == MAP_FAILED)
		kl_fail("mmap of the IO descriptors: %s", strerror(errno));
	ret = io_uring_queue_init(DEPTH * 2, &ring, 0);
	if (ret < 0)
		kl_fail("server ring: %s", strerror(-ret));
	for (int tag = 0; tag < DEPTH; tag++)
		queue_io_cmd(&ring, cdev, UBLK_U_IO_FETCH_REQ, tag, 0, bufs[tag]);
	io_uring_submit(&ring);
	while (aborted < DEPTH) {
		struct kl_cqe cqe = kl_wait(&ring);
		int tag = (int)cqe.user_data;

		if (cqe.res == UBLK_IO_RES_ABORT) {
			aborted++;
			continue;
		}
		if (cqe.res != UBLK_IO_RES_OK)
			kl_fail("tag %d: want UBLK_IO_RES_OK or ABORT, got %d", tag, cqe.res);
		served++;
		memset(bufs[tag], 0, sizeof(bufs[tag]));
		queue_io_cmd(&ring, cdev, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag,
			     iods[tag].nr_sectors << 9, bufs[tag]);
		io_uring_submit(&ring);
	}
	io_uring_queue_exit(&ring);
	munmap((void *)iods, iod_len);
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
	kl_info("served %d requests (partition scan) before STOP_DEV", served);

	ret = kl_ublk_ctrl_cmd(&c, UBLK_U_CMD_DEL_DEV, info.dev_id, NULL, 0, 0);
	KL_EXPECT_EQ(ret, 0, "DEL_DEV");
	KL_ASSERT(stat(bdev, &st) != 0, "%s still exists after DEL_DEV", bdev);
	kl_pass();
}
