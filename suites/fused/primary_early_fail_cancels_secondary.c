// SPDX-License-Identifier: GPL-2.0
/*
 * A primary that fails io_uring's generic checks, before its own prep
 * (IOSQE_BUFFER_SELECT, which a fused command doesn't do; an ioprio it
 * doesn't take), still takes its secondary along: the secondary completes
 * with -ECANCELED and never runs on its own. Here the secondary is a READ
 * from /dev/zero whose ->addr happens to be a valid user address: had it
 * run as a plain READ, it would have zeroed that memory.
 */
#include "fused_lib.h"

int main(void)
{
	static const struct {
		const char *what;
		int flags;
		int ioprio;
		int want;
	} cases[] = {
		{ "IOSQE_BUFFER_SELECT on the primary", IOSQE_BUFFER_SELECT, 0,
		  -EOPNOTSUPP },
		{ "ioprio on the primary", 0, 1, -EINVAL },
	};
	struct io_uring ring;
	unsigned char *victim;
	unsigned int i, j;
	int zero, ret;

	fu_require_fused();
	zero = open("/dev/zero", O_RDONLY);
	if (zero < 0)
		kl_fail("open /dev/zero: %s", strerror(errno));
	victim = malloc(4096);
	ret = io_uring_queue_init(8, &ring, IORING_SETUP_FUSED_REQ);
	if (ret)
		kl_fail("io_uring_setup(FUSED_REQ): %s", strerror(-ret));

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct io_uring_sqe *p = io_uring_get_sqe(&ring);
		struct io_uring_sqe *s = io_uring_get_sqe(&ring);
		int pres = 1, sres = 1, n;

		memset(victim, 0xa5, 4096);
		fu_prep_primary(p, zero, 0, 1);
		p->flags = cases[i].flags;
		p->ioprio = cases[i].ioprio;
		fu_prep_secondary(s, IORING_OP_READ, zero,
				  (__u64)(uintptr_t)victim, 4096, 0, 2);
		ret = io_uring_submit(&ring);
		KL_EXPECT_EQ(ret, 2, "SQEs consumed by a failing fused pair");
		for (n = 0; n < 2; n++) {
			struct kl_cqe cqe;

			if (kl_wait_timeout(&ring, KL_TIMEOUT_MS, &cqe))
				kl_fail("%s: CQE %d missing", cases[i].what, n);
			if (cqe.user_data == 1)
				pres = cqe.res;
			else
				sres = cqe.res;
		}
		kl_info("%s: primary %d secondary %d", cases[i].what, pres, sres);
		KL_EXPECT_EQ(pres, cases[i].want, cases[i].what);
		KL_EXPECT_EQ(sres, -ECANCELED, "secondary of a primary failing early");
		for (j = 0; j < 4096; j++)
			if (victim[j] != 0xa5)
				kl_fail("%s: the secondary ran as a plain READ (byte %u)",
					cases[i].what, j);
	}
	io_uring_queue_exit(&ring);
	kl_pass();
}
