// SPDX-License-Identifier: GPL-2.0
/*
 * A primary that is not issued inline reads its ublk command (q_id, tag)
 * from a copy taken at prep time, not from the SQ ring: userspace owns the
 * slot again once io_uring_submit() returned. Here the primary is linked
 * after a READ from an empty pipe; once submitted, its SQ slot is
 * overwritten with 0xff, then the pipe is fed. The pair must still act on
 * the request it named: the primary completes with 0, the secondary reads
 * the file into that request's buffer and the client gets those bytes
 * (review finding B2: without the copy, the primary read q_id 0xffff and
 * failed, or named another request).
 */
#include "fused_lib.h"

#define LEN	(8U << 10)
#define UD_PIPE	(18ULL << 32)
#define FILL	0x5c

int main(void)
{
	struct io_uring_sqe *rd, *prim, *sec;
	struct kl_ublk_dev d;
	int fd, ret, pipefd[2], got, res[3] = { 1, 1, 1 };
	char pipebuf[2];
	unsigned int tag;
	struct io_uring r;
	pid_t pid;

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	kl_ublk_dev_setup(&d, 0);
	kl_ring_init(&r, 8, IORING_SETUP_FUSED_REQ); /* a ring of the test's own */
	if (pipe(pipefd))
		kl_fail("pipe: %s", strerror(errno));
	fd = kl_tmp_file(LEN, kl_fill_byte, FILL);

	pid = kl_ublk_child(&d, false, 1 << 20, LEN, FILL, true);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 1 << 20);

	rd = io_uring_get_sqe(&r);
	prim = io_uring_get_sqe(&r);
	sec = io_uring_get_sqe(&r);
	if (!rd || !prim || !sec)
		kl_fail("no SQEs");
	/* exactly what the pipe will get: a short read would fail the link */
	io_uring_prep_read(rd, pipefd[0], pipebuf, 2, 0);
	rd->flags |= IOSQE_IO_LINK;
	rd->user_data = UD_PIPE;
	fu_prep_primary(prim, d.cdev_fd, tag, FU_UD_PRIM | tag);
	fu_prep_secondary(sec, IORING_OP_READ, fd, 0, LEN, 0, FU_UD_SEC | tag);
	KL_EXPECT_EQ(io_uring_submit(&r), 3, "SQEs submitted (READ, primary, secondary)");
	/* the slots are userspace's again: scribble over the primary's */
	memset(prim, 0xff, sizeof(*prim));
	usleep(50000);
	if (write(pipefd[1], "go", 2) != 2)
		kl_fail("feeding the pipe: %s", strerror(errno));

	for (got = 0; got < 3; got++) {
		struct kl_cqe cqe;

		ret = kl_wait_timeout(&r, KL_TIMEOUT_MS, &cqe);
		if (ret)
			kl_fail("CQE %d of 3 never came: %s", got + 1, strerror(-ret));
		switch (KL_UBLK_UD_KIND(cqe.user_data)) {
		case UD_PIPE:
			res[0] = cqe.res;
			break;
		case FU_UD_PRIM:
			res[1] = cqe.res;
			break;
		case FU_UD_SEC:
			res[2] = cqe.res;
			break;
		default:
			kl_fail("unexpected CQE %llx", (unsigned long long)cqe.user_data);
		}
	}
	kl_info("pipe READ %d, primary %d, secondary %d", res[0], res[1], res[2]);
	KL_EXPECT_EQ(res[0], 2, "the pipe READ the primary is linked to");
	KL_EXPECT_EQ(res[2], LEN, "secondary READ into the named request");
	KL_EXPECT_EQ(res[1], 0, "primary issued after its SQ slot was overwritten");
	kl_ublk_commit(&d, tag, LEN);
	ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
	if (ret)
		kl_fail("the client %s (%d)", ret == 2 ? "read other bytes than the file's" : "failed",
			ret);
	io_uring_queue_exit(&r);
	close(fd);
	kl_ublk_dev_del(&d);
	kl_pass();
}
