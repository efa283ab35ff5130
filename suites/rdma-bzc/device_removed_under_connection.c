// SPDX-License-Identifier: GPL-2.0
/*
 * device_removed_under_connection rxe|siw: on a connection to this guest's
 * own address with a 16 MiB region, 16 WRITEs and 16 READs of 1 MiB, a REG
 * of 32 MiB (its MR registrations queued behind them, so the deletion may
 * find it still registering),
 * an ACCEPT nobody pairs and an EVENT on each end are in flight when the
 * soft RDMA device is deleted, every file left open. The deletion returns
 * within a bound (the files do not hold the device); every command
 * completes exactly once, with its result or its defined errno (WRITE and
 * READ their length or -ECONNRESET: within one guest siw may finish all 32
 * before the deletion, rxe does not; the queued ACCEPT -ENODEV and each
 * EVENT DISCONNECTED, which only the removal can bring); every pinned page
 * is back while the files are still open.
 * The open files then answer as disconnected (WRITE and REG -ENOTCONN,
 * EVENT -ENOTCONN once DISCONNECTED was taken, DEREG -ENOENT, DISCONNECT
 * 0), an ACCEPT naming the old listener is -ENODEV, and the ACCEPT's file
 * is unbound again: on a new device it accepts a new connection that
 * carries 1 MiB, verified.
 */
#include <sys/wait.h>
#include "bzc_test.h"

#define LEN	(16 << 20)

/* Run `rdma link delete kl_<prov>0`; its exit status, or -1 if it took longer than ms. */
static int delete_within(const char *prov, long long ms, long long *took)
{
	char dev[32];
	long long t0 = kl_now_ms();
	int status;
	pid_t pid;

	snprintf(dev, sizeof(dev), "kl_%s0", prov);
	pid = fork();
	KL_ASSERT(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		execlp("rdma", "rdma", "link", "delete", dev, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		*took = kl_now_ms() - t0;
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		KL_ASSERT(r == 0, "waitpid: %s", strerror(errno));
		if (*took > ms)
			return -1;
		usleep(20 * 1000);
	}
}

static int num_devices(struct io_uring *ring, int fd)
{
	struct bzc_query q = { 0 };

	KL_EXPECT_EQ(bzc_query(ring, fd, &q, sizeof(q)), (int)sizeof(q), "QUERY");
	return q.num_devices;
}

int main(int argc, char **argv)
{
	const char *prov = argc > 1 ? argv[1] : "";
	unsigned char *region = bzc_alloc(LEN), *buf = bzc_alloc(16 << 20), *more = bzc_alloc(BZC_MORE);
	int l, a, k, w, l2, k2, devs, moved = 0, reset = 0, accepted = 0, ev_a = 0, ev_k = 0, reg = 0;
	struct io_uring ring;
	long long took, bad;
	struct kl_cqe c;
	long pinned0;
	int ret;

	KL_ASSERT(!strcmp(prov, "rxe") || !strcmp(prov, "siw"), "usage: %s rxe|siw", argv[0]);
	bzc_link_add(prov);
	pinned0 = bzc_vmpin_kb();
	kl_ring_init(&ring, 64, BZC_RING);
	bzc_connect_self(&ring, &l, &a, &k);
	devs = num_devices(&ring, a);
	KL_EXPECT_EQ(bzc_reg(&ring, a, region, LEN, BZC_ACCESS_REMOTE_READ | BZC_ACCESS_REMOTE_WRITE), 1, "REG");
	KL_ASSERT(bzc_vmpin_kb() >= pinned0 + (LEN >> 10), "VmPin %ld kB after REG of 16 MiB (was %ld)",
		  bzc_vmpin_kb(), pinned0);

	bzc_fill(buf, 16 << 20, 3);
	w = bzc_queue_outstanding(&ring, l, a, k, buf, more);
	bzc_prep_event(&ring, a, 0, 'a');
	bzc_prep_event(&ring, k, 0, 'k');
	KL_EXPECT_EQ(io_uring_submit(&ring), 36, "submit what stays in flight");

	/* the files stay open: the device must not wait for them */
	ret = delete_within(prov, 10000LL * kl_scale(), &took);
	KL_ASSERT(ret != -1, "rdma link delete kl_%s0 still waits %d s later, with the files open",
		  prov, 10 * kl_scale());
	KL_EXPECT_EQ(ret, 0, "rdma link delete's exit status");
	bzc_link[0] = 0;

	for (int i = 0; i < 36; i++) {
		c = bzc_wait(&ring, "a command outstanding when the device went");
		if (c.user_data == 'W' || c.user_data == 'R') {
			KL_ASSERT(c.res == 1 << 20 || c.res == -ECONNRESET,
				  "%s: %d (%s, work completion status %llu), neither its length nor -ECONNRESET",
				  c.user_data == 'W' ? "WRITE" : "READ", c.res, strerror(-c.res),
				  (unsigned long long)c.extra1);
			moved += c.res == 1 << 20;
			reset += c.res == -ECONNRESET;
		} else if (c.user_data == 'A') {
			KL_EXPECT_EQ(c.res, -ENODEV, "the ACCEPT queued on the removed device's listener");
			accepted++;
		} else if (c.user_data == 'a' || c.user_data == 'k') {
			KL_EXPECT_EQ(c.res, BZC_EVENT_DISCONNECTED, "an EVENT waiting when the device went");
			ev_a += c.user_data == 'a';
			ev_k += c.user_data == 'k';
		} else if (c.user_data == BZC_U_CMD_REG) {
			/* answered before the device went, or not */
			KL_ASSERT(c.res == 2 || c.res == -ECONNRESET, "the second REG: %d (%s)", c.res,
				  strerror(-c.res));
			reg++;
		} else {
			kl_fail("a completion nobody asked for: user_data %llu, res %d",
				(unsigned long long)c.user_data, c.res);
		}
	}
	KL_EXPECT_EQ(moved + reset, 32, "WRITE and READ completions");
	KL_EXPECT_EQ(accepted, 1, "ACCEPT completions");
	KL_EXPECT_EQ(ev_a, 1, "EVENT completions on the accepting end");
	KL_EXPECT_EQ(ev_k, 1, "EVENT completions on the connecting end");
	KL_EXPECT_EQ(reg, 1, "REG completions");
	/* exactly once: nothing more comes */
	KL_EXPECT_EQ(kl_wait_timeout(&ring, 1000, &c), -ETIME, "a 37th completion within 1 s");

	/* every page the device had pinned is back, the files still open */
	KL_EXPECT_EQ(bzc_vmpin_kb(), pinned0, "VmPin with the files open after the device went");
	KL_EXPECT_EQ(num_devices(&ring, a), devs - 1, "QUERY's devices after the deletion");

	/* the files answer as disconnected */
	KL_EXPECT_EQ(bzc_rw(&ring, k, BZC_U_CMD_WRITE, buf, 0, 4096, 1), -ENOTCONN, "WRITE after the device went");
	KL_EXPECT_EQ(bzc_reg(&ring, a, more, 1 << 20, BZC_ACCESS_REMOTE_READ), -ENOTCONN, "REG after the device went");
	KL_EXPECT_EQ(bzc_dereg(&ring, a, 1), -ENOENT, "DEREG of the region the device took with it");
	bzc_prep_event(&ring, a, 0, 'a');
	KL_EXPECT_EQ(bzc_run(&ring), -ENOTCONN, "EVENT once DISCONNECTED was taken");
	bzc_prep_disconnect(&ring, k, 'D');
	KL_EXPECT_EQ(bzc_run(&ring), 0, "DISCONNECT of a connection already down");
	bzc_prep_accept(&ring, w, l, 'A');
	KL_EXPECT_EQ(bzc_run(&ring), -ENODEV, "ACCEPT naming the removed device's listener");

	/* w is unbound again: it accepts on a new device's listener */
	bzc_link_add(prov);
	l2 = bzc_open();
	k2 = bzc_open();
	bzc_prep_listen(&ring, l2, BZC_PORT + 1, 1);
	KL_EXPECT_EQ(bzc_run(&ring), 0, "LISTEN on the new device");
	bzc_prep_accept(&ring, w, l2, 'A');
	bzc_prep_connect(&ring, k2, bzc_my_addr(BZC_PORT + 1), 'C');
	KL_EXPECT_EQ(io_uring_submit(&ring), 2, "submit ACCEPT and CONNECT");
	for (int i = 0; i < 2; i++) {
		c = bzc_wait(&ring, "ACCEPT and CONNECT on the new device");
		KL_EXPECT_EQ(c.res, 0, c.user_data == 'A' ? "ACCEPT of the file the removal unbound" : "CONNECT");
	}
	memset(region, 0, 1 << 20);
	KL_EXPECT_EQ(bzc_reg(&ring, w, region, 1 << 20, BZC_ACCESS_REMOTE_WRITE), 1, "REG on the new connection");
	KL_EXPECT_EQ(bzc_rw(&ring, k2, BZC_U_CMD_WRITE, buf, 0, 1 << 20, 1), 1 << 20, "WRITE on the new connection");
	KL_EXPECT_EQ(bzc_dereg(&ring, w, 1), 0, "DEREG on the new connection");
	bad = bzc_check(region, 1 << 20, 3);
	KL_ASSERT(bad < 0, "the new connection's WRITE: byte %lld differs", bad);

	io_uring_queue_exit(&ring);
	close(k2);
	close(l2);
	close(w);
	close(k);
	close(a);
	close(l);
	kl_info("%s: device deleted in %lld ms under 36 commands (%d WRITE/READ done, %d reset); the files stayed open, pins back; a new connection on the unbound file moved 1 MiB",
		prov, took, moved, reset);
	bzc_link_delete(prov);
	kl_pass();
}
