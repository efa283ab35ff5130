// SPDX-License-Identifier: GPL-2.0
/*
 * The ULP's ib_client sees RDMA devices come and go: QUERY's num_devices goes
 * up by one when a soft RDMA provider (rxe, then siw) is attached to eth0 and
 * back down when its link is deleted.
 */
#include "bzc_test.h"

static struct io_uring ring;
static int fd;

static unsigned int devices(void)
{
	struct bzc_query q;

	KL_EXPECT_EQ(bzc_query(&ring, fd, &q, sizeof(q)), (int)sizeof(q), "QUERY");
	return q.num_devices;
}

static void sh(const char *cmd)
{
	int ret = system(cmd);

	KL_ASSERT(ret == 0, "'%s' failed (status %d)", cmd, ret);
}

int main(void)
{
	unsigned int before;

	fd = bzc_open();
	kl_ring_init(&ring, 4, BZC_RING);
	before = devices();
	KL_EXPECT_EQ(before, 0, "RDMA devices before any provider is attached");

	sh("rdma link add kl_rxe0 type rxe netdev eth0");
	KL_EXPECT_EQ(devices(), before + 1, "devices with rxe on eth0");
	sh("rdma link add kl_siw0 type siw netdev eth0");
	KL_EXPECT_EQ(devices(), before + 2, "devices with rxe and siw on eth0");
	sh("rdma link delete kl_rxe0");
	KL_EXPECT_EQ(devices(), before + 1, "devices after deleting rxe");
	sh("rdma link delete kl_siw0");
	KL_EXPECT_EQ(devices(), before, "devices after deleting siw");

	io_uring_queue_exit(&ring);
	close(fd);
	kl_pass();
}
