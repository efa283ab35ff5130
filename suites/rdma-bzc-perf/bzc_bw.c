// SPDX-License-Identifier: GPL-2.0
/*
 * bzc_bw a|b write|read SIZE TAG: bandwidth of bzc WRITE or READ between two
 * guests on one link, queue depth 8, KL_PERF_TIME seconds (2). Both guests run
 * it at once (rdma_bzc_perf.sh); TAG names this run's barriers.
 *
 * b listens, accepts a's connection and registers SIZE * 8 bytes plus one page
 * (region 1) for READ and WRITE; a keeps 8 commands of SIZE in flight, command
 * i to slot i of the region, and counts the bytes of the completions, each of
 * which must say SIZE. CPU: each guest's busy time (/proc/stat: all but idle
 * and iowait) over the timed part; b writes its own into the region's last
 * page, a READs it from there, so a can print the cost of both.
 *
 * So that a fast number cannot come from a broken path: a WRITE run's data is
 * pattern TAG-seed and b checks slot 0 after its DEREG; for a READ run b fills
 * slot 0 with the pattern and a READs it once more at the end and checks it.
 * a prints `bzc_bw: result <MB/s> <CPU s per GB, both guests>`.
 */
#include "../rdma-bzc/bzc_test.h"

#define QD		8
#define CPU_PAGE	4096
#define SEED		0x62

struct busy {
	unsigned long long busy, total;
};

/* This guest's CPU ticks since boot, all CPUs: busy (all but idle and iowait) and total. */
static struct busy cpu_ticks(void)
{
	unsigned long long v[8] = { 0 };
	struct busy b = { 0, 0 };
	FILE *f = fopen("/proc/stat", "r");
	int n;

	KL_ASSERT(f, "/proc/stat: %s", strerror(errno));
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &v[6], &v[7]);
	fclose(f);
	KL_ASSERT(n >= 7, "/proc/stat: no 'cpu' line of 7 or more fields (%d read)", n);
	for (int i = 0; i < 8; i++)
		b.total += v[i];
	b.busy = b.total - v[3] - v[4];
	return b;
}

static double busy_seconds(struct busy from, struct busy to)
{
	return (double)(to.busy - from.busy) / (double)sysconf(_SC_CLK_TCK);
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	KL_ASSERT(!*end && v >= 1 && v <= (16 << 20), "SIZE '%s': want 1 B..16M (bzc's largest command)", s);
	return v;
}

static char tag_buf[128];

/* The barrier TAG-what of this run. */
static void barrier(const char *tag, const char *what)
{
	snprintf(tag_buf, sizeof(tag_buf), "%s-%s", tag, what);
	bzc_barrier(tag_buf);
}

static void role_b(int writing, size_t size, const char *tag)
{
	size_t slots = (size_t)QD * size, len = slots + CPU_PAGE;
	unsigned char *buf = bzc_alloc(len);
	struct busy t0, t1;
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
	barrier(tag, "listening");
	c = bzc_wait(&ring, "b: ACCEPT");
	KL_EXPECT_EQ(c.res, 0, "b: ACCEPT of a's connection");
	KL_EXPECT_EQ(bzc_reg(&ring, f, buf, len, BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE), 1,
		     "b: REG of QD * SIZE + a page");
	barrier(tag, "registered");
	t0 = cpu_ticks();
	barrier(tag, "done");
	t1 = cpu_ticks();
	snprintf((char *)buf + slots, CPU_PAGE, "cpu %.3f\n", busy_seconds(t0, t1));
	barrier(tag, "cpu");
	barrier(tag, "cpu-read");
	KL_EXPECT_EQ(bzc_dereg(&ring, f, 1), 0, "b: DEREG");
	if (writing) {
		bad = bzc_check(buf, size, SEED);
		KL_ASSERT(bad < 0, "b: slot 0 after a's WRITEs: byte %lld of %zu is not the pattern a wrote", bad, size);
	}
	barrier(tag, "checked");
	io_uring_queue_exit(&ring);
	close(f);
	close(l);
}

static void role_a(int writing, size_t size, const char *tag)
{
	__u32 op = writing ? BZC_U_CMD_WRITE : BZC_U_CMD_READ;
	const char *opname = writing ? "WRITE" : "READ";
	unsigned char *buf = bzc_alloc(size), *cpu_page = bzc_alloc(CPU_PAGE);
	const char *t = getenv("KL_PERF_TIME");
	long long secs = t && atoi(t) > 0 ? atoi(t) : 2, start, end, last;
	unsigned long long bytes = 0, done = 0;
	double cpu_b = -1, elapsed, mbps, gb;
	struct busy t0, t1;
	struct io_uring ring;
	int inflight = 0, f;
	struct kl_cqe c;
	long long bad;

	kl_ring_init(&ring, 2 * QD, BZC_RING);
	if (writing)
		bzc_fill(buf, size, SEED);
	f = bzc_open();
	barrier(tag, "listening");
	bzc_prep_connect(&ring, f, bzc_peer_addr(BZC_PORT), 'C');
	io_uring_submit(&ring);
	c = bzc_wait(&ring, "a: CONNECT to b");
	KL_EXPECT_EQ(c.res, 0, "a: CONNECT to b");
	barrier(tag, "registered");

	t0 = cpu_ticks();
	start = kl_now_ms();
	end = start + secs * 1000;
	for (int i = 0; i < QD; i++)
		bzc_prep_rw(&ring, f, op, buf, (__u64)i * size, size, 1, i);
	KL_EXPECT_EQ(io_uring_submit(&ring), QD, "a: submit the first QD commands");
	inflight = QD;
	last = start;
	while (inflight) {
		c = bzc_wait(&ring, opname);
		inflight--;
		KL_ASSERT(c.res == (int)size, "a: %s %llu (slot %llu): want %zu, got %d%s%s", opname, done,
			  (unsigned long long)c.user_data, size, c.res, c.res < 0 ? " " : "", kl_err(c.res));
		bytes += size;
		done++;
		last = kl_now_ms();
		if (last < end) {
			bzc_prep_rw(&ring, f, op, buf, c.user_data * size, size, 1, c.user_data);
			KL_EXPECT_EQ(io_uring_submit(&ring), 1, "a: submit the next command");
			inflight++;
		}
	}
	t1 = cpu_ticks();
	barrier(tag, "done");

	if (!writing) {
		memset(buf, 0, size);
		KL_EXPECT_EQ(bzc_rw(&ring, f, BZC_U_CMD_READ, buf, 0, size, 1), size, "a: READ of slot 0 to check it");
		bad = bzc_check(buf, size, SEED);
		KL_ASSERT(bad < 0, "a: READ of slot 0: byte %lld of %zu is not the pattern b filled", bad, size);
	}
	barrier(tag, "cpu");
	KL_EXPECT_EQ(bzc_rw(&ring, f, BZC_U_CMD_READ, cpu_page, (__u64)QD * size, CPU_PAGE, 1), CPU_PAGE,
		     "a: READ of b's CPU page");
	KL_ASSERT(sscanf((char *)cpu_page, "cpu %lf", &cpu_b) == 1 && cpu_b >= 0,
		  "a: b's CPU page says '%.40s', not 'cpu <seconds>'", (char *)cpu_page);
	barrier(tag, "cpu-read");
	barrier(tag, "checked");
	io_uring_queue_exit(&ring);
	close(f);

	elapsed = (double)(last - start) / 1000;
	KL_ASSERT(elapsed > 0 && bytes > 0, "a: %llu bytes in %.3f s", bytes, elapsed);
	mbps = (double)bytes / 1e6 / elapsed;
	gb = (double)bytes / 1e9;
	kl_info("bzc_bw: %s %zu B, %d in flight: %llu commands, %llu bytes in %.3f s: %.2f MB/s; busy CPU a %.3f s, b %.3f s",
		opname, size, QD, done, bytes, elapsed, mbps, busy_seconds(t0, t1), cpu_b);
	kl_info("bzc_bw: result %.2f %.3f", mbps, (busy_seconds(t0, t1) + cpu_b) / gb);
}

int main(int argc, char **argv)
{
	const char *role = argc > 1 ? argv[1] : "", *mode = argc > 2 ? argv[2] : "";

	KL_ASSERT(argc == 5 && (!strcmp(role, "a") || !strcmp(role, "b")) &&
			  (!strcmp(mode, "write") || !strcmp(mode, "read")),
		  "usage: %s a|b write|read SIZE TAG", argv[0]);
	/* no bzc_leave() at exit: the test is the script that runs this, several times */
	if (!strcmp(role, "b"))
		role_b(!strcmp(mode, "write"), parse_size(argv[3]), argv[4]);
	else
		role_a(!strcmp(mode, "write"), parse_size(argv[3]), argv[4]);
	kl_pass();
}
