// SPDX-License-Identifier: GPL-2.0
/*
 * write_read_verified rxe|siw: one guest, a connection to its own address.
 * The accepting end registers 16 MiB + 8 KiB, which takes more than one
 * fast-registration MR: the provider maps at most 512 pages in one on
 * rxe, 256 on siw, so the guest's MRs grow by 9 or 17 with the REG (the
 * table of their keys, which the peer's kernel reads, is gone once REG
 * completes), and WRITEs and READs cross MR boundaries. The connecting
 * end WRITEs and READs 1 B, 4 KiB, 4 KiB + 1, 64 KiB, 1 MiB + 3 and 16 MiB, from
 * buffers at unaligned addresses to unaligned offsets, each completing with
 * its length; every byte is checked on the other side (nothing else
 * around the range is touched). Then queue depths 8 and 32: that many
 * 64 KiB WRITEs in flight at once to distinct offsets, every CQE with its
 * length and the data checked, then as many READs back.
 *
 * The owner looks at what was written after DEREG of the region: a
 * WRITE's completion means placed at the peer on InfiniBand and RoCE, but
 * only handed to the transport on iWARP (siw); the peer's answer to the
 * revoke travels behind its writes, so once DEREG completes every
 * completed WRITE is in memory, on every transport. A REG then gives the
 * region back (id 1 again: ids are reused lowest first).
 */
#include "bzc_test.h"

#define REGION	((16 << 20) + 8192)
#define BIG	(16 << 20)

static unsigned char *region, *local;

static struct io_uring ring;
static int af, kf;

/* DEREG and REG again: after this the owner sees every completed WRITE. */
static void settle(void)
{
	KL_EXPECT_EQ(bzc_dereg(&ring, af, 1), 0, "DEREG before looking at the region");
	KL_EXPECT_EQ(bzc_reg(&ring, af, region, REGION, BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE), 1,
		     "REG of the region again");
}

static void one(__u32 len, __u32 off, unsigned int lofs, unsigned int seed)
{
	long long bad;

	/* WRITE: local pattern seed lands at region + off, the bytes around it stay 0 */
	memset(region, 0, REGION);
	bzc_fill(local + lofs, len, seed);
	KL_EXPECT_EQ(bzc_rw(&ring, kf, BZC_U_CMD_WRITE, local + lofs, off, len, 1), len, "WRITE");
	settle();
	bad = bzc_check(region + off, len, seed);
	KL_ASSERT(bad < 0, "WRITE of %u bytes to offset %u: byte %lld differs", len, off, bad);
	KL_ASSERT((!off || region[off - 1] == 0) && (off + len == REGION || region[off + len] == 0),
		  "WRITE of %u bytes to offset %u touched a byte around the range", len, off);

	/* READ: region pattern seed + 1 lands at local + lofs */
	bzc_fill(region + off, len, seed + 1);
	memset(local, 0, BIG + 4096);
	KL_EXPECT_EQ(bzc_rw(&ring, kf, BZC_U_CMD_READ, local + lofs, off, len, 1), len, "READ");
	bad = bzc_check(local + lofs, len, seed + 1);
	KL_ASSERT(bad < 0, "READ of %u bytes from offset %u: byte %lld differs", len, off, bad);
	KL_ASSERT((!lofs || local[lofs - 1] == 0) && local[lofs + len] == 0,
		  "READ of %u bytes touched a local byte around the buffer", len);
}

static void depth(int qd)
{
	const __u32 len = 64 << 10;
	int got[32] = { 0 };

	memset(region, 0, REGION);
	for (int i = 0; i < qd; i++) {
		bzc_fill(local + i * len, len, 100 + i);
		bzc_prep_rw(&ring, kf, BZC_U_CMD_WRITE, local + i * len, (__u64)i * len, len, 1, i);
	}
	KL_EXPECT_EQ(io_uring_submit(&ring), qd, "submit the WRITEs");
	for (int i = 0; i < qd; i++) {
		struct kl_cqe c = bzc_wait(&ring, "WRITE at depth");

		KL_ASSERT(c.user_data < (__u64)qd && !got[c.user_data]++, "unexpected CQE user_data %llu",
			  (unsigned long long)c.user_data);
		KL_EXPECT_EQ(c.res, len, "a WRITE at depth");
	}
	settle();
	for (int i = 0; i < qd; i++) {
		long long bad = bzc_check(region + i * len, len, 100 + i);

		KL_ASSERT(bad < 0, "depth %d: WRITE %d: byte %lld differs", qd, i, bad);
	}
	memset(local, 0, (size_t)qd * len);
	for (int i = 0; i < qd; i++)
		bzc_prep_rw(&ring, kf, BZC_U_CMD_READ, local + i * len, (__u64)i * len, len, 1, i);
	KL_EXPECT_EQ(io_uring_submit(&ring), qd, "submit the READs");
	for (int i = 0; i < qd; i++)
		KL_EXPECT_EQ(bzc_wait(&ring, "READ at depth").res, len, "a READ at depth");
	KL_ASSERT(!memcmp(local, region, (size_t)qd * len), "depth %d: what the READs brought back differs", qd);
	kl_info("depth %d: %d WRITEs and %d READs of 64 KiB verified", qd, qd, qd);
}

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	static const __u32 lens[] = { 1, 4096, 4097, 65536, (1 << 20) + 3, BIG };
	int l, mrs, per, pages;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw", argv[0]);
	bzc_link_add(prov);
	kl_ring_init(&ring, 64, BZC_RING);
	bzc_connect_self(&ring, &l, &af, &kf);
	region = bzc_alloc(REGION);
	local = bzc_alloc(BIG + 8192);
	mrs = bzc_rdma_res("mr");
	KL_EXPECT_EQ(bzc_reg(&ring, af, region, REGION, BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE), 1,
		     "REG of the accepting end's region");
	per = !strcmp(prov, "rxe") ? 512 : 256;
	pages = ((uintptr_t)region % 4096 + REGION + 4095) / 4096;
	KL_EXPECT_EQ(bzc_rdma_res("mr") - mrs, (pages + per - 1) / per,
		     "MRs the REG of 16 MiB + 8 KiB added (pages / MR pages, rounded up)");
	kl_info("%s: the region of %d pages is %d fast-registration MRs", prov, pages, (pages + per - 1) / per);

	for (unsigned int i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		__u32 off = lens[i] == BIG ? 4093 : 4093 * (i + 1);

		one(lens[i], off, 3 + i, i);
		kl_info("%s: %u bytes written and read back at offset %u, local offset %u", prov, lens[i], off, 3 + i);
	}
	depth(8);
	depth(32);

	KL_EXPECT_EQ(bzc_dereg(&ring, af, 1), 0, "DEREG");
	KL_EXPECT_EQ(bzc_rw(&ring, kf, BZC_U_CMD_WRITE, local, 0, 1, 1), -ENOENT, "WRITE to the revoked region");
	io_uring_queue_exit(&ring);
	close(kf);
	close(af);
	close(l);
	KL_EXPECT_EQ(bzc_rdma_res("mr"), 0, "MRs after closing every file");
	bzc_link_delete(prov);
	kl_pass();
}
