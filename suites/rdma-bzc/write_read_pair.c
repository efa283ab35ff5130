// SPDX-License-Identifier: GPL-2.0
/*
 * write_read_pair rxe|siw: two guests on one link. b accepts a's connection
 * and registers 4 MiB holding pattern 1 (region id 1); a READs all of it
 * and finds pattern 1, then WRITEs 1 MiB + 5 bytes of pattern 2 at offset
 * 4093. b DEREGs the region, and then finds pattern 2 there and pattern 1
 * still in the bytes before and after it (on iWARP a completed WRITE is
 * only known to be placed once the peer's answer to the revoke, which
 * travels behind it, has arrived). a's next WRITE to the region is refused
 * with -ENOENT, and b keeps the connection up until a has seen that (b's
 * close would otherwise race a's WRITE, which then finds the connection
 * gone: -ENOTCONN). Both sides compute the patterns: the data crossed the
 * link.
 */
#include "bzc_test.h"

#define LEN	(4 << 20)
#define OFF	4093
#define WLEN	((1 << 20) + 5)

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	unsigned char *buf = bzc_alloc(LEN);
	struct io_uring ring;
	long long bad;
	int l, f, is_b;

	l = bzc_pair_connect(prov, &ring, &f, &is_b);
	if (is_b) {
		bzc_fill(buf, LEN, 1);
		KL_EXPECT_EQ(bzc_reg(&ring, f, buf, LEN, BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE), 1,
			     "b: REG of 4 MiB");
		bzc_barrier("registered");
		bzc_barrier("written");
		KL_EXPECT_EQ(bzc_dereg(&ring, f, 1), 0, "b: DEREG");
		bad = bzc_check(buf + OFF, WLEN, 2);
		KL_ASSERT(bad < 0, "b: a's WRITE: byte %lld of %d differs", bad, WLEN);
		KL_ASSERT(bzc_check(buf, OFF, 1) < 0, "b: the bytes before a's WRITE changed");
		for (size_t i = OFF + WLEN; i < LEN; i++)
			KL_ASSERT(buf[i] == bzc_byte(1, i), "b: byte %zu after a's WRITE changed", i);
		bzc_barrier("revoked");
		bzc_barrier("refused");
	} else {
		bzc_barrier("registered");
		KL_EXPECT_EQ(bzc_rw(&ring, f, BZC_U_CMD_READ, buf, 0, LEN, 1), LEN, "a: READ of b's 4 MiB");
		bad = bzc_check(buf, LEN, 1);
		KL_ASSERT(bad < 0, "a: READ of b's region: byte %lld differs", bad);
		bzc_fill(buf, WLEN, 2);
		KL_EXPECT_EQ(bzc_rw(&ring, f, BZC_U_CMD_WRITE, buf, OFF, WLEN, 1), WLEN, "a: WRITE to b's region");
		bzc_barrier("written");
		bzc_barrier("revoked");
		KL_EXPECT_EQ(bzc_rw(&ring, f, BZC_U_CMD_WRITE, buf, 0, 1, 1), -ENOENT,
			     "a: WRITE after b's DEREG");
		bzc_barrier("refused");
	}
	io_uring_queue_exit(&ring);
	close(f);
	if (l >= 0)
		close(l);
	KL_EXPECT_EQ(bzc_rdma_res("mr"), 0, "MRs on this guest after closing its files");
	bzc_barrier("closed");
	bzc_link_delete(prov);
	kl_info("%s: guest %s: 4 MiB read and 1 MiB + 5 written across the link, verified", prov, is_b ? "b" : "a");
	kl_pass();
}
