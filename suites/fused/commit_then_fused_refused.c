// SPDX-License-Identifier: GPL-2.0
/*
 * A fused command lends only a request the server owns: once the server
 * committed it, the request's result is fixed, and a new
 * UBLK_U_IO_FUSED_SUBMIT_IO for it is -EINVAL (its secondary -ECANCELED)
 * even while an earlier fused command still holds the request (review
 * finding B10; upstream's REGISTER_IO_BUF has the same rule). The earlier
 * pair, its secondary a READ from a pipe, then completes, and the client
 * reads the pipe's bytes: nothing else was written into the request.
 */
#include "fused_lib.h"

#define LEN	4096U	/* one atomic pipe write */
#define FILL	0x6e

/* Queue a fused pair for @tag on @r: its secondary a READ of LEN from @fd. */
static void queue_pair(struct io_uring *r, struct kl_ublk_dev *d, unsigned int tag, int fd,
		       __u64 ud)
{
	struct io_uring_sqe *prim = io_uring_get_sqe(r), *sec = io_uring_get_sqe(r);

	if (!prim || !sec)
		kl_fail("no SQEs");
	fu_prep_primary(prim, d->cdev_fd, tag, FU_UD_PRIM | ud);
	fu_prep_secondary(sec, IORING_OP_READ, fd, 0, LEN, 0, FU_UD_SEC | ud);
	KL_EXPECT_EQ(io_uring_submit(r), 2, "a fused pair submitted");
}

/* The results of pair @ud: both CQEs within the timeout. */
static void wait_pair(struct io_uring *r, __u64 ud, int *pres, int *sres)
{
	for (int got = 0; got < 2; got++) {
		struct kl_cqe cqe;
		int ret = kl_wait_timeout(r, KL_TIMEOUT_MS, &cqe);

		if (ret)
			kl_fail("pair %llu: CQE %d of 2 never came (%s)", (unsigned long long)ud,
				got + 1, strerror(-ret));
		if (cqe.user_data == (FU_UD_PRIM | ud))
			*pres = cqe.res;
		else if (cqe.user_data == (FU_UD_SEC | ud))
			*sres = cqe.res;
		else
			kl_fail("unexpected CQE %llx res %d", (unsigned long long)cqe.user_data,
				cqe.res);
	}
}

int main(void)
{
	unsigned char buf[LEN];
	struct kl_ublk_dev d;
	int fd, ret, pipefd[2], pres = 1, sres = 1;
	struct io_uring r;
	unsigned int tag;
	pid_t pid;

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	kl_ublk_dev_setup(&d, 0);
	kl_ring_init(&r, 8, IORING_SETUP_FUSED_REQ); /* a ring of the test's own */
	if (pipe(pipefd))
		kl_fail("pipe: %s", strerror(errno));
	fd = kl_tmp_file(LEN, kl_fill_byte, 0x11);

	pid = kl_ublk_child(&d, false, 1 << 20, LEN, FILL, true);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 1 << 20);

	/* pair 1 holds the request: its secondary waits for the pipe */
	queue_pair(&r, &d, tag, pipefd[0], 1);
	usleep(50000);
	kl_ublk_commit(&d, tag, LEN);
	usleep(50000);

	/* pair 2, after the commit: refused */
	queue_pair(&r, &d, tag, fd, 2);
	wait_pair(&r, 2, &pres, &sres);
	KL_EXPECT_EQ(pres, -EINVAL, "fused command for a request the server committed");
	KL_EXPECT_EQ(sres, -ECANCELED, "its secondary");

	/* pair 1 finishes with the pipe's bytes; the request completes after it */
	memset(buf, FILL, LEN);
	if (write(pipefd[1], buf, LEN) != LEN)
		kl_fail("feeding the pipe: %s", strerror(errno));
	wait_pair(&r, 1, &pres, &sres);
	KL_EXPECT_EQ(sres, LEN, "pair 1's secondary READ from the pipe");
	KL_EXPECT_EQ(pres, 0, "pair 1's primary");
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	if (ret)
		kl_fail("the client %s (%d)", ret == 2 ? "read other bytes than the pipe's" : "failed",
			ret);
	io_uring_queue_exit(&r);
	close(fd);
	kl_ublk_dev_del(&d);
	kl_pass();
}
