// SPDX-License-Identifier: GPL-2.0
/*
 * The registered buffer has exactly the request's bvecs (upstream fixes
 * "use actual bvec count" and the bvec merge overflow): requests built
 * from many scattered sub-page pieces (one bvec each) and from adjacent
 * bios whose pages are physically contiguous (mergeable into fewer
 * segments than bvecs) go through REGISTER -> fixed IO -> UNREGISTER with
 * every byte in the right place, both directions.
 *
 * The server records each request's op, first sector and length, and the
 * test fails unless the kernel built the shapes it means to test: the
 * scattered O_DIRECT write and read are each one request of 16 sectors
 * (16 bvecs of 512 bytes), and the two half-page writes and reads are each
 * merged into one request of 8 sectors (two bios). The halves go in one
 * submission of three SQEs (a NOP is the third) because io_uring only
 * plugs a submission of more than two, and without a plug nothing merges
 * the second bio into the first one's request.
 */
#include <sys/uio.h>

#include "zc_lib.h"

#define NR_PIECES	16
#define SCATTER_OFF	(1 << 20)
#define HALVES_OFF	(2 << 20)
#define MAX_SEEN	256

struct seen {
	__u8 op;
	__u32 nr_sectors;
	__u64 start_sector;
};

static struct seen seen[MAX_SEEN];
static int nr_seen;

/* was there a request of exactly this shape? */
static bool saw(__u8 op, __u64 off, __u32 bytes)
{
	int i;

	for (i = 0; i < nr_seen; i++)
		if (seen[i].op == op && seen[i].start_sector == off >> 9 &&
		    seen[i].nr_sectors == bytes >> 9)
			return true;
	return false;
}

static void dump_seen(void)
{
	int i;

	for (i = 0; i < nr_seen; i++)
		kl_info("request %d: %s sector %llu, %u sectors", i,
			seen[i].op == UBLK_IO_OP_READ ? "READ" :
			seen[i].op == UBLK_IO_OP_WRITE ? "WRITE" : "other",
			(unsigned long long)seen[i].start_sector,
			seen[i].nr_sectors);
}

/* the two halves of one page at HALVES_OFF in one plugged submission */
static int halves(struct io_uring *ring, int fd, unsigned char *half, bool write)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int i;

	for (i = 0; i < 2; i++) {
		sqe = io_uring_get_sqe(ring);
		if (write)
			io_uring_prep_write(sqe, fd, half + i * 2048, 2048,
					    HALVES_OFF + i * 2048);
		else
			io_uring_prep_read(sqe, fd, half + i * 2048, 2048,
					   HALVES_OFF + i * 2048);
		sqe->user_data = 2048;
	}
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_nop(sqe);
	sqe->user_data = 0;
	if (io_uring_submit(ring) != 3)
		return -1;
	for (i = 0; i < 3; i++) {
		if (io_uring_wait_cqe(ring, &cqe) ||
		    cqe->res != (int)cqe->user_data)
			return -1;
		io_uring_cqe_seen(ring, cqe);
	}
	return 0;
}

/* client: exit 0 ok, 1 IO error, 2 data mismatch */
static void client(struct kl_ublk_dev *d)
{
	struct iovec iov[NR_PIECES];
	struct io_uring ring;
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
	if (pwritev(fd, iov, NR_PIECES, SCATTER_OFF) != NR_PIECES * 512)
		_exit(1);
	for (i = 0; i < NR_PIECES; i++)
		memset(iov[i].iov_base, 0, 512);
	if (preadv(fd, iov, NR_PIECES, SCATTER_OFF) != NR_PIECES * 512)
		_exit(1);
	for (i = 0; i < NR_PIECES; i++)
		for (j = 0; j < 512; j++)
			if (((unsigned char *)iov[i].iov_base)[j] != 0x10 + i)
				_exit(2);

	/* two adjacent writes out of the two halves of one page, one batch */
	memset(half, 0xa1, 2048);
	memset(half + 2048, 0xb2, 2048);
	if (halves(&ring, fd, half, true))
		_exit(1);
	memset(half, 0, 4096);
	if (halves(&ring, fd, half, false))
		_exit(1);
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
			if (nr_seen < MAX_SEEN)
				seen[nr_seen++] = (struct seen){
					.op = d.iods[t].op_flags & 0xff,
					.nr_sectors = d.iods[t].nr_sectors,
					.start_sector = d.iods[t].start_sector,
				};
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

	if (!saw(UBLK_IO_OP_WRITE, SCATTER_OFF, NR_PIECES * 512) ||
	    !saw(UBLK_IO_OP_READ, SCATTER_OFF, NR_PIECES * 512) ||
	    !saw(UBLK_IO_OP_WRITE, HALVES_OFF, 4096) ||
	    !saw(UBLK_IO_OP_READ, HALVES_OFF, 4096)) {
		dump_seen();
		kl_fail("the kernel did not build the requests this test is about: want a WRITE and a READ of %d sectors at sector %d (16 bvecs) and of 8 sectors at sector %d (two merged bios)",
			NR_PIECES, SCATTER_OFF >> 9, HALVES_OFF >> 9);
	}
	KL_EXPECT_EQ(pread(fd, buf, NR_PIECES * 512, SCATTER_OFF), NR_PIECES * 512,
		     "pread scattered");
	for (i = 0; i < NR_PIECES * 512; i++)
		KL_ASSERT(buf[i] == 0x10 + i / 512,
			  "backing byte %d is %#x, want %#x", i, buf[i],
			  0x10 + i / 512);
	KL_EXPECT_EQ(pread(fd, buf, 4096, HALVES_OFF), 4096, "pread halves");
	for (i = 0; i < 4096; i++)
		KL_ASSERT(buf[i] == (i < 2048 ? 0xa1 : 0xb2),
			  "backing byte %d of the merged page is %#x", i, buf[i]);
	kl_info("%d requests served", nr);
	kl_ublk_dev_del(&d);
	kl_pass();
}
