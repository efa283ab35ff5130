// SPDX-License-Identifier: GPL-2.0
/*
 * A secondary whose offset or length reaches past its primary's buffer gets
 * -EFAULT (and so does the primary), touching nothing: after all of them
 * the READ request's pages (the client's buffer) still hold zeros. One that
 * ends exactly at the end of the buffer, and one that covers all of it, put
 * the file's bytes exactly where they say.
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
		/* from here on they succeed: on a second request */
		{ "whole buffer", 0, LEN, LEN },
		{ "exactly the tail", LEN - 512, 512, 512 },
	};
	unsigned char want[LEN];
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
		if (cases[i].want >= 0 && cases[i - 1].want < 0) {
			/* the failures touched nothing: the client reads zeros */
			kl_ublk_commit(&d, tag, LEN);
			KL_EXPECT_EQ(kl_ublk_client_wait(&c), LEN, "client pread");
			memset(want, 0, LEN);
			if (memcmp(c.buf, want, LEN))
				kl_fail("a secondary that got -EFAULT wrote into the request's pages");
			free(c.buf);
			kl_ublk_client_start(&c, d.dev_id, false, LEN, 2 << 20);
			tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 2 << 20);
		}
		fu_fused_rw(&d, tag, IORING_OP_READ, fd, cases[i].off,
			    cases[i].len, 0, &pres, &sres, &last);
		kl_info("%s: primary %d secondary %d", cases[i].what, pres, sres);
		KL_EXPECT_EQ(sres, cases[i].want, cases[i].what);
		KL_EXPECT_EQ(pres, cases[i].want < 0 ? cases[i].want : 0,
			     "primary");
	}
	kl_ublk_commit(&d, tag, LEN);
	KL_EXPECT_EQ(kl_ublk_client_wait(&c), LEN, "client pread");
	/* the whole file head, then its first 512 bytes again over the tail */
	kl_fill(want, LEN, 3);
	memcpy(want + LEN - 512, want, 512);
	if (memcmp(c.buf, want, LEN))
		kl_fail("the client did not read what the secondaries put in place");
	free(c.buf);
	close(fd);
	kl_ublk_dev_del(&d);
	kl_pass();
}
