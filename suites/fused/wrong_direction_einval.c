// SPDX-License-Identifier: GPL-2.0
/*
 * A READ request's buffer is a destination only, a WRITE request's a source
 * only: a secondary WRITE on a READ request (it would hand the request's
 * uninitialised pages to the server) or a secondary READ on a WRITE request
 * (it would overwrite data being written) fails with -EINVAL, primary too,
 * and moves no byte: the file keeps its contents after the refused WRITE,
 * and the data being written reaches the file intact after the refused
 * READ. UBLK_U_IO_FUSED_SUBMIT_IO outside a fused command is -EINVAL as
 * well.
 */
#include "fused_lib.h"

#define LEN	(8U << 10)

/* The file's first LEN bytes are @want. */
static void check_file(int fd, const unsigned char *want, const char *what)
{
	unsigned char got[LEN];

	if (pread(fd, got, LEN, 0) != LEN)
		kl_fail("reading the file back: %s", strerror(errno));
	if (memcmp(got, want, LEN))
		kl_fail("%s", what);
}

static void plain_submit_io(struct kl_ublk_dev *d, unsigned int tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
	struct kl_cqe cqe;

	fu_prep_primary(sqe, d->cdev_fd, tag, FU_UD_PRIM | tag);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->uring_cmd_flags = 0;
	io_uring_submit(&d->ring);
	if (kl_wait_timeout(&d->ring, KL_TIMEOUT_MS, &cqe))
		kl_fail("plain FUSED_SUBMIT_IO: no CQE");
	KL_EXPECT_EQ(cqe.res, -EINVAL, "FUSED_SUBMIT_IO as a plain URING_CMD");
}

int main(void)
{
	unsigned char pattern[LEN], zeros[LEN];
	struct kl_ublk_client c;
	struct kl_ublk_dev d;
	unsigned int tag;
	int fd, pres, sres;
	bool last;

	kl_fill(pattern, LEN, 7);
	memset(zeros, 0, LEN);

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	kl_ublk_dev_setup(&d, 0);
	fd = kl_tmp_file(LEN, kl_fill, 7);

	kl_ublk_client_start(&c, d.dev_id, false, LEN, 1 << 20);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 1 << 20);
	fu_fused_rw(&d, tag, IORING_OP_WRITE, fd, 0, LEN, 0, &pres, &sres,
		    &last);
	KL_EXPECT_EQ(sres, -EINVAL, "secondary WRITE from a READ request");
	KL_EXPECT_EQ(pres, -EINVAL, "its primary");
	check_file(fd, pattern, "the refused WRITE secondary changed the file");
	plain_submit_io(&d, tag);
	fu_fused_rw(&d, tag, IORING_OP_READ, fd, 0, LEN, 0, &pres, &sres,
		    &last);
	KL_EXPECT_EQ(sres, LEN, "secondary READ into a READ request");
	kl_ublk_commit(&d, tag, LEN);
	KL_EXPECT_EQ(kl_ublk_client_wait(&c), LEN, "client pread");
	if (memcmp(c.buf, pattern, LEN))
		kl_fail("the client did not read the file's bytes");
	free(c.buf);

	kl_ublk_client_start(&c, d.dev_id, true, LEN, 1 << 20);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_WRITE, 1 << 20);
	fu_fused_rw(&d, tag, IORING_OP_READ, fd, 0, LEN, 0, &pres, &sres,
		    &last);
	KL_EXPECT_EQ(sres, -EINVAL, "secondary READ into a WRITE request");
	KL_EXPECT_EQ(pres, -EINVAL, "its primary");
	fu_fused_rw(&d, tag, IORING_OP_WRITE, fd, 0, LEN, 0, &pres, &sres,
		    &last);
	KL_EXPECT_EQ(sres, LEN, "secondary WRITE from a WRITE request");
	kl_ublk_commit(&d, tag, LEN);
	KL_EXPECT_EQ(kl_ublk_client_wait(&c), LEN, "client pwrite");
	/* the client writes zeros (kl_ublk_client_start clears its buffer) */
	check_file(fd, zeros, "the data written is not intact: the refused READ secondary overwrote it?");
	free(c.buf);

	close(fd);
	kl_ublk_dev_del(&d);
	kl_pass();
}
