// SPDX-License-Identifier: GPL-2.0
/*
 * peer_lost_mid_transfer rxe|siw: two guests. b registers 16 MiB for a;
 * a keeps 8 WRITEs of 1 MiB in flight to it, and 3 s into the stream (once
 * a first WRITE has completed: a --debug guest may take longer) asks
 * the host to stop b's QEMU (QMP stop: to a, a machine lost without a word
 * on the wire, no DREQ, no FIN, no RST, as if it had died). Every command
 * a submitted completes exactly once within 60 s (scaled) of the loss,
 * with its length or an error, at least one with an error (the transport
 * gave up, or bzc did after 30 s without progress); a submits nothing after
 * the first error. While b is stopped the host drops the frames sent to it,
 * as a wire to a dead machine does (harness/pair.ts). Then the host lets b
 * go on, closing a's file leaves no MR and a's VmPin where it was, and b's
 * end of the dead connection closes clean too (no MR, VmPin back).
 *
 * The connection's transport retry count must be finite for this: rxe
 * takes 7 as "retry for ever", so with 7 a WRITE to a lost rxe peer never
 * ends.
 */
#include "bzc_test.h"

#define REGION		(16 << 20)
#define CHUNK		(1 << 20)
#define DEPTH		8
#define MAX_CMDS	4096

static void side_b(const char *prov, struct io_uring *ring, int f, int l)
{
	unsigned char *buf = bzc_alloc(REGION);
	long pinned0 = bzc_vmpin_kb();
	long long t0;

	KL_EXPECT_EQ(bzc_reg(ring, f, buf, REGION, BZC_ACCESS_REMOTE_WRITE), 1, "b: REG of 16 MiB");
	bzc_barrier("registered");
	/* stopped by the host meanwhile, and let go on once a is done */
	bzc_barrier("a-done");
	t0 = kl_now_ms();
	close(f);
	close(l);
	for (int i = 0; i < 50 * kl_scale() && bzc_rdma_res("mr"); i++)
		usleep(100 * 1000);
	KL_EXPECT_EQ(bzc_rdma_res("mr"), 0, "b: MRs after closing its end of the lost connection");
	KL_EXPECT_EQ(bzc_vmpin_kb(), pinned0, "b: VmPin (kB) after closing its end of the lost connection");
	kl_info("%s: guest b, back after being stopped: its end of the connection closed clean in %.1f s", prov,
		(kl_now_ms() - t0) / 1000.0);
}

static void side_a(const char *prov, struct io_uring *ring, int f)
{
	static char done[MAX_CMDS];
	unsigned char *buf = bzc_alloc(CHUNK);
	int inflight = 0, submitted = 0, ok = 0, failed = 0, first_err = 0, ok_before = -1;
	long pinned0 = bzc_vmpin_kb();
	long long kill_at, killed_at = 0, last = 0;
	struct kl_cqe c;

	bzc_fill(buf, CHUNK, 2);
	bzc_barrier("registered");
	kill_at = kl_now_ms() + 3000;
	for (;;) {
		if (!killed_at && !ok && !failed && kl_now_ms() > kill_at + 30000LL * kl_scale())
			kl_fail("a: no WRITE of 1 MiB completed in %d s, with b there", 30 * kl_scale());
		if (!killed_at && kl_now_ms() >= kill_at && ok > 0) {
			ok_before = ok;
			bzc_ctl_request("freeze-peer");
			killed_at = kl_now_ms();
		}
		/* keep DEPTH in flight until the first error */
		bzc_keep_writing(ring, f, buf, CHUNK, REGION, DEPTH, !first_err, MAX_CMDS, &submitted, &inflight);
		if (!inflight)
			break;
		if (killed_at && kl_now_ms() > killed_at + 60000LL * kl_scale())
			kl_fail("a: %d WRITEs still in flight %d s after b was lost (a hang); %d completed, %d failed",
				inflight, 60 * kl_scale(), ok, failed);
		if (kl_wait_timeout(ring, 200, &c))
			continue;
		KL_ASSERT(c.user_data < (__u64)submitted && !done[c.user_data],
			  "a: a completion for WRITE %llu, which %s", (unsigned long long)c.user_data,
			  c.user_data < (__u64)submitted ? "had completed already" : "was never submitted");
		done[c.user_data] = 1;
		inflight--;
		last = kl_now_ms();
		if (c.res == CHUNK) {
			ok++;
		} else {
			KL_ASSERT(c.res < 0, "a: WRITE %llu completed with %d, neither its length nor an error",
				  (unsigned long long)c.user_data, c.res);
			if (!first_err)
				first_err = c.res;
			failed++;
		}
	}
	KL_ASSERT(ok_before > 0, "a: b was never lost (%d WRITEs completed before, %d failed)", ok_before, failed);
	KL_ASSERT(first_err, "a: every WRITE to the lost guest succeeded (%d of %d)", ok, submitted);
	/*
	 * b back before a's QP goes: a stopped QEMU stops reading the link, so
	 * a's last packets wait in its own NIC's queue, and rxe's destroy of a
	 * QP with packets queued waits 50 s for them and warns (rxe_pool.c).
	 */
	bzc_ctl_request("thaw-peer");
	close(f);
	for (int i = 0; i < 50 * kl_scale() && bzc_rdma_res("mr"); i++)
		usleep(100 * 1000);
	KL_EXPECT_EQ(bzc_rdma_res("mr"), 0, "a: MRs after closing its file");
	KL_EXPECT_EQ(bzc_vmpin_kb(), pinned0, "a: VmPin (kB) after closing its file");
	kl_info("%s: b lost under 8 WRITEs of 1 MiB in flight: %d placed before, %d after, %d failed, the first with %d (%s), the last completion %.1f s after the loss",
		prov, ok_before, ok - ok_before, failed, first_err, strerror(-first_err),
		(last - killed_at) / 1000.0);
	bzc_barrier("a-done");
}

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	struct io_uring ring;
	int l, f, is_b;

	bzc_short_tcp_retries(prov);
	l = bzc_pair_connect(prov, &ring, &f, &is_b);
	if (is_b)
		side_b(prov, &ring, f, l);
	else
		side_a(prov, &ring, f);
	io_uring_queue_exit(&ring);
	bzc_barrier("end");
	bzc_link_delete(prov);
	kl_pass();
}
