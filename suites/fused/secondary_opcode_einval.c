// SPDX-License-Identifier: GPL-2.0
/*
 * Only READ and WRITE may be a secondary, and a secondary can't be linked,
 * drained or select a buffer: anything else fails the secondary with
 * -EINVAL and the primary with -EINVAL, and the secondary's CQE comes
 * first. The secondary SQE is consumed either way (io_uring_submit()
 * counts it) and never runs on its own. A primary without a following SQE
 * is -EINVAL.
 */
#include "fused_lib.h"

struct bad_sec {
	const char *what;
	int opcode;
	int flags;
};

int main(void)
{
	static const struct bad_sec cases[] = {
		{ "NOP", IORING_OP_NOP, 0 },
		{ "READV", IORING_OP_READV, 0 },
		{ "READ_FIXED", IORING_OP_READ_FIXED, 0 },
		{ "URING_CMD", IORING_OP_URING_CMD, 0 },
		{ "FUSED_CMD (nested)", IORING_OP_FUSED_CMD, 0 },
		{ "READ with IOSQE_IO_LINK", IORING_OP_READ, IOSQE_IO_LINK },
		{ "WRITE with IOSQE_IO_DRAIN", IORING_OP_WRITE, IOSQE_IO_DRAIN },
		{ "READ with IOSQE_BUFFER_SELECT", IORING_OP_READ,
		  IOSQE_BUFFER_SELECT },
	};
	struct io_uring ring;
	unsigned int i;
	int fd, ret;

	fu_require_fused();
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		kl_fail("open /dev/null: %s", strerror(errno));
	ret = io_uring_queue_init(8, &ring, IORING_SETUP_FUSED_REQ);
	if (ret)
		kl_fail("io_uring_setup(FUSED_REQ): %s", strerror(-ret));

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct io_uring_sqe *p = io_uring_get_sqe(&ring);
		struct io_uring_sqe *s = io_uring_get_sqe(&ring);
		int pres = 1, sres = 1, n;
		bool sec_first = false;

		fu_prep_primary(p, fd, 0, 1);
		fu_prep_secondary(s, cases[i].opcode, fd, 0, 512, 0, 2);
		s->flags = cases[i].flags;
		ret = io_uring_submit(&ring);
		if (ret != 2)
			kl_fail("%s: submit want 2, got %d", cases[i].what, ret);
		for (n = 0; n < 2; n++) {
			struct kl_cqe cqe;

			if (kl_wait_timeout(&ring, KL_TIMEOUT_MS, &cqe))
				kl_fail("%s: CQE %d missing", cases[i].what, n);
			if (cqe.user_data == 1) {
				pres = cqe.res;
			} else {
				sres = cqe.res;
				sec_first = n == 0;
			}
		}
		kl_info("%s: primary %d secondary %d", cases[i].what, pres,
			sres);
		KL_EXPECT_EQ(sres, -EINVAL, cases[i].what);
		KL_EXPECT_EQ(pres, -EINVAL, "primary of a bad secondary");
		KL_ASSERT(sec_first, "%s: primary CQE came before the secondary's",
			  cases[i].what);
	}

	/* a primary as the last SQE: no secondary to take */
	{
		struct io_uring_sqe *p = io_uring_get_sqe(&ring);
		struct kl_cqe cqe;

		fu_prep_primary(p, fd, 0, 3);
		ret = io_uring_submit(&ring);
		KL_EXPECT_EQ(ret, 1, "submitting a lone primary");
		if (kl_wait_timeout(&ring, KL_TIMEOUT_MS, &cqe))
			kl_fail("lone primary: no CQE");
		KL_EXPECT_EQ(cqe.res, -EINVAL, "primary without a secondary SQE");
	}
	io_uring_queue_exit(&ring);
	kl_pass();
}
