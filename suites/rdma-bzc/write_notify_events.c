// SPDX-License-Identifier: GPL-2.0
/*
 * write_notify_events rxe|siw: one guest, a connection to its own address;
 * the accepting end a registers 1 MiB, the connecting end k writes to it.
 * a's commands go on one ring, k's on another.
 *
 * 1. EVENT refusals: flags set (-EINVAL), on the listener and on an
 *    unbound file (-ENOTCONN), a second EVENT while one waits (-EBUSY).
 * 2. The waiting EVENT, then a WRITE of 64 KiB with BZC_RW_NOTIFY and a
 *    value: the WRITE completes with its length, the EVENT with
 *    BZC_EVENT_NOTIFY and region << 32 | value in the big CQE, and the
 *    64 KiB are in a's memory as soon as either completes: no DEREG first,
 *    on iWARP (siw) too.
 * 3. The window: a takes no event while k keeps 32 WRITEs of 4 KiB with
 *    NOTIFY in flight, 96 in all: exactly BZC_EVENT_WINDOW (64) complete,
 *    and nothing more for 2 s. Then a takes its events one at a time:
 *    values 1..96 in order, each chunk's data there when its event is
 *    taken, and each of the first 32 taken lets exactly the next waiting
 *    WRITE complete (65, 66, ... in order).
 * 4. Ring exit with a WRITE waiting for its answer: with the window full
 *    again, one more WRITE with NOTIFY waits; closing k's ring must cancel
 *    it, else k's file is never released: k's QP goes away within 10 s of
 *    closing ring and file, before a takes any event (whose answer would
 *    let the WRITE complete). a then gets its 65 NOTIFY events and then
 *    BZC_EVENT_DISCONNECTED.
 * 5. DISCONNECT on a new connection: both ends' EVENT gets
 *    BZC_EVENT_DISCONNECTED, and EVENT after it is -ENOTCONN.
 */
#include "bzc_test.h"

#define REGION		(1 << 20)
#define CHUNK		4096
#define MANY		96

static struct io_uring ra, rk;
static unsigned char *region, *local;

/* One EVENT, waited for: its CQE. */
static struct kl_cqe event(struct io_uring *ring, int fd, const char *what)
{
	bzc_prep_event(ring, fd, 0, 'E');
	KL_ASSERT(io_uring_submit(ring) == 1, "submit EVENT");
	return bzc_wait(ring, what);
}

static void prep_notify(int k, size_t off, __u32 len, __u32 value, __u64 user_data)
{
	struct bzc_cmd_rw rw = {
		.addr = (__u64)(uintptr_t)(local + off), .remote_off = off, .len = len, .region = 1,
		.flags = BZC_RW_NOTIFY, .notify = value,
	};

	bzc_fill(local + off, len, value);
	bzc_prep(&rk, k, BZC_U_CMD_WRITE, &rw, sizeof(rw))->user_data = user_data;
}

static void expect_notify(struct kl_cqe c, __u32 value, const char *what)
{
	long long bad;

	KL_ASSERT(c.res == BZC_EVENT_NOTIFY, "%s: EVENT res %d, want BZC_EVENT_NOTIFY (%d)", what, c.res,
		  BZC_EVENT_NOTIFY);
	KL_ASSERT(c.extra1 == ((__u64)1 << 32 | value), "%s: big CQE 0x%llx, want region 1 << 32 | %u", what,
		  (unsigned long long)c.extra1, value);
	bad = bzc_check(region + (size_t)value * CHUNK, CHUNK, value);
	KL_ASSERT(bad < 0, "%s: event %u taken but byte %lld of its chunk is not there", what, value, bad);
}

/* k keeps 32 WRITEs with NOTIFY in flight until n have been submitted; returns how many completed. */
static int fill(int k, __u32 first, int n, int want_done)
{
	int submitted = 0, done = 0;
	struct kl_cqe c;

	while (submitted < n && submitted < 32) {
		prep_notify(k, (size_t)(first + submitted) * CHUNK, CHUNK, first + submitted, first + submitted);
		submitted++;
	}
	KL_EXPECT_EQ(io_uring_submit(&rk), submitted, "submit WRITEs with NOTIFY");
	while (done < want_done) {
		c = bzc_wait(&rk, "a WRITE with NOTIFY inside the window");
		KL_ASSERT(c.res == CHUNK, "WRITE with NOTIFY %llu: %d, want %d", (unsigned long long)c.user_data,
			  c.res, CHUNK);
		done++;
		if (submitted < n) {
			prep_notify(k, (size_t)(first + submitted) * CHUNK, CHUNK, first + submitted,
				    first + submitted);
			KL_EXPECT_EQ(io_uring_submit(&rk), 1, "submit a WRITE with NOTIFY");
			submitted++;
		}
	}
	return done;
}

static void nothing_for(struct io_uring *ring, int ms, const char *what)
{
	struct kl_cqe c = { 0 };
	int ret = kl_wait_timeout(ring, ms, &c);

	KL_ASSERT(ret == -ETIME, "%s: a completion came (user_data %llu, res %d)", what,
		  (unsigned long long)c.user_data, c.res);
}

int main(int argc, char **argv)
{
	int l, a, k, u, a2, k2, qps;
	struct kl_cqe c;

	KL_ASSERT(argc == 2, "usage: write_notify_events rxe|siw");
	bzc_link_add(argv[1]);
	region = bzc_alloc(REGION);
	local = bzc_alloc(REGION);
	kl_ring_init(&ra, 128, BZC_RING);
	kl_ring_init(&rk, 64, BZC_RING);
	bzc_connect_self(&ra, &l, &a, &k);
	KL_EXPECT_EQ(bzc_reg(&ra, a, region, REGION, BZC_ACCESS_REMOTE_WRITE), 1, "REG of a's 1 MiB");

	/* 1. refusals; the first EVENT on a stays waiting */
	bzc_prep_event(&ra, a, 1, 'F');
	KL_EXPECT_EQ(bzc_run(&ra), -EINVAL, "EVENT with flags set");
	c = event(&ra, l, "EVENT on the listener");
	KL_EXPECT_EQ(c.res, -ENOTCONN, "EVENT on the listener");
	u = bzc_open();
	c = event(&ra, u, "EVENT on an unbound file");
	KL_EXPECT_EQ(c.res, -ENOTCONN, "EVENT on an unbound file");
	bzc_prep_event(&ra, a, 0, 'W');
	KL_EXPECT_EQ(io_uring_submit(&ra), 1, "submit the EVENT that waits");
	c = event(&ra, a, "a second EVENT");
	KL_ASSERT(c.user_data == 'E' && c.res == -EBUSY, "second EVENT: user_data %llu res %d, want -EBUSY",
		  (unsigned long long)c.user_data, c.res);

	/* 2. one WRITE with NOTIFY: placed when either side hears of it */
	prep_notify(k, 16 * CHUNK, 16 * CHUNK, 16, 'N');
	KL_EXPECT_EQ(io_uring_submit(&rk), 1, "submit the WRITE with NOTIFY");
	c = bzc_wait(&rk, "WRITE with NOTIFY");
	KL_EXPECT_EQ(c.res, 16 * CHUNK, "WRITE of 64 KiB with NOTIFY");
	KL_ASSERT(bzc_check(region + 16 * CHUNK, 16 * CHUNK, 16) < 0,
		  "WRITE with NOTIFY completed but a's memory lacks its data (byte %lld)",
		  bzc_check(region + 16 * CHUNK, 16 * CHUNK, 16));
	c = bzc_wait(&ra, "the waiting EVENT");
	KL_EXPECT_EQ(c.user_data, 'W', "the waiting EVENT's CQE");
	KL_ASSERT(c.res == BZC_EVENT_NOTIFY && c.extra1 == ((__u64)1 << 32 | 16),
		  "EVENT: res %d big CQE 0x%llx, want BZC_EVENT_NOTIFY and 1 << 32 | 16", c.res,
		  (unsigned long long)c.extra1);
	memset(region, 0, REGION);

	/* 3. the window: 64 answered at once, the rest as a takes events */
	KL_EXPECT_EQ(fill(k, 1, MANY, BZC_EVENT_WINDOW), BZC_EVENT_WINDOW, "WRITEs completed inside the window");
	nothing_for(&rk, 2000 * kl_scale(), "past the window, with no event taken");
	for (__u32 v = 1; v <= MANY; v++) {
		char what[64];

		snprintf(what, sizeof(what), "event %u of %d", v, MANY);
		expect_notify(event(&ra, a, what), v, what);
		if (v > MANY - BZC_EVENT_WINDOW)
			continue;
		c = bzc_wait(&rk, "the WRITE an event taken lets through");
		KL_ASSERT(c.user_data == BZC_EVENT_WINDOW + v && c.res == CHUNK,
			  "after event %u: WRITE %llu completed with %d, want WRITE %u with %d", v,
			  (unsigned long long)c.user_data, c.res, BZC_EVENT_WINDOW + v, CHUNK);
	}
	nothing_for(&rk, 500, "after every WRITE completed");

	/* 4. a WRITE waiting for its answer is cancelled by ring exit */
	memset(region, 0, REGION);
	KL_EXPECT_EQ(fill(k, 1, BZC_EVENT_WINDOW + 1, BZC_EVENT_WINDOW), BZC_EVENT_WINDOW,
		     "WRITEs completed inside the window again");
	nothing_for(&rk, 1000 * kl_scale(), "the 65th WRITE, unanswered");
	qps = bzc_rdma_res("qp");
	io_uring_queue_exit(&rk);
	close(k);
	/* before a takes an event, whose answer would let the WRITE complete on its own */
	for (int i = 0; i < 100 * kl_scale() && bzc_rdma_res("qp") >= qps; i++)
		usleep(100 * 1000);
	KL_ASSERT(bzc_rdma_res("qp") < qps, "k's QP still there %d s after its ring and file were closed: "
		  "the ring's exit did not cancel the WRITE waiting for its answer", 10 * kl_scale());
	for (__u32 v = 1; v <= BZC_EVENT_WINDOW + 1; v++)
		expect_notify(event(&ra, a, "an event after k's ring exit"), v, "event after k's ring exit");
	c = event(&ra, a, "DISCONNECTED once k's file is released");
	KL_ASSERT(c.res == BZC_EVENT_DISCONNECTED && c.extra1 == 0,
		  "after the NOTIFYs: res %d big CQE 0x%llx, want BZC_EVENT_DISCONNECTED (k's ring exit "
		  "must cancel its waiting WRITE, or its file is never released)", c.res,
		  (unsigned long long)c.extra1);
	c = event(&ra, a, "EVENT after DISCONNECTED");
	KL_EXPECT_EQ(c.res, -ENOTCONN, "EVENT after DISCONNECTED");
	close(a);

	/* 5. DISCONNECT: both ends hear of it once */
	kl_ring_init(&rk, 64, BZC_RING);
	a2 = bzc_open();
	k2 = bzc_open();
	bzc_prep_accept(&ra, a2, l, 'A');
	bzc_prep_connect(&ra, k2, bzc_my_addr(BZC_PORT), 'C');
	KL_EXPECT_EQ(io_uring_submit(&ra), 2, "submit ACCEPT and CONNECT again");
	for (int i = 0; i < 2; i++)
		KL_EXPECT_EQ(bzc_wait(&ra, "ACCEPT and CONNECT again").res, 0, "second connection");
	bzc_prep_event(&ra, a2, 0, 'W');
	KL_EXPECT_EQ(io_uring_submit(&ra), 1, "submit EVENT on the new connection");
	bzc_prep_disconnect(&rk, k2, 'D');
	KL_EXPECT_EQ(io_uring_submit(&rk), 1, "submit DISCONNECT");
	KL_EXPECT_EQ(bzc_wait(&rk, "DISCONNECT").res, 0, "DISCONNECT");
	c = bzc_wait(&ra, "the accepting end's EVENT");
	KL_EXPECT_EQ(c.res, BZC_EVENT_DISCONNECTED, "the accepting end's EVENT after DISCONNECT");
	c = event(&rk, k2, "the disconnecting end's EVENT");
	KL_EXPECT_EQ(c.res, BZC_EVENT_DISCONNECTED, "the disconnecting end's EVENT");
	KL_EXPECT_EQ(event(&rk, k2, "EVENT again").res, -ENOTCONN, "EVENT after DISCONNECTED (connecting end)");
	KL_EXPECT_EQ(event(&ra, a2, "EVENT again").res, -ENOTCONN, "EVENT after DISCONNECTED (accepting end)");
	close(a2);
	close(k2);
	close(u);
	close(l);
	bzc_link_delete(argv[1]);
	kl_pass();
}
