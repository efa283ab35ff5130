// SPDX-License-Identifier: GPL-2.0
/*
 * UBLK_U_IO_FUSED_SUBMIT_IO lends a request's pages only on a device added
 * with UBLK_F_FUSED_ZERO_COPY. On a UBLK_F_USER_COPY device without it (user
 * copy is what the flag builds on, so everything else is the same) the
 * primary is -EOPNOTSUPP and its secondary, a READ of a file into the
 * request, -ECANCELED; the request is left alone: the client still waits
 * for it, and once the server commits it without data the client's buffer
 * holds what it held, not the file's bytes (review T3).
 */
#include "fused_lib.h"

#define LEN		4096U
#define FILE_BYTE	0x5a
#define OFF		(1 << 20)

static const struct kl_ublk_cfg uc_cfg = {
	.need = UBLK_F_USER_COPY,
	.need_name = "UBLK_F_USER_COPY",
	.max_io = 256U << 10,
	.ring_flags = IORING_SETUP_FUSED_REQ,
};

int main(void)
{
	struct io_uring_sqe *prim, *sec;
	struct kl_ublk_client c;
	struct kl_ublk_dev d;
	int fd, ret, got = 0, pres = 1, sres = 1;
	unsigned char *buf;
	unsigned int tag, i;
	long long end;

	fu_require_fused();
	kl_ublk_require(&d, &uc_cfg);
	kl_ublk_dev_setup(&d, 0);
	if (d.flags & UBLK_F_FUSED_ZERO_COPY)
		kl_fail("ADD_DEV gave UBLK_F_FUSED_ZERO_COPY unasked (flags %#llx)",
			(unsigned long long)d.flags);
	fd = kl_tmp_file(LEN, kl_fill_byte, FILE_BYTE);

	kl_ublk_client_start(&c, d.dev_id, false, LEN, OFF);	/* its buffer zeroed */
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, OFF);

	prim = io_uring_get_sqe(&d.ring);
	sec = io_uring_get_sqe(&d.ring);
	if (!prim || !sec)
		kl_fail("no SQEs for a fused pair");
	fu_prep_primary(prim, d.cdev_fd, tag, FU_UD_PRIM | tag);
	fu_prep_secondary(sec, IORING_OP_READ, fd, 0, LEN, 0, FU_UD_SEC | tag);
	ret = io_uring_submit(&d.ring);
	KL_EXPECT_EQ(ret, 2, "submitting the fused pair (the secondary is consumed)");
	while (got != 3) {
		struct kl_cqe cqe;

		ret = kl_ublk_reap(&d, KL_TIMEOUT_MS, &cqe);
		if (ret < 0)
			kl_fail("waiting for the fused pair: %s", strerror(-ret));
		if (!ret)
			continue;
		if (cqe.user_data == (FU_UD_PRIM | tag)) {
			pres = cqe.res;
			got |= 1;
		} else if (cqe.user_data == (FU_UD_SEC | tag)) {
			sres = cqe.res;
			got |= 2;
		} else {
			kl_fail("unexpected CQE %llx res %d", (unsigned long long)cqe.user_data,
				cqe.res);
		}
	}
	KL_EXPECT_EQ(pres, -EOPNOTSUPP, "FUSED_SUBMIT_IO without UBLK_F_FUSED_ZERO_COPY");
	KL_EXPECT_EQ(sres, -ECANCELED, "its secondary");

	usleep(50000);
	if (__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
		kl_fail("the client's READ completed (%zd) before the server committed it", c.res);
	kl_ublk_commit(&d, tag, LEN);
	end = kl_now_ms() + KL_TIMEOUT_MS;
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE)) {
		if (kl_now_ms() > end)
			kl_fail("the client's READ did not complete after the commit");
		kl_ublk_reap(&d, 5, NULL);
	}
	KL_EXPECT_EQ(kl_ublk_client_wait(&c), (ssize_t)LEN, "the client's READ, committed in full");
	buf = c.buf;
	for (i = 0; i < LEN; i++) {
		if (buf[i] == FILE_BYTE)
			kl_fail("byte %u of the request is the file's %#x: the refused secondary wrote it",
				i, FILE_BYTE);
		if (buf[i])
			kl_fail("byte %u of the request is %#x, want the client's 0", i, buf[i]);
	}
	kl_info("primary %d, secondary %d, request untouched", pres, sres);
	close(fd);
	kl_ublk_dev_del(&d);
	kl_pass();
}
