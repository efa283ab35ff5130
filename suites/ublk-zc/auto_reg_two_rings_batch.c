// SPDX-License-Identifier: GPL-2.0
/*
 * UBLK_F_AUTO_BUF_REG with the commands of one queue on two rings of the
 * server's task (review finding A4): tags 1 and 3 move to a second ring
 * (their requests are committed through it), tags 0 and 2 stay on the
 * queue ring. Then, for 20 rounds, a client submits four O_DIRECT reads in
 * one io_uring_submit(), so the four requests reach the driver together,
 * and the server waits for all four without submitting anything:
 * - each request is delivered, on the ring its tag's command came through
 *   (6.12 delivered such a batch in the task work of one command and left
 *   the other ring's completions on that ring's deferred list, unflushed
 *   until it submitted something, and registered their buffers in that
 *   ring's table without its lock);
 * - its pages are registered at its index in that ring's table: the server
 *   fills each with READ_FIXED on that ring from a file, commits it there,
 *   and the client reads the file's bytes.
 */
#include "zc_lib.h"

#define LEN	4096U
#define NR	4		/* reads per round: one per tag */
#define ROUNDS	20
#define SPAN	(64U << 10)	/* between the reads: no merging */
#define FILE_LEN ((ROUNDS + 1) * NR * SPAN)
#define UD_B_RW	(20ULL << 32)

static struct io_uring b;	/* the second ring: tags 1 and 3 */

static bool on_b(unsigned int tag)
{
	return tag & 1;
}

/* COMMIT_AND_FETCH of @tag with @res through ring B (plain fd). */
static void commit_on_b(struct kl_ublk_dev *d, unsigned int tag, int res)
{
	struct io_uring_sqe *sqe = kl_sqe(&b);

	kl_ublk_prep_io_cmd(d, sqe, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag, res,
			    d->fetch_addr[tag]);
	sqe->fd = d->cdev_fd;
	sqe->flags = 0;
	sqe->user_data = KL_UBLK_UD_FETCH | tag;
	KL_EXPECT_EQ(io_uring_submit(&b), 1, "COMMIT_AND_FETCH on the second ring");
}

/* READ_FIXED of @tag's request from @fd into buffer @tag of ring B: the result. */
static int read_fixed_on_b(int fd, unsigned int tag, unsigned int len, __u64 off)
{
	struct io_uring_sqe *sqe = kl_sqe(&b);
	struct kl_cqe cqe;
	int ret;

	io_uring_prep_rw(IORING_OP_READ_FIXED, sqe, fd, NULL, len, off);
	sqe->buf_index = tag;
	sqe->user_data = UD_B_RW | tag;
	KL_EXPECT_EQ(io_uring_submit(&b), 1, "READ_FIXED on the second ring");
	ret = kl_wait_timeout(&b, KL_TIMEOUT_MS, &cqe);
	if (ret)
		kl_fail("READ_FIXED of tag %u on the second ring: no CQE (%s)", tag,
			strerror(-ret));
	if (cqe.user_data != (UD_B_RW | tag))
		kl_fail("second ring: unexpected CQE %llx res %d",
			(unsigned long long)cqe.user_data, cqe.res);
	return cqe.res;
}

/*
 * A forked client: NR O_DIRECT reads of LEN at @offs in one submission.
 * Exit status 0, 1 on an IO error, 2 if @verify and a buffer is not
 * @want at its offset.
 */
static pid_t start_client(struct kl_ublk_dev *d, const off_t *offs, bool verify,
			  const unsigned char *want)
{
	pid_t pid = fork();

	if (pid < 0)
		kl_fail("fork: %s", strerror(errno));
	if (!pid) {
		struct io_uring_cqe *cqe;
		struct io_uring r;
		void *buf[NR];
		int fd, i;

		io_uring_queue_exit(&b);
		kl_ublk_close_inherited(d);
		fd = kl_ublk_bdev_open(d->dev_id, O_RDONLY | O_DIRECT);
		if (fd < 0 || io_uring_queue_init(8, &r, 0))
			_exit(1);
		for (i = 0; i < NR; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&r);

			if (posix_memalign(&buf[i], 4096, LEN))
				_exit(1);
			memset(buf[i], 0xa5, LEN);
			io_uring_prep_read(sqe, fd, buf[i], LEN, offs[i]);
		}
		if (io_uring_submit(&r) != NR)
			_exit(1);
		for (i = 0; i < NR; i++) {
			if (io_uring_wait_cqe(&r, &cqe) || cqe->res != (int)LEN)
				_exit(1);
			io_uring_cqe_seen(&r, cqe);
		}
		for (i = 0; verify && i < NR; i++)
			if (memcmp(buf[i], want + offs[i], LEN))
				_exit(2);
		_exit(0);
	}
	return pid;
}

/* Which of @offs the request of @tag reads: its index, or -1 (a stray request). */
static int which(const struct kl_ublk_dev *d, unsigned int tag, const off_t *offs)
{
	__u64 start = d->iods[tag].start_sector << 9;

	for (int i = 0; i < NR; i++)
		if ((__u64)offs[i] == start && ublksrv_get_op(&d->iods[tag]) == UBLK_IO_OP_READ)
			return i;
	return -1;
}

/*
 * Wait for the NR requests of @offs with nothing submitted on either ring;
 * ring[tag] says where each came. A stray request (not one of @offs) is
 * served at once as a null target on its ring.
 */
static void collect(struct kl_ublk_dev *d, const off_t *offs, int round, char *ring)
{
	long long end = kl_now_ms() + KL_TIMEOUT_MS;
	int got = 0;

	memset(ring, 0, KL_UBLK_DEPTH);
	while (got < NR) {
		struct kl_cqe cqe;
		int tag;

		if (kl_now_ms() > end)
			kl_fail("round %d: %d of %d requests delivered in %d ms with nothing submitted (tags on the queue ring: %c%c, on the second: %c%c); a delivery is stuck on a ring's deferred completions",
				round, got, NR, KL_TIMEOUT_MS, ring[0] ? '0' : '-',
				ring[2] ? '2' : '-', ring[1] ? '1' : '-', ring[3] ? '3' : '-');
		tag = kl_ublk_next_req(d, 5);
		if (tag >= 0) {
			if (on_b(tag))
				kl_fail("round %d: tag %u delivered on the queue ring, its command is on the second",
					round, tag);
			if (which(d, tag, offs) < 0) {
				kl_ublk_commit(d, tag, d->iods[tag].nr_sectors << 9);
				continue;
			}
			ring[tag] = 'A';
			got++;
			continue;
		}
		if (tag != -ETIME)
			kl_fail("round %d: queue ring: %s", round, strerror(-tag));
		if (kl_wait_timeout(&b, 5, &cqe))
			continue;
		tag = KL_UBLK_UD_TAG(cqe.user_data);
		if (KL_UBLK_UD_KIND(cqe.user_data) != KL_UBLK_UD_FETCH || cqe.res != UBLK_IO_RES_OK)
			kl_fail("round %d: second ring: CQE %llx res %d", round,
				(unsigned long long)cqe.user_data, cqe.res);
		if (!on_b(tag))
			kl_fail("round %d: tag %u delivered on the second ring, its command is on the queue ring",
				round, tag);
		if (which(d, tag, offs) < 0) {
			commit_on_b(d, tag, d->iods[tag].nr_sectors << 9);
			continue;
		}
		ring[tag] = 'B';
		got++;
	}
}

/* Fill @tag's request from @fd through its auto-registered buffer on @ring, commit it there. */
static void serve(struct kl_ublk_dev *d, int fd, unsigned int tag, char ring, int round)
{
	unsigned int len = d->iods[tag].nr_sectors << 9;
	__u64 off = d->iods[tag].start_sector << 9;
	int res;

	if (ring == 'B')
		res = read_fixed_on_b(fd, tag, len, off);
	else
		res = zc_fixed_rw(d, IORING_OP_READ_FIXED, fd, 0, len, off, tag);
	if (res != (int)len)
		kl_fail("round %d: READ_FIXED into tag %u's buffer on ring %c: %d (want %u): not registered there",
			round, tag, ring, res, len);
	if (ring == 'B')
		commit_on_b(d, tag, len);
	else
		kl_ublk_commit(d, tag, len);
}

static void offsets(off_t *offs, int round)
{
	for (int i = 0; i < NR; i++)
		offs[i] = (off_t)(round * NR + i) * SPAN;
}

int main(void)
{
	struct kl_ublk_dev d;
	unsigned char *want;
	off_t offs[NR];
	char ring[KL_UBLK_DEPTH];
	int fd, round, ret, i;
	unsigned int tag;
	pid_t pid;

	kl_ublk_require(&d, &zc_auto_cfg);
	zc_auto_index(&d, 0, 0);
	fd = kl_tmp_file(FILE_LEN, kl_fill, 21);
	want = malloc(FILE_LEN);
	if (!want)
		kl_fail("out of memory");
	kl_fill(want, FILE_LEN, 21);
	kl_ublk_dev_setup(&d, UBLK_F_AUTO_BUF_REG);
	kl_ring_init(&b, 16, 0);
	ret = io_uring_register_buffers_sparse(&b, ZC_NR_BUFS);
	if (ret)
		kl_fail("sparse buffers on the second ring: %s", strerror(-ret));

	/* Move tags 1 and 3: their requests are committed through ring B. */
	offsets(offs, ROUNDS);
	pid = start_client(&d, offs, false, want);
	for (i = 0; i < NR; i++) {
		tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
		if (which(&d, tag, offs) < 0) {
			kl_ublk_commit(&d, tag, d.iods[tag].nr_sectors << 9);
			i--;
			continue;
		}
		if (!on_b(tag)) {
			serve(&d, fd, tag, 'A', -1);
			continue;
		}
		/* the buffer is on the queue ring: give it back there first */
		KL_EXPECT_EQ(zc_unregister(&d, tag, tag), 0, "unregister before moving the tag");
		commit_on_b(&d, tag, LEN);
	}
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS), 0, "client of the setup round");

	for (round = 0; round < ROUNDS; round++) {
		offsets(offs, round);
		pid = start_client(&d, offs, true, want);
		collect(&d, offs, round, ring);
		for (tag = 0; tag < KL_UBLK_DEPTH; tag++)
			if (ring[tag])
				serve(&d, fd, tag, ring[tag], round);
		ret = kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS);
		if (ret)
			kl_fail("round %d: client %s (%d)", round,
				ret == 2 ? "read other bytes than the file's" : "failed", ret);
	}
	kl_ublk_dev_del(&d);
	io_uring_queue_exit(&b);
	close(fd);
	free(want);
	kl_pass();
}
