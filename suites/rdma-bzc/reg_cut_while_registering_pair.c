// SPDX-License-Identifier: GPL-2.0
/*
 * reg_cut_while_registering_pair rxe|siw: two guests. b registers 16 MiB
 * for a; the host stops b's QEMU (freeze-peer); a then submits 16 WRITEs
 * of 1 MiB to b's region and, behind them, a REG of 32 MiB, whose fast
 * registrations go in a's send queue after the WRITEs' work requests.
 * Neither provider gets past a WRITE its peer does not take: rxe stops
 * sending 128 packets past the last one acknowledged, siw once its socket
 * is full, and both process the send queue in order. So while a WRITE is
 * still out, the REG's MRs are not registered yet, and nothing can answer
 * the REG either. The test checks that this holds when it deletes a's soft
 * RDMA device (its files open): at most 15 WRITEs completed before it (over
 * rxe none can: b acknowledges nothing). The REG is then cut while it
 * registers, the case where bzc frees the region only when its REG_MRs
 * flush (patch 7). Every command completes exactly once within 30 s
 * (scaled) of the deletion: the REG and the WRITEs still out with
 * -ECONNRESET; nothing more completes, and within 10 s (scaled) a's pinned
 * pages are all back with its file still open. Then the host lets b go on,
 * and b's end of the dead connection closes clean (no MR, VmPin back).
 */
#include "bzc_test.h"

#define REGION		(16 << 20)
#define CHUNK		(1 << 20)
#define WRITES		16
#define REG_UD		1000

static void side_b(const char *prov, int f, int l)
{
	unsigned char *buf = bzc_alloc(REGION);
	long pinned0 = bzc_vmpin_kb();
	struct io_uring ring;

	kl_ring_init(&ring, 8, BZC_RING);
	KL_EXPECT_EQ(bzc_reg(&ring, f, buf, REGION, BZC_ACCESS_REMOTE_WRITE), 1, "b: REG of 16 MiB");
	bzc_barrier("registered");
	/* stopped by the host meanwhile, and let go on once a is done */
	bzc_barrier("a-done");
	io_uring_queue_exit(&ring);
	close(f);
	close(l);
	for (int i = 0; i < 50 * kl_scale() && bzc_rdma_res("mr"); i++)
		usleep(100 * 1000);
	KL_EXPECT_EQ(bzc_rdma_res("mr"), 0, "b: MRs after closing its end of the dead connection");
	KL_EXPECT_EQ(bzc_vmpin_kb(), pinned0, "b: VmPin (kB) after closing its end of the dead connection");
	kl_info("%s: guest b, back after being stopped: its end of the connection closed clean", prov);
}

static void side_a(const char *prov, int f)
{
	unsigned char *buf = bzc_alloc(REGION), *more = bzc_alloc(BZC_MORE);
	struct bzc_cmd_reg r = { .addr = (__u64)(uintptr_t)more, .len = BZC_MORE,
				 .access = BZC_ACCESS_REMOTE_READ };
	int before = 0, placed = 0, reset = 0, reg = 0;
	char done[WRITES] = { 0 };
	long pinned0 = bzc_vmpin_kb();
	struct io_uring ring;
	long long cut;
	struct kl_cqe c;

	kl_ring_init(&ring, 64, BZC_RING);
	bzc_fill(buf, REGION, 4);
	bzc_barrier("registered");
	bzc_ctl_request("freeze-peer");
	for (int i = 0; i < WRITES; i++)
		bzc_prep_rw(&ring, f, BZC_U_CMD_WRITE, buf + ((size_t)i << 20), (__u64)i << 20, CHUNK, 1, i);
	bzc_prep(&ring, f, BZC_U_CMD_REG, &r, sizeof(r))->user_data = REG_UD;
	KL_EXPECT_EQ(io_uring_submit(&ring), WRITES + 1, "a: submit 16 WRITEs and the REG behind them");
	KL_ASSERT(bzc_vmpin_kb() >= pinned0 + (BZC_MORE >> 10), "a: VmPin %ld kB once the REG is in (was %ld)",
		  bzc_vmpin_kb(), pinned0);
	/* what siw may have handed to its socket meanwhile; nothing can answer the REG */
	while (!kl_wait_timeout(&ring, 1000, &c)) {
		KL_ASSERT(c.user_data < WRITES && !done[c.user_data] && c.res == CHUNK,
			  "a: before the cut, user_data %llu completed with %d (%s)",
			  (unsigned long long)c.user_data, c.res, strerror(c.res < 0 ? -c.res : 0));
		done[c.user_data] = 1;
		before++;
	}
	KL_ASSERT(before < WRITES, "a: all %d WRITEs completed with b stopped: the REG may have registered", before);
	if (!strcmp(prov, "rxe"))
		KL_EXPECT_EQ(before, 0, "a: WRITEs completed over rxe with b stopped (none is acknowledged)");

	cut = kl_now_ms();
	bzc_link_delete(prov);
	for (int i = before; i < WRITES + 1; i++) {
		KL_ASSERT(!kl_wait_timeout(&ring, 30000 * kl_scale(), &c),
			  "a: %d of the %d commands still out %d s after the device went (a hang)",
			  WRITES + 1 - i, WRITES + 1 - before, 30 * kl_scale());
		if (c.user_data == REG_UD) {
			KL_EXPECT_EQ(c.res, -ECONNRESET, "a: the REG cut while registering");
			reg++;
			continue;
		}
		KL_ASSERT(c.user_data < WRITES && !done[c.user_data],
			  "a: a completion for user_data %llu, which %s", (unsigned long long)c.user_data,
			  c.user_data < WRITES ? "had completed already" : "was never submitted");
		done[c.user_data] = 1;
		KL_ASSERT(c.res == CHUNK || c.res == -ECONNRESET,
			  "a: WRITE %llu: %d (%s, work completion status %llu), neither its length nor -ECONNRESET",
			  (unsigned long long)c.user_data, c.res, strerror(-c.res), (unsigned long long)c.extra1);
		placed += c.res == CHUNK;
		reset += c.res == -ECONNRESET;
	}
	KL_EXPECT_EQ(reg, 1, "a: REG completions");
	KL_ASSERT(reset > 0, "a: no WRITE was cut (%d placed after the deletion)", placed);
	/* exactly once: nothing more comes */
	KL_EXPECT_EQ(kl_wait_timeout(&ring, 1000, &c), -ETIME, "a: a completion more within 1 s");
	/* the REG completed when the device went; its pages go once its REG_MRs have flushed */
	for (int i = 0; i < 100 * kl_scale() && bzc_vmpin_kb() != pinned0; i++)
		usleep(100 * 1000);
	KL_EXPECT_EQ(bzc_vmpin_kb(), pinned0, "a: VmPin (kB) with its file open, 10 s (scaled) after the device went");
	kl_info("%s: REG of 32 MiB behind 16 WRITEs to a stopped b, cut by deleting a's device: %d WRITEs out before, %d handed on before the cut, %d after, %d reset; all ended in %.1f s, pins back",
		prov, WRITES, before, placed, reset, (kl_now_ms() - cut) / 1000.0);
	bzc_ctl_request("thaw-peer");
	io_uring_queue_exit(&ring);
	close(f);
	bzc_barrier("a-done");
}

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	struct io_uring ring;
	int l, f, is_b;

	bzc_short_tcp_retries(prov);
	l = bzc_pair_connect(prov, &ring, &f, &is_b);
	io_uring_queue_exit(&ring);
	if (is_b)
		side_b(prov, f, l);
	else
		side_a(prov, f);
	bzc_barrier("end");
	if (is_b)
		bzc_link_delete(prov);
	kl_pass();
}
