// SPDX-License-Identifier: GPL-2.0
/*
 * kill9_with_commands_outstanding rxe|siw: a child process connects two
 * files to this guest's own address, registers a 16 MiB region on one end,
 * and leaves in flight: 16 WRITEs and 16 READs of 1 MiB on the other end,
 * an ACCEPT parked on a third file, and a REG of 32 MiB that may still be
 * registering its MRs, or may or may not have its
 * answer yet. SIGKILL while they are in flight: the child is gone within
 * the lab's bound (no command keeps its exit waiting), and then nothing of
 * it is left: no cm_id, no RC QP, no MR (the region's pages are unpinned
 * with it), as many PDs as before. An optional second argument kills that
 * many children, one after the other, each checked so (the race this found
 * took its window about once in 30 kills).
 */
#include <signal.h>
#include <sys/wait.h>
#include "../rdma-bzc/bzc_test.h"	/* the suite of the set: one helper header for both */

#define LEN	(16 << 20)

static void child(int ready)
{
	unsigned char *region = bzc_alloc(LEN), *buf = bzc_alloc(LEN), *more = bzc_alloc(BZC_MORE);
	struct io_uring ring;
	int l, a, k;

	kl_ring_init(&ring, 64, BZC_RING);
	bzc_connect_self(&ring, &l, &a, &k);
	KL_EXPECT_EQ(bzc_reg(&ring, a, region, LEN, BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE), 1, "REG");
	bzc_queue_outstanding(&ring, l, a, k, buf, more);
	KL_EXPECT_EQ(io_uring_submit(&ring), 34, "submit what stays in flight");
	/* the ACCEPT cannot complete: nobody connects; say how many others could */
	KL_ASSERT(io_uring_cq_ready(&ring) < 34, "every command completed before the kill");
	kl_info("child: %u of 34 commands completed when it tells the parent to kill it", io_uring_cq_ready(&ring));
	KL_ASSERT(write(ready, "r", 1) == 1, "tell the parent");
	for (;;)
		pause();
}

/* One child killed with its commands in flight; returns the milliseconds until nothing was left. */
static long long kill_one(int pds)
{
	int p[2], status = 0;
	long long start, end;
	pid_t pid;
	char c;

	KL_ASSERT(pipe(p) == 0, "pipe: %s", strerror(errno));
	pid = fork();
	KL_ASSERT(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		close(p[0]);
		child(p[1]);
	}
	close(p[1]);
	KL_ASSERT(read(p[0], &c, 1) == 1, "the child died before its commands were in flight");
	close(p[0]);
	KL_ASSERT(kill(pid, SIGKILL) == 0, "kill: %s", strerror(errno));
	start = kl_now_ms();
	end = start + 15000LL * kl_scale();
	while (waitpid(pid, &status, WNOHANG) == 0) {
		KL_ASSERT(kl_now_ms() < end, "the killed child is still there after %d s", 15 * kl_scale());
		usleep(20 * 1000);
	}
	KL_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the child ended otherwise: status %#x", status);
	/* the files' release runs when the last reference goes: give it the same bound */
	while (bzc_rdma_res("cm_id") || bzc_rdma_res("mr")) {
		KL_ASSERT(kl_now_ms() < end, "cm_ids %d, MRs %d still there %d s after the kill", bzc_rdma_res("cm_id"),
			  bzc_rdma_res("mr"), 15 * kl_scale());
		usleep(100 * 1000);
	}
	KL_EXPECT_EQ(bzc_rdma_res("qp | grep -w RC"), 0, "RC QPs after the kill");
	KL_EXPECT_EQ(bzc_rdma_res("pd"), pds, "PDs after the kill, as before the child");
	return kl_now_ms() - start;
}

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	int kills = argc > 2 ? atoi(argv[2]) : 1, pds;
	long long ms, most = 0;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw [kills]", argv[0]);
	KL_ASSERT(kills >= 1, "kills: '%s', want 1 or more", argv[2]);
	bzc_link_add(prov);
	pds = bzc_rdma_res("pd");
	for (int i = 0; i < kills; i++) {
		ms = kill_one(pds);
		if (ms > most)
			most = ms;
	}
	kl_info("%s: %d children killed with 34 commands in flight, each gone with nothing left within %lld ms", prov,
		kills, most);
	bzc_link_delete(prov);
	kl_pass();
}
