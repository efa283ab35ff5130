// SPDX-License-Identifier: GPL-2.0
/*
 * The primary completes only after its secondary: over many fused pairs
 * (READ and WRITE requests, secondaries on a file, either of them issued
 * inline or punted with IOSQE_ASYNC), the primary's CQE always comes after
 * the secondary's.
 */
#include "fused_lib.h"

#define LEN	(4U << 10)

int main(void)
{
	struct fu_client c;
	struct fu_dev d;
	int fd, i, pres, sres;
	unsigned int tag;
	bool last;

	fu_require_fused();
	fu_dev_setup(&d, UBLK_F_FUSED_ZERO_COPY);
	fd = fu_tmp_file(64 * LEN, 11);

	for (i = 0; i < 32; i++) {
		bool wr = i & 1;
		off_t off = (off_t)i * LEN;

		fu_prim_sqe_flags = (i & 2) ? IOSQE_ASYNC : 0;
		fu_sec_sqe_flags = (i & 4) ? IOSQE_ASYNC : 0;
		fu_client_start(&c, d.dev_id, wr, LEN, off);
		tag = fu_wait_client_req(&d, wr ? UBLK_IO_OP_WRITE :
					 UBLK_IO_OP_READ, off);
		fu_fused_rw(&d, tag, wr ? IORING_OP_WRITE : IORING_OP_READ, fd,
			    0, LEN, off, &pres, &sres, &last);
		KL_EXPECT_EQ(sres, LEN, "secondary");
		KL_EXPECT_EQ(pres, 0, "primary");
		KL_ASSERT(last, "pair %d: primary's CQE came before the secondary's",
			  i);
		fu_prim_sqe_flags = fu_sec_sqe_flags = 0;
		fu_commit(&d, tag, LEN);
		KL_EXPECT_EQ(fu_client_wait(&c), LEN, "client IO");
		free(c.buf);
	}
	close(fd);
	fu_dev_del(&d);
	kl_pass();
}
