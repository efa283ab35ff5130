// SPDX-License-Identifier: GPL-2.0
/*
 * A secondary uses exactly sqe->len bytes at offset sqe->addr of its
 * primary's buffer (a ublk request's pages, UBLK_U_IO_FUSED_SUBMIT_IO):
 * - WRITE request: two secondaries write slices of the request to a file at
 *   chosen file offsets; the file holds those slices, the rest is untouched.
 * - READ request: two secondaries read the two halves of a file into the
 *   request's buffer swapped; the client reads them back swapped.
 */
#include "fused_lib.h"

#define LEN	(16U << 10)

static void check_pair(int pres, int sres, int want, const char *what)
{
	KL_EXPECT_EQ(sres, want, what);
	KL_EXPECT_EQ(pres, 0, "primary of a successful secondary");
}

int main(void)
{
	unsigned char *want, *got;
	struct kl_ublk_client c;
	struct kl_ublk_dev d;
	unsigned int tag;
	int fd, pres, sres;
	bool last;
	ssize_t n;

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	kl_ublk_dev_setup(&d, 0);
	want = malloc(4 * LEN);
	got = malloc(4 * LEN);

	/* WRITE: slices of the request land at the file offsets asked for */
	fd = kl_tmp_file(4 * LEN, kl_fill, 9);
	kl_ublk_client_start(&c, d.dev_id, true, LEN, 1 << 20);
	kl_fill(c.buf, LEN, 1);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_WRITE, 1 << 20);
	fu_fused_rw(&d, tag, IORING_OP_WRITE, fd, 4608, 3072, 1000, &pres,
		    &sres, &last);
	check_pair(pres, sres, 3072, "WRITE 3072 bytes at buffer offset 4608");
	fu_fused_rw(&d, tag, IORING_OP_WRITE, fd, 0, 512, 8192, &pres, &sres,
		    &last);
	check_pair(pres, sres, 512, "WRITE 512 bytes at buffer offset 0");
	kl_ublk_commit(&d, tag, LEN);
	n = kl_ublk_client_wait(&c);
	KL_EXPECT_EQ(n, LEN, "client pwrite");

	kl_fill(want, 4 * LEN, 9);
	memcpy(want + 1000, (char *)c.buf + 4608, 3072);
	memcpy(want + 8192, c.buf, 512);
	if (pread(fd, got, 4 * LEN, 0) != 4 * LEN)
		kl_fail("reading back the file: %s", strerror(errno));
	for (n = 0; n < 4 * LEN; n++)
		if (got[n] != want[n])
			kl_fail("file byte %zd: want %#x, got %#x", n, want[n],
				got[n]);
	close(fd);

	/* READ: the file's halves land swapped in the client's buffer */
	fd = kl_tmp_file(LEN, kl_fill, 5);
	kl_ublk_client_start(&c, d.dev_id, false, LEN, 2 << 20);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 2 << 20);
	fu_fused_rw(&d, tag, IORING_OP_READ, fd, LEN / 2, LEN / 2, 0, &pres,
		    &sres, &last);
	check_pair(pres, sres, LEN / 2, "READ into the second half");
	fu_fused_rw(&d, tag, IORING_OP_READ, fd, 0, LEN / 2, LEN / 2, &pres,
		    &sres, &last);
	check_pair(pres, sres, LEN / 2, "READ into the first half");
	kl_ublk_commit(&d, tag, LEN);
	n = kl_ublk_client_wait(&c);
	KL_EXPECT_EQ(n, LEN, "client pread");
	kl_fill(want, LEN, 5);
	if (memcmp(c.buf, want + LEN / 2, LEN / 2) ||
	    memcmp((char *)c.buf + LEN / 2, want, LEN / 2))
		kl_fail("client buffer: halves not where the secondaries put them");
	close(fd);

	kl_ublk_dev_del(&d);
	kl_pass();
}
