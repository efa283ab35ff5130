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
	struct kl_ublk_client c;
	struct kl_ublk_dev d;
	int fd, i, pres, sres;
	unsigned int tag;
	bool last;

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	kl_ublk_dev_setup(&d, 0);
	fd = kl_tmp_file(64 * LEN, kl_fill, 11);

	for (i = 0; i < 32; i++) {
		bool wr = i & 1;
		off_t off = (off_t)i * LEN;

		fu_prim_sqe_flags = (i & 2) ? IOSQE_ASYNC : 0;
		fu_sec_sqe_flags = (i & 4) ? IOSQE_ASYNC : 0;
		kl_ublk_client_start(&c, d.dev_id, wr, LEN, off);
		tag = kl_ublk_wait_client_req(&d, wr ? UBLK_IO_OP_WRITE :
					      UBLK_IO_OP_READ, off);
		fu_fused_rw(&d, tag, wr ? IORING_OP_WRITE : IORING_OP_READ, fd,
			    0, LEN, off, &pres, &sres, &last);
		KL_EXPECT_EQ(sres, LEN, "secondary");
		KL_EXPECT_EQ(pres, 0, "primary");
		KL_ASSERT(last, "pair %d: primary's CQE came before the secondary's",
			  i);
		fu_prim_sqe_flags = fu_sec_sqe_flags = 0;
		kl_ublk_commit(&d, tag, LEN);
		KL_EXPECT_EQ(kl_ublk_client_wait(&c), LEN, "client IO");
		free(c.buf);
	}
	close(fd);
	kl_ublk_dev_del(&d);
	kl_pass();
}
