// SPDX-License-Identifier: GPL-2.0
/*
 * region_reg_dereg rxe|siw: on a connection to this guest's own address,
 * REG of 1 MiB of anonymous memory completes with region id 1 once the
 * peer's kernel has it, pins the pages (VmPin grows by 1024 kB) and adds an
 * MR (`rdma resource show mr`); DEREG completes with 0 and gives both back;
 * a second DEREG of the id is -ENOENT. Refused with nothing pinned: no
 * access bits, unknown access bits, len 0, flags set (-EINVAL), and REG on
 * a file that is not connected (-ENOTCONN). A region still registered when
 * the file closes is unpinned by the close.
 */
#include "bzc_test.h"

#define LEN	(1 << 20)

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	unsigned char *buf = bzc_alloc(LEN);
	struct bzc_cmd_reg bad;
	struct io_uring ring;
	int l, a, k, u, mrs, id;
	long pin0;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw", argv[0]);
	bzc_link_add(prov);
	kl_ring_init(&ring, 8, BZC_RING);
	bzc_connect_self(&ring, &l, &a, &k);
	memset(buf, 0x5a, LEN);
	pin0 = bzc_vmpin_kb();
	mrs = bzc_rdma_res("mr");

	u = bzc_open();
	KL_EXPECT_EQ(bzc_reg(&ring, u, buf, LEN, BZC_ACCESS_REMOTE_WRITE), -ENOTCONN, "REG on an unbound file");
	KL_EXPECT_EQ(bzc_reg(&ring, a, buf, LEN, 0), -EINVAL, "REG with no access bits");
	KL_EXPECT_EQ(bzc_reg(&ring, a, buf, LEN, 4), -EINVAL, "REG with an unknown access bit");
	KL_EXPECT_EQ(bzc_reg(&ring, a, buf, 0, BZC_ACCESS_REMOTE_READ), -EINVAL, "REG of 0 bytes");
	bad = (struct bzc_cmd_reg){ .addr = (__u64)(uintptr_t)buf, .len = LEN, .access = 1, .flags = 1 };
	bzc_prep(&ring, a, BZC_U_CMD_REG, &bad, sizeof(bad));
	KL_EXPECT_EQ(bzc_run(&ring), -EINVAL, "REG with flags set");
	KL_EXPECT_EQ(bzc_vmpin_kb(), pin0, "VmPin after the refused REGs (kB)");

	id = bzc_reg(&ring, a, buf, LEN, BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE);
	KL_EXPECT_EQ(id, 1, "REG of 1 MiB: the connection's first region id");
	KL_EXPECT_EQ(bzc_vmpin_kb(), pin0 + LEN / 1024, "VmPin with the region registered (kB)");
	KL_EXPECT_EQ(bzc_rdma_res("mr"), mrs + 1, "MRs with the region registered");
	KL_EXPECT_EQ(bzc_dereg(&ring, a, id), 0, "DEREG");
	KL_EXPECT_EQ(bzc_vmpin_kb(), pin0, "VmPin after DEREG (kB)");
	KL_EXPECT_EQ(bzc_rdma_res("mr"), mrs, "MRs after DEREG");
	KL_EXPECT_EQ(bzc_dereg(&ring, a, id), -ENOENT, "DEREG of a region already gone");

	/* the peer side (k) registers too, and keeps it until its file closes */
	id = bzc_reg(&ring, k, buf, LEN, BZC_ACCESS_REMOTE_READ);
	KL_EXPECT_EQ(id, 1, "REG on the other end: its own first id");
	KL_EXPECT_EQ(bzc_vmpin_kb(), pin0 + LEN / 1024, "VmPin with the other end's region (kB)");
	io_uring_queue_exit(&ring);
	close(k);
	KL_EXPECT_EQ(bzc_vmpin_kb(), pin0, "VmPin after closing the file that held a region (kB)");
	close(a);
	close(l);
	close(u);
	KL_EXPECT_EQ(bzc_rdma_res("mr"), 0, "MRs after closing every file");
	bzc_link_delete(prov);
	kl_pass();
}
