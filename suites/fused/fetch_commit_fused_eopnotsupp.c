// SPDX-License-Identifier: GPL-2.0
/*
 * Only UBLK_U_IO_FUSED_SUBMIT_IO provides a buffer to a fused secondary:
 * FETCH_REQ and COMMIT_AND_FETCH_REQ sent as the primary of a fused command
 * (IORING_OP_FUSED_CMD, IORING_FUSED_CMD_BUF) are -EOPNOTSUPP, their
 * secondaries -ECANCELED, and neither command does anything (review T3):
 * - the refused FETCH of tag 0, before the device starts, leaves the tag
 *   free: the plain FETCH of it that follows is accepted (not -EBUSY) and
 *   the device starts; its secondary, a READ from /dev/zero into a victim
 *   buffer at ->addr, leaves the victim alone;
 * - the refused COMMIT_AND_FETCH of a client READ does not complete the
 *   request: the client still waits, the plain commit after it is accepted,
 *   and the client's buffer holds what it held, not the bytes of the file
 *   its secondary would have read.
 */
#include "fused_lib.h"

#define LEN		4096U
#define FILE_BYTE	0x5a
#define OFF		(1 << 20)

/* @op of @tag as a fused primary, its secondary a READ of LEN from @fd into @addr: results. */
static void fused_io_cmd(struct kl_ublk_dev *d, __u32 op, unsigned int tag, int result, int fd,
			 __u64 addr, int *pres, int *sres)
{
	struct io_uring_sqe *prim = io_uring_get_sqe(&d->ring), *sec = io_uring_get_sqe(&d->ring);
	int got = 0, ret;

	if (!prim || !sec)
		kl_fail("no SQEs for a fused pair");
	fu_prep_primary(prim, d->cdev_fd, tag, FU_UD_PRIM | tag);
	prim->cmd_op = op;
	((struct ublksrv_io_cmd *)prim->cmd)->result = result;
	fu_prep_secondary(sec, IORING_OP_READ, fd, addr, LEN, 0, FU_UD_SEC | tag);
	ret = io_uring_submit(&d->ring);
	KL_EXPECT_EQ(ret, 2, "submitting the fused pair (the secondary is consumed)");
	*pres = *sres = 1;
	while (got != 3) {
		struct kl_cqe cqe;

		ret = kl_ublk_reap(d, KL_TIMEOUT_MS, &cqe);
		if (ret < 0)
			kl_fail("waiting for the fused pair (op %#x): %s", op, strerror(-ret));
		if (!ret)
			continue;
		if (cqe.user_data == (FU_UD_PRIM | tag)) {
			*pres = cqe.res;
			got |= 1;
		} else if (cqe.user_data == (FU_UD_SEC | tag)) {
			*sres = cqe.res;
			got |= 2;
		} else {
			kl_fail("unexpected CQE %llx res %d", (unsigned long long)cqe.user_data,
				cqe.res);
		}
	}
}

int main(void)
{
	static unsigned char victim[LEN];
	struct kl_ublk_client c;
	struct kl_ublk_dev d;
	int zero, fd, ret, pres, sres;
	unsigned char *buf;
	unsigned int tag, i;
	long long end;

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (zero < 0)
		kl_fail("open /dev/zero: %s", strerror(errno));
	fd = kl_tmp_file(LEN, kl_fill_byte, FILE_BYTE);

	/* FETCH_REQ of tag 0, fused, before any FETCH: refused, the tag stays free */
	kl_ublk_dev_add(&d, 0);
	ret = kl_ublk_queue_init(&d);
	if (ret)
		kl_fail("queue setup: %s", strerror(-ret));
	memset(victim, 0x77, LEN);
	fused_io_cmd(&d, UBLK_U_IO_FETCH_REQ, 0, 0, zero, (__u64)(uintptr_t)victim, &pres, &sres);
	KL_EXPECT_EQ(pres, -EOPNOTSUPP, "FETCH_REQ sent as a fused primary");
	KL_EXPECT_EQ(sres, -ECANCELED, "its secondary");
	for (i = 0; i < LEN; i++)
		if (victim[i] != 0x77)
			kl_fail("the refused FETCH's secondary wrote into its ->addr");
	/* a FETCH of every tag: tag 0's fails the test (-EBUSY) if the fused one took it */
	kl_ublk_dev_start(&d);
	kl_info("fused FETCH_REQ: primary %d, secondary %d; tag 0 fetched and started after it",
		pres, sres);

	/* COMMIT_AND_FETCH_REQ of a client READ, fused: refused, the request still pending */
	kl_ublk_client_start(&c, d.dev_id, false, LEN, OFF);	/* its buffer zeroed */
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, OFF);
	fused_io_cmd(&d, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag, LEN, fd, 0, &pres, &sres);
	KL_EXPECT_EQ(pres, -EOPNOTSUPP, "COMMIT_AND_FETCH_REQ sent as a fused primary");
	KL_EXPECT_EQ(sres, -ECANCELED, "its secondary");
	usleep(50000);
	if (__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
		kl_fail("the client's READ completed (%zd): the refused COMMIT_AND_FETCH committed it",
			c.res);
	/* the plain commit: fails the test if the fused one had taken the request */
	kl_ublk_commit(&d, tag, LEN);
	end = kl_now_ms() + KL_TIMEOUT_MS;
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE)) {
		if (kl_now_ms() > end)
			kl_fail("the client's READ did not complete after the plain commit");
		kl_ublk_reap(&d, 5, NULL);
	}
	KL_EXPECT_EQ(kl_ublk_client_wait(&c), (ssize_t)LEN, "the client's READ, committed in full");
	buf = c.buf;
	for (i = 0; i < LEN; i++)
		if (buf[i])
			kl_fail("byte %u of the request is %#x, want the client's 0%s", i, buf[i],
				buf[i] == FILE_BYTE ? " (the refused secondary's file byte)" : "");
	kl_info("fused COMMIT_AND_FETCH_REQ: primary %d, secondary %d, request untouched", pres,
		sres);
	close(fd);
	close(zero);
	kl_ublk_dev_del(&d);
	kl_pass();
}
