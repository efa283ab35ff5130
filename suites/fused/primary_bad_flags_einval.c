// SPDX-License-Identifier: GPL-2.0
/*
 * A primary whose uring_cmd flags don't make it a buffer provider fails
 * with -EINVAL at prep, and its secondary, consumed with it, is cancelled
 * (-ECANCELED) and never runs: without IORING_FUSED_CMD_BUF, and with
 * IORING_URING_CMD_FIXED as well (a fixed-buffer command can't lend a
 * buffer; a buffer is registered so the FIXED lookup itself passes). The
 * secondary is a READ from /dev/zero into a victim buffer: it stays as it
 * was (review T3).
 */
#include "fused_lib.h"

#define LEN	512U

int main(void)
{
	static const struct {
		const char *what;
		__u32 flags;
	} cases[] = {
		{ "no IORING_FUSED_CMD_BUF", 0 },
		{ "IORING_FUSED_CMD_BUF | IORING_URING_CMD_FIXED",
		  IORING_FUSED_CMD_BUF | IORING_URING_CMD_FIXED },
	};
	static unsigned char victim[LEN], regbuf[4096];
	struct iovec iov = { .iov_base = regbuf, .iov_len = sizeof(regbuf) };
	struct io_uring ring;
	unsigned int i;
	int zero, ret;

	fu_require_fused();
	zero = open("/dev/zero", O_RDONLY);
	if (zero < 0)
		kl_fail("open /dev/zero: %s", strerror(errno));
	ret = io_uring_queue_init(8, &ring, IORING_SETUP_FUSED_REQ);
	if (ret)
		kl_fail("io_uring_setup(FUSED_REQ): %s", strerror(-ret));
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (ret)
		kl_fail("registering a buffer: %s", strerror(-ret));

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct io_uring_sqe *p = io_uring_get_sqe(&ring);
		struct io_uring_sqe *s = io_uring_get_sqe(&ring);
		int pres = 1, sres = 1, n;

		memset(victim, 0x77, LEN);
		fu_prep_primary(p, zero, 0, 1);
		p->uring_cmd_flags = cases[i].flags;
		p->buf_index = 0;
		fu_prep_secondary(s, IORING_OP_READ, zero, (__u64)(uintptr_t)victim, LEN, 0, 2);
		ret = io_uring_submit(&ring);
		if (ret != 2)
			kl_fail("%s: submit want 2 (the secondary is consumed), got %d", cases[i].what,
				ret);
		for (n = 0; n < 2; n++) {
			struct kl_cqe cqe;

			if (kl_wait_timeout(&ring, KL_TIMEOUT_MS, &cqe))
				kl_fail("%s: CQE %d missing", cases[i].what, n + 1);
			if (cqe.user_data == 1)
				pres = cqe.res;
			else if (cqe.user_data == 2)
				sres = cqe.res;
			else
				kl_fail("%s: unexpected CQE %llx", cases[i].what,
					(unsigned long long)cqe.user_data);
		}
		KL_EXPECT_EQ(pres, -EINVAL, cases[i].what);
		KL_EXPECT_EQ(sres, -ECANCELED, "its secondary");
		for (n = 0; n < (int)LEN; n++)
			if (victim[n] != 0x77)
				kl_fail("%s: the cancelled secondary wrote into its ->addr", cases[i].what);
		kl_info("%s: primary %d, secondary %d, victim untouched", cases[i].what, pres, sres);
	}
	io_uring_queue_exit(&ring);
	close(zero);
	kl_pass();
}
