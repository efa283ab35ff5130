// SPDX-License-Identifier: GPL-2.0
/*
 * A secondary whose offset or length reaches past its primary's buffer gets
 * -EFAULT (and so does the primary), touching nothing; one that ends exactly
 * at the end of the buffer is fine.
 */
#include "fused_lib.h"

#define LEN	(8U << 10)

int main(void)
{
	static const struct {
		const char *what;
		__u64 off;
		unsigned int len;
		int want;
	} cases[] = {
		{ "offset past the end", LEN + 512, 512, -EFAULT },
		{ "offset at the end, 1 byte", LEN, 1, -EFAULT },
		{ "length past the end", 0, LEN + 512, -EFAULT },
		{ "offset + length past the end", LEN - 512, 1024, -EFAULT },
		{ "huge offset", 1ULL << 40, 512, -EFAULT },
		{ "exactly the tail", LEN - 512, 512, 512 },
		{ "whole buffer", 0, LEN, LEN },
	};
	struct kl_ublk_client c;
	struct kl_ublk_dev d;
	unsigned int tag, i;
	int fd, pres, sres;
	bool last;

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	kl_ublk_dev_setup(&d, 0);
	fd = kl_tmp_file(4 * LEN, kl_fill, 3);

	kl_ublk_client_start(&c, d.dev_id, false, LEN, 1 << 20);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 1 << 20);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fu_fused_rw(&d, tag, IORING_OP_READ, fd, cases[i].off,
			    cases[i].len, 0, &pres, &sres, &last);
		kl_info("%s: primary %d secondary %d", cases[i].what, pres, sres);
		KL_EXPECT_EQ(sres, cases[i].want, cases[i].what);
		KL_EXPECT_EQ(pres, cases[i].want < 0 ? cases[i].want : 0,
			     "primary");
	}
	kl_ublk_commit(&d, tag, LEN);
	KL_EXPECT_EQ(kl_ublk_client_wait(&c), LEN, "client pread");
	close(fd);
	kl_ublk_dev_del(&d);
	kl_pass();
}
