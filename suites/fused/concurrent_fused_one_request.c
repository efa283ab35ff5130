// SPDX-License-Identifier: GPL-2.0
/*
 * Any slices of one request may be lent to several fused commands in flight
 * together: eight fused pairs submitted at once each write one eighth of a
 * WRITE request to a different place of a file (in reverse order), then
 * eight read the file back into a READ request the same way. Every pair
 * completes primary-last and the data ends up where each secondary put it.
 */
#include "fused_lib.h"

#define LEN	(64U << 10)
#define NR	8
#define PIECE	(LEN / NR)

static void run_pairs(struct fu_dev *d, unsigned int tag, int op, int fd)
{
	int sec_done[NR] = { 0 }, prim_done[NR] = { 0 };
	int i, got = 0;

	if (io_uring_sq_space_left(&d->ring) < 2 * NR)
		io_uring_submit(&d->ring);
	for (i = 0; i < NR; i++) {
		struct io_uring_sqe *p = io_uring_get_sqe(&d->ring);
		struct io_uring_sqe *s = io_uring_get_sqe(&d->ring);

		if (!p || !s)
			kl_fail("no SQEs for pair %d", i);
		fu_prep_primary(p, d->cdev_fd, tag, FU_UD_PRIM | (i << 16) | tag);
		/* piece i of the request <-> piece NR-1-i of the file */
		fu_prep_secondary(s, op, fd, i * PIECE, PIECE,
				  (NR - 1 - i) * PIECE,
				  FU_UD_SEC | (i << 16) | tag);
	}
	if (io_uring_submit(&d->ring) != 2 * NR)
		kl_fail("submitting %d fused pairs", NR);
	while (got < 2 * NR) {
		__u64 ud;
		int res, idx;

		if (fu_wait_cqe(&d->ring, FU_TIMEOUT_MS, &ud, &res))
			kl_fail("%d of %d CQEs", got, 2 * NR);
		idx = (ud >> 16) & 0xffff;
		if (FU_UD_KIND(ud) == FU_UD_SEC) {
			KL_EXPECT_EQ(res, PIECE, "secondary");
			sec_done[idx] = 1;
		} else if (FU_UD_KIND(ud) == FU_UD_PRIM) {
			KL_EXPECT_EQ(res, 0, "primary");
			KL_ASSERT(sec_done[idx], "pair %d: primary before secondary",
				  idx);
			prim_done[idx] = 1;
		} else {
			kl_fail("unexpected CQE %llx res %d",
				(unsigned long long)ud, res);
		}
		got++;
	}
	for (i = 0; i < NR; i++)
		KL_ASSERT(prim_done[i], "pair %d: no primary CQE", i);
}

int main(void)
{
	unsigned char *file;
	struct fu_client c;
	struct fu_dev d;
	unsigned int tag;
	int fd, i;

	fu_require_fused();
	fu_dev_setup(&d, UBLK_F_FUSED_ZERO_COPY);
	fd = fu_tmp_file(LEN, 0);
	file = malloc(LEN);

	fu_client_start(&c, d.dev_id, true, LEN, 4 << 20);
	fu_fill(c.buf, LEN, 33);
	tag = fu_wait_client_req(&d, UBLK_IO_OP_WRITE, 4 << 20);
	run_pairs(&d, tag, IORING_OP_WRITE, fd);
	fu_commit(&d, tag, LEN);
	KL_EXPECT_EQ(fu_client_wait(&c), LEN, "client pwrite");
	if (pread(fd, file, LEN, 0) != LEN)
		kl_fail("reading the file back");
	for (i = 0; i < NR; i++)
		if (memcmp(file + (NR - 1 - i) * PIECE,
			   (char *)c.buf + i * PIECE, PIECE))
			kl_fail("file piece %d is not request piece %d",
				NR - 1 - i, i);
	free(c.buf);

	fu_client_start(&c, d.dev_id, false, LEN, 4 << 20);
	tag = fu_wait_client_req(&d, UBLK_IO_OP_READ, 4 << 20);
	run_pairs(&d, tag, IORING_OP_READ, fd);
	fu_commit(&d, tag, LEN);
	KL_EXPECT_EQ(fu_client_wait(&c), LEN, "client pread");
	/* reversed twice: the client reads what it wrote */
	fu_fill(file, LEN, 33);
	if (memcmp(c.buf, file, LEN))
		kl_fail("client did not read back what it wrote");
	close(fd);
	fu_dev_del(&d);
	kl_pass();
}
