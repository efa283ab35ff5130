// SPDX-License-Identifier: GPL-2.0
/*
 * peer_cannot_answer_pair rxe|siw: two guests, and b's kernel cannot
 * allocate what a request of a's needs. failslab on b fails one slab
 * allocation, in any task, among those with a bzc function on the stack
 * (the stacktrace filter over bzc's text): b's application is idle at a
 * barrier meanwhile, so it is the CQ's work serving a's message. Twice, each
 * on a new connection:
 *  - a's REG: b cannot keep the advertised region (its ACK is never sent);
 *  - a's WRITE with BZC_RW_NOTIFY to b's region: b cannot queue the event
 *    (its NOTIFY_ACK is never sent).
 * Before the fix a's command waited for an answer that never came, until
 * the ring or the file went; now b's kernel takes the connection down
 * instead. a's command completes within the lab's bound with -ECONNRESET,
 * b's EVENT gets DISCONNECTED, the one failure failslab was given was
 * injected, and once both close no MR is left on either guest and VmPin is
 * back where it was.
 */
#include "../rdma-bzc/bzc_test.h"	/* the suite of the set: one helper header for both */
#include "failslab.h"

#define LEN		(1 << 20)

static const char *const fs_knobs[] = {
	"probability", "interval", "times", "space", "verbose", "task-filter", "ignore-gfp-wait",
	"require-start", "require-end", "stacktrace-depth",
};
#define NKNOBS	(sizeof(fs_knobs) / sizeof(fs_knobs[0]))
static char fs_saved[NKNOBS][32];

static int fs_armed;

static void fs_restore(void)
{
	if (!fs_armed)
		return;
	fs_armed = 0;
	fs_write("probability", "0");
	for (size_t i = 0; i < NKNOBS; i++)
		if (fs_saved[i][0])
			fs_write(fs_knobs[i], fs_saved[i]);
}

/* [start, end) around every bzc function in /proc/kallsyms, module or built in. */
static void bzc_text(unsigned long *start, unsigned long *end)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], name[256], type;
	unsigned long a;

	KL_ASSERT(f, "/proc/kallsyms: %s", strerror(errno));
	*start = ~0UL;
	*end = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %255s", &a, &type, name) != 3)
			continue;
		if ((type != 't' && type != 'T') || strncmp(name, "bzc_", 4))
			continue;
		if (a < *start)
			*start = a;
		if (a > *end)
			*end = a;
	}
	fclose(f);
	KL_ASSERT(*start && *end > *start, "no bzc function in /proc/kallsyms (or its addresses are hidden)");
	*end += 4096;	/* past the start of the last function */
}

/* One failure, in any task, of an allocation with bzc's code on the stack. */
static void fs_arm(void)
{
	unsigned long start, end;
	char v[32];

	bzc_text(&start, &end);
	for (size_t i = 0; i < NKNOBS; i++)
		fs_read(fs_knobs[i], fs_saved[i], sizeof(fs_saved[i]));
	fs_armed = 1;
	atexit(fs_restore);
	fs_write("task-filter", "N");
	fs_write("ignore-gfp-wait", "N");
	fs_write("verbose", "0");
	fs_write("space", "0");
	fs_write("interval", "1");
	fs_write("stacktrace-depth", "32");
	snprintf(v, sizeof(v), "%#lx", start);
	fs_write("require-start", v);
	snprintf(v, sizeof(v), "%#lx", end);
	fs_write("require-end", v);
	fs_write("times", "1");
	fs_write("probability", "100");
}

static const char *const what[] = { "REG", "WRITE with NOTIFY" };

static void side_b(struct io_uring *ring, int round, int f, int l)
{
	unsigned char *buf = bzc_alloc(LEN);
	long pinned0 = bzc_vmpin_kb();
	char times[32];
	struct kl_cqe c;

	if (round == 1)
		KL_EXPECT_EQ(bzc_reg(ring, f, buf, LEN, BZC_ACCESS_REMOTE_WRITE), 1, "b: REG for a's WRITE");
	fs_arm();
	bzc_barrier("armed");
	/* a's request comes, and b's kernel cannot serve it: the connection goes */
	bzc_prep_event(ring, f, 0, 'E');
	io_uring_submit(ring);
	c = bzc_wait(ring, "b: EVENT");
	fs_read("times", times, sizeof(times));
	fs_restore();
	KL_ASSERT(c.res == BZC_EVENT_DISCONNECTED, "b: EVENT after a %s it could not serve: %d, not DISCONNECTED (%d)",
		  what[round], c.res, BZC_EVENT_DISCONNECTED);
	KL_ASSERT(!strcmp(times, "0"), "b: failslab's times is %s, not 0: the failure was not injected", times);
	bzc_barrier("done");
	close(f);
	close(l);
	bzc_barrier("closed");
	KL_EXPECT_EQ(bzc_rdma_res("mr"), 0, "b: MRs after closing");
	KL_EXPECT_EQ(bzc_vmpin_kb(), pinned0, "b: VmPin (kB) after closing");
	munmap(buf, LEN);
}

static void side_a(struct io_uring *ring, int round, int f)
{
	unsigned char *buf = bzc_alloc(LEN);
	long pinned0 = bzc_vmpin_kb();
	struct bzc_cmd_rw rw = {
		.addr = (__u64)(uintptr_t)buf, .len = LEN, .region = 1, .flags = BZC_RW_NOTIFY, .notify = 7,
	};
	struct bzc_cmd_reg r = { .addr = (__u64)(uintptr_t)buf, .len = LEN, .access = BZC_ACCESS_REMOTE_READ };
	long long t0;
	struct kl_cqe c;

	bzc_fill(buf, LEN, 5);
	bzc_barrier("armed");
	t0 = kl_now_ms();
	if (round == 0)
		bzc_prep(ring, f, BZC_U_CMD_REG, &r, sizeof(r));
	else
		bzc_prep(ring, f, BZC_U_CMD_WRITE, &rw, sizeof(rw));
	io_uring_submit(ring);
	c = bzc_wait(ring, round == 0 ? "a: REG" : "a: WRITE with NOTIFY");
	KL_ASSERT(c.res == -ECONNRESET, "a: the %s b's kernel could not serve ended %d, not -ECONNRESET",
		  what[round], c.res);
	kl_info("a: the %s b could not serve ended %d (%s) after %lld ms", what[round], c.res, strerror(-c.res),
		kl_now_ms() - t0);
	bzc_barrier("done");
	close(f);
	bzc_barrier("closed");
	KL_EXPECT_EQ(bzc_rdma_res("mr"), 0, "a: MRs after closing");
	KL_EXPECT_EQ(bzc_vmpin_kb(), pinned0, "a: VmPin (kB) after closing");
	munmap(buf, LEN);
}

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	struct io_uring ring;
	int l, f, is_b;

	/* round 0 on the pair's first connection, round 1 on a new one */
	l = bzc_pair_connect(prov, &ring, &f, &is_b);
	for (int round = 0; round < 2; round++) {
		if (round) {
			struct kl_cqe c;

			f = bzc_open();
			if (is_b) {
				l = bzc_open();
				bzc_prep_listen(&ring, l, BZC_PORT + 1, 1);
				KL_EXPECT_EQ(bzc_run(&ring), 0, "b: LISTEN again");
				bzc_prep_accept(&ring, f, l, 'A');
				io_uring_submit(&ring);
				bzc_barrier("listening2");
				c = bzc_wait(&ring, "b: second ACCEPT");
				KL_EXPECT_EQ(c.res, 0, "b: ACCEPT of a's second connection");
			} else {
				bzc_barrier("listening2");
				bzc_prep_connect(&ring, f, bzc_peer_addr(BZC_PORT + 1), 'C');
				io_uring_submit(&ring);
				c = bzc_wait(&ring, "a: second CONNECT");
				KL_EXPECT_EQ(c.res, 0, "a: CONNECT to b again");
			}
		}
		if (is_b)
			side_b(&ring, round, f, l);
		else
			side_a(&ring, round, f);
	}
	io_uring_queue_exit(&ring);
	bzc_barrier("end");
	bzc_link_delete(prov);
	kl_pass();
}
