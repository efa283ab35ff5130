// SPDX-License-Identifier: GPL-2.0
/*
 * write_read_under_loss_reorder_pair rxe|siw ['netem args']: two guests, and
 * between them a link that loses and reorders: each guest's eth0 sends
 * through netem (NETEM below, or argv[2]) from the moment the connection is
 * up until both have checked their data. (The manifest gives rxe a milder
 * link: RoCE's go-back-N resends everything after each hole, and under 25%
 * reorder 16 x 1 MiB of READs did not finish in 240 s.) b
 * registers 32 MiB holding pattern 1; a READs all of it, 16 READs of 1 MiB
 * at queue depth 8 and then one of 16 MiB, and checks every byte; then a
 * WRITEs pattern 2 over all of it the same way; b DEREGs and checks every
 * byte (on iWARP a WRITE is placed once the peer's answer to the revoke has
 * come). Every command completes exactly once, with its length, all of them
 * within IO_BOUND_S (scaled), and no completion comes after the last. Each
 * guest's netem must have dropped packets (tc -s qdisc), so the test cannot
 * pass over a link that lost nothing. REG and DEREG cross the lossy link too;
 * connecting and closing do not (netem is off then).
 */
#include "../rdma-bzc/bzc_test.h"	/* the suite of the set: one helper header for both */

#define REGION		(32u << 20)
#define SMALL		(1u << 20)
#define NSMALL		16
#define BIG		(16u << 20)
#define DEPTH		8
#define IO_BOUND_S	120
/* the link's impairment when the command line names none (argv[2]: netem's arguments) */
#define NETEM		"loss 5% delay 5ms 2ms reorder 25% 50%"
/* iproute2's tc, as the manifest copies it: busybox sh would run its own tc applet first */
#define TC		"/kl/bin/tc"

static int netem_set;
static const char *netem = NETEM;

static void netem_off(void)
{
	if (netem_set && system(TC " qdisc del dev eth0 root") != 0)
		fprintf(stderr, "# tc qdisc del dev eth0 root failed\n");
	netem_set = 0;
}

static void netem_on(void)
{
	char cmd[256];

	/* a test killed at its timeout cannot have taken its qdisc away: do it now, quietly */
	if (system(TC " qdisc del dev eth0 root >/dev/null 2>&1") < 0)
		kl_fail("system: %s", strerror(errno));
	snprintf(cmd, sizeof(cmd), TC " qdisc add dev eth0 root netem %s", netem);
	KL_ASSERT(system(cmd) == 0, "'%s' failed", cmd);
	netem_set = 1;
	atexit(netem_off);
}

/* What eth0's netem has sent and dropped so far (tc -s qdisc show dev eth0). */
static void netem_stats(unsigned long long *pkts, unsigned long long *dropped)
{
	char line[512];
	int netem = 0, found = 0;
	FILE *p = popen(TC " -s qdisc show dev eth0", "r");

	KL_ASSERT(p, "popen tc: %s", strerror(errno));
	while (fgets(line, sizeof(line), p)) {
		unsigned long long bytes;

		if (!strncmp(line, "qdisc ", 6))
			netem = !strncmp(line, "qdisc netem ", 12);
		else if (netem && sscanf(line, " Sent %llu bytes %llu pkt (dropped %llu", &bytes, pkts, dropped) == 3)
			found = 1;
	}
	pclose(p);
	KL_ASSERT(found, "no netem statistics on eth0 (tc -s qdisc show dev eth0)");
}

/*
 * n commands of op, len bytes each, command i between buf + off + i * len and the
 * same offset of b's region, at most DEPTH in flight; each must complete once with len
 * before the deadline. Returns the milliseconds it took.
 */
static long long rw_batch(struct io_uring *ring, int f, __u32 op, unsigned char *buf, __u64 off,
			  __u32 len, int n, long long deadline)
{
	const char *name = op == BZC_U_CMD_WRITE ? "WRITE" : "READ";
	long long start = kl_now_ms();
	int submitted = 0, completed = 0;
	char done[NSMALL] = { 0 };
	struct kl_cqe c;

	KL_ASSERT(n <= NSMALL, "batch of %d", n);
	while (completed < n) {
		while (submitted < n && submitted - completed < DEPTH) {
			__u64 at = off + (__u64)submitted * len;

			bzc_prep_rw(ring, f, op, buf + at, at, len, 1, submitted);
			KL_ASSERT(io_uring_submit(ring) == 1, "a: submit %s %d", name, submitted);
			submitted++;
		}
		KL_ASSERT(kl_now_ms() < deadline, "a: %d %ss of %u bytes still in flight %d s into the transfers",
			  submitted - completed, name, len, IO_BOUND_S * kl_scale());
		if (kl_wait_timeout(ring, 500, &c))
			continue;
		KL_ASSERT(c.user_data < (__u64)submitted && !done[c.user_data],
			  "a: a completion (res %d) for %s %llu of %u bytes, which %s", c.res, name,
			  (unsigned long long)c.user_data, len,
			  c.user_data < (__u64)submitted ? "had completed already" : "was never submitted");
		done[c.user_data] = 1;
		completed++;
		if (c.res != (int)len)
			kl_fail("a: %s %llu of %u bytes completed with %d%s%s%s: want its length", name,
				(unsigned long long)c.user_data, len, c.res, c.res < 0 ? " (" : "", kl_err(c.res),
				c.res < 0 ? ")" : "");
	}
	return kl_now_ms() - start;
}

static void side_a(const char *prov, struct io_uring *ring, int f)
{
	unsigned char *buf = bzc_alloc(REGION);
	long long deadline, ms[4], bad;
	struct kl_cqe c;

	bzc_barrier("registered");
	deadline = kl_now_ms() + IO_BOUND_S * 1000LL * kl_scale();
	ms[0] = rw_batch(ring, f, BZC_U_CMD_READ, buf, 0, SMALL, NSMALL, deadline);
	kl_info("%s: a: READ 16 x 1 MiB: %lld ms", prov, ms[0]);
	ms[1] = rw_batch(ring, f, BZC_U_CMD_READ, buf, NSMALL * SMALL, BIG, 1, deadline);
	bad = bzc_check(buf, REGION, 1);
	KL_ASSERT(bad < 0, "a: READs of b's 32 MiB: byte %lld differs from b's pattern", bad);
	bzc_fill(buf, REGION, 2);
	ms[2] = rw_batch(ring, f, BZC_U_CMD_WRITE, buf, 0, SMALL, NSMALL, deadline);
	ms[3] = rw_batch(ring, f, BZC_U_CMD_WRITE, buf, NSMALL * SMALL, BIG, 1, deadline);
	/* exactly once: nothing more comes for any of them */
	KL_ASSERT(kl_wait_timeout(ring, 1000 * kl_scale(), &c) == -ETIME,
		  "a: a completion after the last one (user_data %llu, res %d)", (unsigned long long)c.user_data, c.res);
	kl_info("%s: a: READ 16 x 1 MiB (depth 8) %lld ms, 16 MiB %lld ms; WRITE 16 x 1 MiB %lld ms, 16 MiB %lld ms; bound %d s",
		prov, ms[0], ms[1], ms[2], ms[3], IO_BOUND_S * kl_scale());
	bzc_barrier_within("written", IO_BOUND_S + 60);
}

static void side_b(const char *prov, struct io_uring *ring, int f)
{
	unsigned char *buf = bzc_alloc(REGION);
	long long bad;

	bzc_fill(buf, REGION, 1);
	KL_EXPECT_EQ(bzc_reg(ring, f, buf, REGION, BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE), 1,
		     "b: REG of 32 MiB over the lossy link");
	bzc_barrier("registered");
	bzc_barrier_within("written", IO_BOUND_S + 60);
	KL_EXPECT_EQ(bzc_dereg(ring, f, 1), 0, "b: DEREG over the lossy link");
	bad = bzc_check(buf, REGION, 2);
	KL_ASSERT(bad < 0, "b: a's WRITEs: byte %lld of b's 32 MiB differs from a's pattern", bad);
	kl_info("%s: b: 32 MiB READ by a, then 32 MiB WRITTEN by a, every byte as a sent it", prov);
}

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	unsigned long long pkts = 0, dropped = 0;
	struct io_uring ring;
	int l, f, is_b;

	if (argc > 2)
		netem = argv[2];
	l = bzc_pair_connect(prov, &ring, &f, &is_b);
	netem_on();
	bzc_barrier("netem-on");
	if (is_b)
		side_b(prov, &ring, f);
	else
		side_a(prov, &ring, f);
	netem_stats(&pkts, &dropped);
	netem_off();
	kl_info("%s: %s: netem on eth0 (%s) sent %llu packets, dropped %llu", prov, is_b ? "b" : "a", netem,
		pkts, dropped);
	/* what the transport did about it: rxe's counters; TCP's retransmissions for siw */
	if (system(!strcmp(prov, "rxe") ? "rdma statistic show link kl_rxe0/1 >&2"
					 : "grep -A1 '^Tcp:' /proc/net/snmp >&2") != 0)
		fprintf(stderr, "# the transport's counters: not available\n");
	KL_ASSERT(dropped > 0, "%s: netem dropped nothing of the %llu packets this guest sent: the data never crossed a lossy link",
		  is_b ? "b" : "a", pkts);
	bzc_barrier("checked");
	close(f);
	if (l >= 0)
		close(l);
	io_uring_queue_exit(&ring);
	KL_EXPECT_EQ(bzc_rdma_res("mr"), 0, "MRs on this guest after closing its files");
	bzc_barrier("closed");
	bzc_link_delete(prov);
	kl_pass();
}
