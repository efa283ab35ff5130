// SPDX-License-Identifier: GPL-2.0
/*
 * Fixed IO at a non-zero offset into a request buffer whose bvecs are not
 * page sized (0003: "its bvecs are not uniformly sized, so the iterator is
 * advanced the slow way"). The client writes 16 pieces of 512 bytes from
 * 16 different pages in one O_DIRECT pwritev(): one request of 16 bvecs.
 * The server registers it and writes three ranges of it to the backing
 * file at offsets that fall inside and across those bvecs (512, 1536 and
 * 7680); each range must hold the pieces it covers. The page-size
 * arithmetic a user buffer's import uses would start 1536 in the wrong
 * piece.
 */
#include <sys/uio.h>

#include "zc_lib.h"

#define NR_PIECES	16
#define PIECE		512

static const struct { unsigned int off, len; } ranges[] = {
	{ 512, 1024 }, { 1536, 2048 }, { 7680, 512 },
};

static void client(struct kl_ublk_dev *d)
{
	struct iovec iov[NR_PIECES];
	unsigned char *mem;
	int fd, i;

	kl_ublk_close_inherited(d);
	fd = kl_ublk_bdev_open(d->dev_id, O_RDWR | O_DIRECT);
	if (fd < 0 || posix_memalign((void **)&mem, 4096, NR_PIECES * 4096))
		_exit(1);
	for (i = 0; i < NR_PIECES; i++) {
		iov[i].iov_base = mem + i * 4096 + 1024;
		iov[i].iov_len = PIECE;
		memset(iov[i].iov_base, 0x10 + i, PIECE);
	}
	_exit(pwritev(fd, iov, NR_PIECES, 0) == NR_PIECES * PIECE ? 0 : 1);
}

int main(void)
{
	unsigned char buf[NR_PIECES * PIECE];
	struct kl_ublk_dev d;
	unsigned int tag, i, j;
	int fd;
	pid_t pid;

	kl_ublk_require(&d, &zc_cfg);
	fd = kl_tmp_file(NR_PIECES * PIECE, kl_fill_byte, 0);
	kl_ublk_dev_setup(&d, 0);
	pid = fork();
	if (pid < 0)
		kl_fail("fork: %s", strerror(errno));
	if (!pid)
		client(&d);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_WRITE, 0);
	KL_EXPECT_EQ(d.iods[tag].nr_sectors, NR_PIECES,
		     "the scattered pwritev() as one request of 16 sectors");
	KL_EXPECT_EQ(zc_register(&d, tag, 5), 0, "register the request at 5");
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		KL_EXPECT_EQ(zc_fixed_rw(&d, IORING_OP_WRITE_FIXED, fd, ranges[i].off,
					 ranges[i].len, ranges[i].off, 5),
			     (int)ranges[i].len, "WRITE_FIXED of a range of slot 5");
	KL_EXPECT_EQ(zc_unregister(&d, tag, 5), 0, "unregister 5");
	kl_ublk_commit(&d, tag, NR_PIECES * PIECE);
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS), 0, "client pwritev completes");

	KL_EXPECT_EQ(pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf), "pread backing file");
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		for (j = ranges[i].off; j < ranges[i].off + ranges[i].len; j++)
			KL_ASSERT(buf[j] == 0x10 + j / PIECE,
				  "byte %u (range at %u) is %#x, want piece %u's %#x", j,
				  ranges[i].off, buf[j], j / PIECE, 0x10 + j / PIECE);
	/* and nothing outside the ranges was written */
	KL_ASSERT(buf[0] == 0 && buf[4096] == 0, "bytes outside the ranges were written");
	kl_ublk_dev_del(&d);
	kl_pass();
}
