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

static void run_pairs(struct kl_ublk_dev *d, unsigned int tag, int op, int fd)
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
		struct kl_cqe cqe;
		int idx;

		if (kl_wait_timeout(&d->ring, KL_TIMEOUT_MS, &cqe))
			kl_fail("%d of %d CQEs", got, 2 * NR);
		idx = (cqe.user_data >> 16) & 0xffff;
		if (KL_UBLK_UD_KIND(cqe.user_data) == FU_UD_SEC) {
			KL_EXPECT_EQ(cqe.res, PIECE, "secondary");
			sec_done[idx] = 1;
		} else if (KL_UBLK_UD_KIND(cqe.user_data) == FU_UD_PRIM) {
			KL_EXPECT_EQ(cqe.res, 0, "primary");
			KL_ASSERT(sec_done[idx], "pair %d: primary before secondary",
				  idx);
			prim_done[idx] = 1;
		} else {
			kl_fail("unexpected CQE %llx res %d",
				(unsigned long long)cqe.user_data, cqe.res);
		}
		got++;
	}
	for (i = 0; i < NR; i++)
		KL_ASSERT(prim_done[i], "pair %d: no primary CQE", i);
}

int main(void)
{
	unsigned char *file;
	struct kl_ublk_client c;
	struct kl_ublk_dev d;
	unsigned int tag;
	int fd, i;

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	kl_ublk_dev_setup(&d, 0);
	fd = kl_tmp_file(LEN, kl_fill, 0);
	file = malloc(LEN);

	kl_ublk_client_start(&c, d.dev_id, true, LEN, 4 << 20);
	kl_fill(c.buf, LEN, 33);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_WRITE, 4 << 20);
	run_pairs(&d, tag, IORING_OP_WRITE, fd);
	kl_ublk_commit(&d, tag, LEN);
	KL_EXPECT_EQ(kl_ublk_client_wait(&c), LEN, "client pwrite");
	if (pread(fd, file, LEN, 0) != LEN)
		kl_fail("reading the file back");
	for (i = 0; i < NR; i++)
		if (memcmp(file + (NR - 1 - i) * PIECE,
			   (char *)c.buf + i * PIECE, PIECE))
			kl_fail("file piece %d is not request piece %d",
				NR - 1 - i, i);
	free(c.buf);

	kl_ublk_client_start(&c, d.dev_id, false, LEN, 4 << 20);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 4 << 20);
	run_pairs(&d, tag, IORING_OP_READ, fd);
	kl_ublk_commit(&d, tag, LEN);
	KL_EXPECT_EQ(kl_ublk_client_wait(&c), LEN, "client pread");
	/* reversed twice: the client reads what it wrote */
	kl_fill(file, LEN, 33);
	if (memcmp(c.buf, file, LEN))
		kl_fail("client did not read back what it wrote");
	close(fd);
	kl_ublk_dev_del(&d);
	kl_pass();
}
