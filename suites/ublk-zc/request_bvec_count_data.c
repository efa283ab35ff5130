// SPDX-License-Identifier: GPL-2.0
/*
 * The registered buffer has exactly the request's bvecs (upstream fixes
 * "use actual bvec count" and the bvec merge overflow): requests built
 * from many scattered sub-page pieces (one bvec each) and from adjacent
 * bios whose pages are physically contiguous (mergeable into fewer
 * segments than bvecs) go through REGISTER -> fixed IO -> UNREGISTER with
 * every byte in the right place, both directions.
 */
#include <sys/uio.h>

#include "zc_lib.h"

#define NR_PIECES	16

/* client: exit 0 ok, 1 IO error, 2 data mismatch */
static void client(struct kl_ublk_dev *d)
{
	struct iovec iov[NR_PIECES];
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	unsigned char *mem, *half;
	int fd, i, j;

	kl_ublk_close_inherited(d);
	fd = kl_ublk_bdev_open(d->dev_id, O_RDWR | O_DIRECT);
	if (fd < 0 || posix_memalign((void **)&mem, 4096, NR_PIECES * 4096) ||
	    posix_memalign((void **)&half, 4096, 4096) ||
	    io_uring_queue_init(8, &ring, 0))
		_exit(1);

	/* scattered: 512 bytes at offset 1024 of 16 different pages */
	for (i = 0; i < NR_PIECES; i++) {
		iov[i].iov_base = mem + i * 4096 + 1024;
		iov[i].iov_len = 512;
		memset(iov[i].iov_base, 0x10 + i, 512);
	}
	if (pwritev(fd, iov, NR_PIECES, 1 << 20) != NR_PIECES * 512)
		_exit(1);
	for (i = 0; i < NR_PIECES; i++)
		memset(iov[i].iov_base, 0, 512);
	if (preadv(fd, iov, NR_PIECES, 1 << 20) != NR_PIECES * 512)
		_exit(1);
	for (i = 0; i < NR_PIECES; i++)
		for (j = 0; j < 512; j++)
			if (((unsigned char *)iov[i].iov_base)[j] != 0x10 + i)
				_exit(2);

	/* two adjacent writes out of the two halves of one page, one batch */
	memset(half, 0xa1, 2048);
	memset(half + 2048, 0xb2, 2048);
	io_uring_prep_write(io_uring_get_sqe(&ring), fd, half, 2048, 2 << 20);
	io_uring_prep_write(io_uring_get_sqe(&ring), fd, half + 2048, 2048,
			    (2 << 20) + 2048);
	if (io_uring_submit(&ring) != 2)
		_exit(1);
	for (i = 0; i < 2; i++) {
		if (io_uring_wait_cqe(&ring, &cqe) || cqe->res != 2048)
			_exit(1);
		io_uring_cqe_seen(&ring, cqe);
	}
	memset(half, 0, 4096);
	io_uring_prep_read(io_uring_get_sqe(&ring), fd, half, 2048, 2 << 20);
	io_uring_prep_read(io_uring_get_sqe(&ring), fd, half + 2048, 2048,
			   (2 << 20) + 2048);
	if (io_uring_submit(&ring) != 2)
		_exit(1);
	for (i = 0; i < 2; i++) {
		if (io_uring_wait_cqe(&ring, &cqe) || cqe->res != 2048)
			_exit(1);
		io_uring_cqe_seen(&ring, cqe);
	}
	for (j = 0; j < 4096; j++)
		if (half[j] != (j < 2048 ? 0xa1 : 0xb2))
			_exit(2);
	_exit(0);
}

int main(void)
{
	unsigned char buf[8192];
	int fd, ret, status, i, nr = 0;
	struct kl_ublk_dev d;
	pid_t pid;

	kl_ublk_require(&d, &zc_cfg);
	fd = kl_tmp_file(4 << 20, kl_fill_byte, 0);
	kl_ublk_dev_setup(&d, 0);
	pid = fork();
	if (!pid)
		client(&d);

	for (;;) {
		int t = kl_ublk_next_req(&d, 1);

		if (t >= 0) {
			ret = zc_serve_chain(&d, t, fd, t);
			if (ret < 0)
				kl_fail("request %d (tag %d, %u sectors): IO chain %d",
					nr, t, d.iods[t].nr_sectors, ret);
			nr++;
		} else if (waitpid(pid, &status, WNOHANG) == pid) {
			break;
		}
	}
	KL_ASSERT(WIFEXITED(status), "client died");
	KL_EXPECT_EQ(WEXITSTATUS(status), 0, "client (1 = IO error, 2 = wrong data)");

	KL_EXPECT_EQ(pread(fd, buf, NR_PIECES * 512, 1 << 20), NR_PIECES * 512,
		     "pread scattered");
	for (i = 0; i < NR_PIECES * 512; i++)
		KL_ASSERT(buf[i] == 0x10 + i / 512,
			  "backing byte %d is %#x, want %#x", i, buf[i],
			  0x10 + i / 512);
	KL_EXPECT_EQ(pread(fd, buf, 4096, 2 << 20), 4096, "pread halves");
	for (i = 0; i < 4096; i++)
		KL_ASSERT(buf[i] == (i < 2048 ? 0xa1 : 0xb2),
			  "backing byte %d of the merged page is %#x", i, buf[i]);
	kl_info("%d requests served", nr);
	kl_ublk_dev_del(&d);
	kl_pass();
}
