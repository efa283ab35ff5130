// SPDX-License-Identifier: GPL-2.0
/*
 * bzc_bw a|b write|read SIZE QD COUNT TAG: bandwidth of COUNT bzc WRITEs or
 * READs of SIZE between two guests on one link, QD of them in flight. Both
 * guests run it at once (rdma_bzc_perf.sh, which measures both guests' CPU
 * around it); TAG names this run's barriers.
 *
 * b listens, accepts a's connection and registers QD * SIZE bytes (region 1)
 * for READ and WRITE; a keeps QD commands of SIZE in flight, command i to
 * slot i of the region, until COUNT have completed, each of which must say
 * SIZE. The bandwidth is the bytes over the time from the first submission to
 * the last completion.
 *
 * So that a fast number cannot come from a broken path: a WRITE run's data is
 * a pattern and b checks slot 0 after its DEREG (once DEREG completes every
 * completed WRITE is placed, on iWARP too); for a READ run b fills slot 0 with
 * the pattern and a READs it once more at the end and checks it.
 * a prints `bzc_bw: result <MB/s>`.
 */
#include "bw_args.h"

#define SEED		0x62

static void role_b(int writing, size_t size, unsigned int qd, const char *tag)
{
	size_t len = (size_t)qd * size;
	unsigned char *buf = bzc_alloc(len);
	struct io_uring ring;
	struct kl_cqe c;
	long long bad;
	int l, f;

	kl_ring_init(&ring, 8, BZC_RING);
	if (!writing)
		bzc_fill(buf, size, SEED);
	l = bzc_open();
	f = bzc_open();
	bzc_prep_listen(&ring, l, BZC_PORT, 1);
	KL_EXPECT_EQ(bzc_run(&ring), 0, "b: LISTEN on its address");
	bzc_prep_accept(&ring, f, l, 'A');
	KL_EXPECT_EQ(io_uring_submit(&ring), 1, "b: submit ACCEPT");
	bw_barrier(tag, "listening");
	c = bzc_wait(&ring, "b: ACCEPT");
	KL_EXPECT_EQ(c.res, 0, "b: ACCEPT of a's connection");
	KL_EXPECT_EQ(bzc_reg(&ring, f, buf, len, BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE), 1,
		     "b: REG of QD * SIZE");
	bw_barrier(tag, "registered");
	bw_barrier(tag, "done");
	bw_barrier(tag, "read-back");	/* a READs slot 0 once more before the region goes */
	KL_EXPECT_EQ(bzc_dereg(&ring, f, 1), 0, "b: DEREG");
	if (writing) {
		bad = bzc_check(buf, size, SEED);
		KL_ASSERT(bad < 0, "b: slot 0 after a's WRITEs: byte %lld of %zu is not the pattern a wrote", bad, size);
	}
	bw_barrier(tag, "checked");
	io_uring_queue_exit(&ring);
	close(f);
	close(l);
}

static void role_a(int writing, size_t size, unsigned int qd, unsigned long long count, const char *tag)
{
	__u32 op = writing ? BZC_U_CMD_WRITE : BZC_U_CMD_READ;
	const char *opname = writing ? "WRITE" : "READ";
	unsigned char *buf = bzc_alloc(size);
	unsigned long long bytes = 0, done = 0, issued;
	long long start, last, bad;
	struct io_uring ring;
	double elapsed;
	unsigned int inflight;
	struct kl_cqe c;
	int f;

	kl_ring_init(&ring, 2 * qd, BZC_RING);
	if (writing)
		bzc_fill(buf, size, SEED);
	f = bzc_open();
	bw_barrier(tag, "listening");
	bzc_prep_connect(&ring, f, bzc_peer_addr(BZC_PORT), 'C');
	io_uring_submit(&ring);
	c = bzc_wait(&ring, "a: CONNECT to b");
	KL_EXPECT_EQ(c.res, 0, "a: CONNECT to b");
	bw_barrier(tag, "registered");

	start = kl_now_ms();
	for (unsigned int i = 0; i < qd; i++)
		bzc_prep_rw(&ring, f, op, buf, (__u64)i * size, size, 1, i);
	KL_EXPECT_EQ(io_uring_submit(&ring), (int)qd, "a: submit the first QD commands");
	inflight = qd;
	issued = qd;
	last = start;
	while (inflight) {
		c = bzc_wait(&ring, opname);
		inflight--;
		KL_ASSERT(c.res == (int)size, "a: %s %llu (slot %llu): want %zu, got %d%s%s", opname, done,
			  (unsigned long long)c.user_data, size, c.res, c.res < 0 ? " " : "", kl_err(c.res));
		bytes += size;
		done++;
		last = kl_now_ms();
		if (issued < count) {
			bzc_prep_rw(&ring, f, op, buf, c.user_data * size, size, 1, c.user_data);
			KL_EXPECT_EQ(io_uring_submit(&ring), 1, "a: submit the next command");
			inflight++;
			issued++;
		}
	}
	bw_barrier(tag, "done");

	if (!writing) {
		memset(buf, 0, size);
		KL_EXPECT_EQ(bzc_rw(&ring, f, BZC_U_CMD_READ, buf, 0, size, 1), size, "a: READ of slot 0 to check it");
		bad = bzc_check(buf, size, SEED);
		KL_ASSERT(bad < 0, "a: READ of slot 0: byte %lld of %zu is not the pattern b filled", bad, size);
	}
	bw_barrier(tag, "read-back");
	bw_barrier(tag, "checked");
	io_uring_queue_exit(&ring);
	close(f);

	elapsed = (double)(last - start) / 1000;
	KL_ASSERT(elapsed > 0 && done == count, "a: %llu of %llu commands, %llu bytes in %.3f s", done, count, bytes,
		  elapsed);
	kl_info("bzc_bw: %s %zu B, %u in flight: %llu commands, %llu bytes in %.3f s", opname, size, qd, done, bytes,
		elapsed);
	kl_info("bzc_bw: result %.2f", (double)bytes / 1e6 / elapsed);
}

int main(int argc, char **argv)
{
	struct bw_args a = bw_parse(argc, argv, "write", "read");

	/* no bzc_leave() at exit: the test is the script that runs this, several times */
	if (a.is_b)
		role_b(!strcmp(a.mode, "write"), a.size, a.qd, a.tag);
	else
		role_a(!strcmp(a.mode, "write"), a.size, a.qd, a.count, a.tag);
	kl_pass();
}
