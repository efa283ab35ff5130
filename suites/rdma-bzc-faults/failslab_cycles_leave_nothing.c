// SPDX-License-Identifier: GPL-2.0
/*
 * failslab_cycles_leave_nothing rxe|siw: CYCLES cycles on a connection to
 * this guest's own address, each one: open three /dev/bzc files, LISTEN,
 * ACCEPT and CONNECT, REG 1 MiB, READ it back and WRITE it over, DEREG,
 * close, all with slab allocations of this task failing (failslab through
 * debugfs: task-filter Y, so only this process between make-it-fail 1 and
 * 0; ignore-gfp-wait N, so GFP_KERNEL fails too; probability PROBABILITY %, or argv[2]).
 * Every command completes exactly once, within a bound, with its result or
 * one of the errnos in ok_errno(); an open fails only with ENOMEM; data that
 * a READ, or a WRITE and the DEREG after it, reported done is there, every
 * byte. A cycle ends at its first failure (the files are closed). An ACCEPT
 * whose CONNECT failed before reaching it is paired afterwards, with the
 * faults off, by a new CONNECT: it must then complete once too. Once the
 * faults are off and the files closed, nothing is left, within a bound: as
 * many cm_ids, RC QPs, MRs, PDs and CQs as before, VmPin back where it was,
 * and every port a cycle listened on can be listened on again (it could be
 * before the faults: a cm_id that holds one is a leak rdma res cannot show).
 * failslab must have injected failures (its times counter went down) and
 * at least one command or open must have failed, and at least one cycle
 * must have carried its data: a test the faults missed, or one they drowned,
 * does not pass.
 */
#include "../rdma-bzc/bzc_test.h"	/* the suite of the set: one helper header for both */
#include "failslab.h"

#define CYCLES		60
#define PROBABILITY	"2"	/* %, unless argv[2] says otherwise */
#define TIMES		1000000
#define LEN		(1u << 20)

static const char *const fs_knobs[] = {
	"probability", "interval", "times", "space", "verbose", "task-filter", "ignore-gfp-wait",
};
#define NKNOBS	(sizeof(fs_knobs) / sizeof(fs_knobs[0]))
static char fs_saved[NKNOBS][32];
static int make_it_fail_fd = -1;

/* This task's allocations fail (1) or do not (0). */
static void make_it_fail(int on)
{
	KL_ASSERT(pwrite(make_it_fail_fd, on ? "1" : "0", 1, 0) == 1, "/proc/self/make-it-fail: %s", strerror(errno));
}

static void fs_restore(void)
{
	if (make_it_fail_fd >= 0)
		make_it_fail(0);
	for (size_t i = 0; i < NKNOBS; i++)
		if (fs_saved[i][0])
			fs_write(fs_knobs[i], fs_saved[i]);
}

static void fs_arm(const char *probability)
{
	char times[32];

	for (size_t i = 0; i < NKNOBS; i++)
		fs_read(fs_knobs[i], fs_saved[i], sizeof(fs_saved[i]));
	atexit(fs_restore);
	make_it_fail_fd = open("/proc/self/make-it-fail", O_WRONLY | O_CLOEXEC);
	KL_ASSERT(make_it_fail_fd >= 0, "/proc/self/make-it-fail: %s", strerror(errno));
	snprintf(times, sizeof(times), "%d", TIMES);
	fs_write("task-filter", "Y");
	fs_write("ignore-gfp-wait", "N");
	fs_write("verbose", "0");
	fs_write("space", "0");
	fs_write("interval", "1");
	fs_write("times", times);
	fs_write("probability", probability);
}

/*
 * The ways a command may fail when the kernel cannot allocate: the uAPI's errnos for them,
 * and what the socket layer under siw makes of a failed allocation: ENFILE when
 * sock_alloc() fails, EADDRINUSE when bind cannot allocate the port's bind bucket
 * (inet_csk_get_port()); seen on siw's LISTEN, 3 runs of 3 on 2026-12-05. That the port
 * was free after all is checked at the end (ports_free()).
 */
static int ok_errno(int res)
{
	switch (-res) {
	case ENOMEM: case ENOBUFS: case EAGAIN: case ECONNREFUSED: case ECONNRESET: case ECONNABORTED:
	case ETIMEDOUT: case EHOSTUNREACH: case ENETUNREACH: case ENOTCONN: case EADDRNOTAVAIL:
	case ENFILE: case EADDRINUSE:
		return 1;
	}
	return 0;
}

static const char *const step_names[] = { "open", "LISTEN", "ACCEPT", "CONNECT", "REG", "READ", "WRITE", "DEREG" };
enum { S_OPEN, S_LISTEN, S_ACCEPT, S_CONNECT, S_REG, S_READ, S_WRITE, S_DEREG, NSTEPS };
static int step_ok[NSTEPS], step_failed[NSTEPS], step_enomem[NSTEPS];
static int cycle;
static int port_base;	/* the cycles' ports: port_base + cycle, one range per provider */
static char outcome[CYCLES][40];	/* each cycle's first failure, printed once the faults are off */

static void make_it_fail(int on);

/* Before failing on a result nothing explains: what the cycles before met, and who holds what. */
static void diagnose(void)
{
	make_it_fail(0);
	for (int i = 0; i < cycle; i++)
		if (outcome[i][0])
			kl_info("cycle %d ended at %s", i, outcome[i]);
	if (system("rdma resource show cm_id >&2; cat /proc/net/tcp >&2") != 0)
		fprintf(stderr, "# rdma resource show cm_id; cat /proc/net/tcp: failed\n");
}

static void count(int step, int res, int want)
{
	if (res == want) {
		step_ok[step]++;
		return;
	}
	if (!(res < 0 && ok_errno(res)))
		diagnose();
	KL_ASSERT(res < 0 && ok_errno(res), "cycle %d: %s completed with %d%s%s%s: want %d or an allocation failure's errno",
		  cycle, step_names[step], res, res < 0 ? " (" : "", kl_err(res), res < 0 ? ")" : "", want);
	step_failed[step]++;
	if (res == -ENOMEM)
		step_enomem[step]++;
	if (!outcome[cycle][0])
		snprintf(outcome[cycle], sizeof(outcome[cycle]), "%s %d", step_names[step], res);
}

static void submit(struct io_uring *ring, int n)
{
	long long end = kl_now_ms() + 10000LL * kl_scale();
	int done = 0;

	/* io_uring itself may not get a request allocated: -EAGAIN, the SQEs stay queued */
	while (done < n) {
		int ret = io_uring_submit(ring);

		if (ret > 0)
			done += ret;
		else
			KL_ASSERT((ret == -EAGAIN || ret == -ENOMEM || ret == -EINTR) && kl_now_ms() < end,
				  "cycle %d: io_uring_submit: %d (%s)", cycle, ret, kl_err(ret));
	}
}

/*
 * Wait until the commands in want (bits of ud[0..n)) have completed, or ms pass: each of
 * ud[] once at most, nothing else. Results into res[], completions into *seen's bits.
 */
static void wait_for(struct io_uring *ring, const __u64 *ud, int *res, int n, unsigned int *seen,
		     unsigned int want, int ms)
{
	long long end = kl_now_ms() + ms;
	struct kl_cqe c;

	while ((*seen & want) != want) {
		int left = (int)(end - kl_now_ms()), i, ret;

		if (left <= 0)
			return;
		ret = kl_wait_timeout(ring, left, &c);
		if (ret == -ETIME)
			return;
		if (ret)	/* the wait itself may fail to allocate: try again */
			continue;
		for (i = 0; i < n && ud[i] != c.user_data; i++)
			;
		KL_ASSERT(i < n, "cycle %d: a completion (res %d) for user_data %#llx, which is not outstanding", cycle,
			  c.res, (unsigned long long)c.user_data);
		KL_ASSERT(!(*seen & (1u << i)), "cycle %d: a second completion (res %d) for user_data %#llx", cycle,
			  c.res, (unsigned long long)c.user_data);
		*seen |= 1u << i;
		res[i] = c.res;
	}
}

#define UD(step)	(((__u64)cycle << 8) | (step))
#define BOUND_MS	(30000 * kl_scale())

/* The command prepared last, on its own: submitted, waited for within the bound; its result. */
static int one(struct io_uring *ring, int step)
{
	__u64 ud = UD(step);
	unsigned int seen = 0;
	int res = 0;

	submit(ring, 1);
	wait_for(ring, &ud, &res, 1, &seen, 1, BOUND_MS);
	KL_ASSERT(seen, "cycle %d: %s: no completion within %d s", cycle, step_names[step], BOUND_MS / 1000);
	return res;
}

static int open_or_enomem(void)
{
	int fd = open(BZC_DEV, O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		step_ok[S_OPEN]++;
		return fd;
	}
	KL_ASSERT(errno == ENOMEM, "cycle %d: open %s: %s: want a file or ENOMEM", cycle, BZC_DEV, strerror(errno));
	if (!outcome[cycle][0])
		snprintf(outcome[cycle], sizeof(outcome[cycle]), "open %d", -errno);
	step_failed[S_OPEN]++;
	step_enomem[S_OPEN]++;
	return -1;
}

static int rescued;	/* ACCEPTs a new CONNECT had to pair after theirs failed */

/*
 * ACCEPT on a, CONNECT k to the listener's port: both complete once. A CONNECT must
 * complete within the bound; an ACCEPT may wait on when its CONNECT failed before the
 * request reached the listener: then, with the faults off, a new file connects, and the
 * ACCEPT must complete (its new CONNECT too, if the ACCEPT did). Returns 1 when both
 * completed 0.
 */
static int accept_connect(struct io_uring *ring, int l, int a, int k, __u16 port)
{
	__u64 ud[3] = { UD(S_ACCEPT), UD(S_CONNECT), UD(0x80 | S_CONNECT) };
	int res[3] = { 0 }, k2;
	unsigned int seen = 0;

	bzc_prep_accept(ring, a, l, ud[0]);
	bzc_prep_connect(ring, k, bzc_my_addr(port), ud[1]);
	submit(ring, 2);
	wait_for(ring, ud, res, 2, &seen, 2, BOUND_MS);
	KL_ASSERT(seen & 2, "cycle %d: CONNECT: no completion within %d s", cycle, BOUND_MS / 1000);
	wait_for(ring, ud, res, 2, &seen, 1, res[1] ? 2000 * kl_scale() : BOUND_MS);
	if (!(seen & 1)) {
		KL_ASSERT(res[1] < 0, "cycle %d: CONNECT established, its ACCEPT did not complete within %d s", cycle,
			  BOUND_MS / 1000);
		make_it_fail(0);
		k2 = bzc_open();
		bzc_prep_connect(ring, k2, bzc_my_addr(port), ud[2]);
		submit(ring, 1);
		wait_for(ring, ud, res, 3, &seen, 1, BOUND_MS);
		KL_ASSERT(seen & 1, "cycle %d: ACCEPT: no completion within %d s, not even once a new CONNECT came",
			  cycle, BOUND_MS / 1000);
		if (!res[0]) {
			wait_for(ring, ud, res, 3, &seen, 4, BOUND_MS);
			KL_ASSERT(seen & 4, "cycle %d: ACCEPT paired, its new CONNECT did not complete within %d s", cycle,
				  BOUND_MS / 1000);
			KL_ASSERT(!res[2] || ok_errno(res[2]), "cycle %d: the new CONNECT completed %d (%s)", cycle, res[2],
				  kl_err(res[2]));
		}
		close(k2);
		rescued++;
		make_it_fail(1);
	}
	count(S_ACCEPT, res[0], 0);
	count(S_CONNECT, res[1], 0);
	return !res[0] && !res[1];
}

/* One cycle; returns 1 when it carried its data both ways. */
static int run_cycle(unsigned char *region, unsigned char *buf)
{
	struct bzc_cmd_reg reg = { .addr = (__u64)(uintptr_t)region, .len = LEN,
				   .access = BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE };
	__u16 port = port_base + cycle;
	struct bzc_cmd_listen lis = { .addr = bzc_my_addr(port), .backlog = 4 };
	struct bzc_cmd_dereg dereg = { .region = 1 };
	int l, a = -1, k = -1, carried = 0, res;
	struct io_uring ring;
	long long bad;

	kl_ring_init(&ring, 8, BZC_RING);
	bzc_fill(region, LEN, 2 * cycle + 1);
	memset(buf, 0, LEN);
	make_it_fail(1);
	l = open_or_enomem();
	a = l < 0 ? -1 : open_or_enomem();
	k = a < 0 ? -1 : open_or_enomem();
	if (k < 0)
		goto close;
	bzc_prep(&ring, l, BZC_U_CMD_LISTEN, &lis, sizeof(lis))->user_data = UD(S_LISTEN);
	res = one(&ring, S_LISTEN);
	count(S_LISTEN, res, 0);
	if (res || !accept_connect(&ring, l, a, k, port))
		goto close;
	bzc_prep(&ring, a, BZC_U_CMD_REG, &reg, sizeof(reg))->user_data = UD(S_REG);
	res = one(&ring, S_REG);
	count(S_REG, res, 1);
	if (res != 1)
		goto close;
	bzc_prep_rw(&ring, k, BZC_U_CMD_READ, buf, 0, LEN, 1, UD(S_READ));
	res = one(&ring, S_READ);
	count(S_READ, res, LEN);
	if (res != (int)LEN)
		goto close;
	bad = bzc_check(buf, LEN, 2 * cycle + 1);
	KL_ASSERT(bad < 0, "cycle %d: READ completed with its length, byte %lld differs", cycle, bad);
	bzc_fill(buf, LEN, 2 * cycle + 2);
	bzc_prep_rw(&ring, k, BZC_U_CMD_WRITE, buf, 0, LEN, 1, UD(S_WRITE));
	res = one(&ring, S_WRITE);
	count(S_WRITE, res, LEN);
	if (res != (int)LEN)
		goto close;
	bzc_prep(&ring, a, BZC_U_CMD_DEREG, &dereg, sizeof(dereg))->user_data = UD(S_DEREG);
	res = one(&ring, S_DEREG);
	count(S_DEREG, res, 0);
	if (res)
		goto close;
	bad = bzc_check(region, LEN, 2 * cycle + 2);
	KL_ASSERT(bad < 0, "cycle %d: WRITE and DEREG completed, byte %lld of the region differs", cycle, bad);
	carried = 1;
close:
	/* closed with the faults still on: release must give everything back without allocating */
	if (k >= 0)
		close(k);
	if (a >= 0)
		close(a);
	if (l >= 0)
		close(l);
	make_it_fail(0);
	io_uring_queue_exit(&ring);
	return carried;
}

/*
 * Every port a cycle listens on can be listened on (before: nothing earlier holds one;
 * after: no cycle's cm_id holds one).
 */
static void ports_free(const char *prov, const char *when)
{
	struct io_uring ring;
	int stuck = 0;

	kl_ring_init(&ring, 8, BZC_RING);
	for (cycle = 0; cycle < CYCLES; cycle++) {
		int l = bzc_open(), res;

		bzc_prep_listen(&ring, l, port_base + cycle, 1);
		res = bzc_run(&ring);
		close(l);
		if (res) {
			kl_info("%s: %s: port %d of cycle %d (%s): LISTEN: %d (%s)", prov, when, port_base + cycle,
				cycle, outcome[cycle][0] ? outcome[cycle] : "no failure", res, kl_err(res));
			stuck++;
		}
	}
	io_uring_queue_exit(&ring);
	if (stuck && system("rdma resource show cm_id >&2") != 0)
		fprintf(stderr, "# rdma resource show cm_id failed\n");
	KL_ASSERT(!stuck, "%s: %d of the %d ports of the cycles cannot be listened on", when, stuck, CYCLES);
}

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	unsigned char *region = bzc_alloc(LEN), *buf = bzc_alloc(LEN);
	int pds, cqs, cm_ids, carried = 0, failed = 0;
	long pin;
	long long end;
	char times[32];
	unsigned long injected;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw [probability]", argv[0]);
	port_base = BZC_PORT + 1;
	bzc_link_add(prov);
	pds = bzc_rdma_res("pd");
	cqs = bzc_rdma_res("cq");
	cm_ids = bzc_rdma_res("cm_id");
	pin = bzc_vmpin_kb();
	ports_free(prov, "before the faults");
	fs_arm(argc > 2 ? argv[2] : PROBABILITY);
	for (cycle = 0; cycle < CYCLES; cycle++)
		carried += run_cycle(region, buf);
	fs_read("times", times, sizeof(times));
	fs_restore();
	injected = TIMES - strtoul(times, NULL, 10);
	for (int s = 0; s < NSTEPS; s++) {
		failed += step_failed[s];
		kl_info("%s: %-7s ok %3d, failed %3d (ENOMEM %d)", prov, step_names[s], step_ok[s], step_failed[s],
			step_enomem[s]);
	}
	kl_info("%s: %d cycles, %d carried their data, %d ACCEPTs paired by a new CONNECT; failslab injected %lu failures",
		prov, CYCLES, carried, rescued, injected);
	end = kl_now_ms() + BOUND_MS;
	while (bzc_rdma_res("cm_id") != cm_ids || bzc_rdma_res("mr") || bzc_rdma_res("qp | grep -w RC")) {
		KL_ASSERT(kl_now_ms() < end, "after the faults, with every file closed: cm_ids %d (before %d), MRs %d, RC QPs %d still there after %d s",
			  bzc_rdma_res("cm_id"), cm_ids, bzc_rdma_res("mr"), bzc_rdma_res("qp | grep -w RC"), BOUND_MS / 1000);
		usleep(100 * 1000);
	}
	for (cycle = 0; cycle < CYCLES; cycle++)
		if (outcome[cycle][0])
			kl_info("%s: cycle %d ended at %s", prov, cycle, outcome[cycle]);
	ports_free(prov, "after the cycles");
	KL_EXPECT_EQ(bzc_rdma_res("pd"), pds, "PDs after the cycles, as before");
	KL_EXPECT_EQ(bzc_rdma_res("cq"), cqs, "CQs after the cycles, as before");
	KL_EXPECT_EQ(bzc_vmpin_kb(), pin, "VmPin (kB) after the cycles, as before");
	KL_ASSERT(injected > 0, "failslab injected no failure in %d cycles: the faults never happened", CYCLES);
	KL_ASSERT(failed > 0, "failslab injected %lu failures, yet no open or command failed", injected);
	KL_ASSERT(carried > 0, "no cycle of %d carried its data: the faults drowned the test", CYCLES);
	bzc_link_delete(prov);
	kl_pass();
}
