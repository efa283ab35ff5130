// SPDX-License-Identifier: GPL-2.0
/*
 * SEND_ZC out of a registered request buffer (0003: "SEND_ZC's
 * notification holds the reference"). The send's own CQE comes as soon as
 * the data is queued on the socket, but the socket keeps the request's
 * pages until the notification CQE. So after REGISTER, SEND_ZC, its first
 * CQE, UNREGISTER and the commit, the client's write must still be in
 * flight; it completes only once the notification is posted.
 *
 * The data is held in the socket by a receiver that does not read: its
 * small receive buffer is filled first with plain sends, so the request's
 * bytes wait in the sender's queue behind a closed window. Then the
 * receiver reads everything and the test checks that the last 4 KiB it
 * got are the client's bytes.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "zc_lib.h"
#include "kl_net.h"

#define UD_SEND		((16ULL << 32) | 1)
#define FILLER		(64 << 10)
#define LEN		4096

static void tcp_pair(int *tx, int *rx)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int l, one = 1, small = 4096, big = 4 << 20;

	kl_lo_up();
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	*tx = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || *tx < 0)
		kl_fail("socket: %s", strerror(errno));
	/* the accepted socket inherits the small buffer, before the handshake sizes the window */
	if (setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) ||
	    setsockopt(*tx, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) ||
	    setsockopt(*tx, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		kl_fail("setsockopt: %s", strerror(errno));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &alen) ||
	    connect(*tx, (struct sockaddr *)&a, sizeof(a)))
		kl_fail("loopback TCP connection: %s", strerror(errno));
	*rx = accept(l, NULL, NULL);
	if (*rx < 0)
		kl_fail("accept: %s", strerror(errno));
	close(l);
}

/* the next CQE of the SEND_ZC (ours, not the lab's), within the timeout */
static struct kl_cqe send_cqe(struct kl_ublk_dev *d, const char *what)
{
	long long end = kl_now_ms() + KL_TIMEOUT_MS;
	struct kl_cqe c;

	while (kl_now_ms() < end)
		if (kl_ublk_reap(d, 100, &c) == 1) {
			if (c.user_data != UD_SEND)
				kl_fail("unexpected CQE %llx res %d",
					(unsigned long long)c.user_data, c.res);
			return c;
		}
	kl_fail("no %s of the SEND_ZC within %d ms", what, KL_TIMEOUT_MS);
}

int main(void)
{
	static unsigned char filler[FILLER], got[FILLER + LEN];
	struct io_uring_sqe *sqe;
	struct kl_ublk_dev d;
	struct kl_cqe c;
	size_t sent = 0, have = 0;
	unsigned int tag;
	int tx, rx, status, i;
	ssize_t n;
	pid_t pid;

	kl_ublk_require(&d, &zc_cfg);
	tcp_pair(&tx, &rx);
	memset(filler, 0xee, sizeof(filler));
	while (sent < sizeof(filler)) {
		n = send(tx, filler + sent, sizeof(filler) - sent, MSG_DONTWAIT);
		if (n <= 0)
			kl_fail("filling the receiver: send returned %zd (%s) after %zu bytes",
				n, strerror(errno), sent);
		sent += n;
	}
	usleep(100 * 1000);

	kl_ublk_dev_setup(&d, 0);
	pid = kl_ublk_child(&d, true, 0, LEN, 0x5c, false);
	tag = kl_ublk_wait_req(&d, KL_TIMEOUT_MS);
	KL_EXPECT_EQ(zc_register(&d, tag, 5), 0, "register the request at 5");

	sqe = kl_sqe(&d.ring);
	io_uring_prep_send_zc_fixed(sqe, tx, (void *)0, LEN, MSG_DONTWAIT, 0, 5);
	sqe->user_data = UD_SEND;
	io_uring_submit(&d.ring);
	c = send_cqe(&d, "first CQE");
	KL_EXPECT_EQ(c.res, LEN, "SEND_ZC from slot 5 (queued behind the closed window)");
	KL_ASSERT(c.flags & IORING_CQE_F_MORE,
		  "the send's CQE has no F_MORE (flags %#x): no notification to wait for", c.flags);

	KL_EXPECT_EQ(zc_unregister(&d, tag, 5), 0, "unregister 5 while the socket holds the pages");
	kl_ublk_commit(&d, tag, LEN);
	for (i = 0; i < 20; i++) {
		if (kl_ublk_reap(&d, 10, &c) == 1)
			kl_fail("a CQE (flags %#x) of the SEND_ZC came while the receiver's window was closed: the data was not held",
				c.flags);
		KL_ASSERT(waitpid(pid, &status, WNOHANG) == 0,
			  "the client's write completed while the socket still held the request's pages");
	}

	while (have < sizeof(got)) {
		n = recv(rx, got + have, sizeof(got) - have, 0);
		if (n <= 0)
			kl_fail("receiving: %zd (%s) after %zu bytes", n, strerror(errno), have);
		have += n;
	}
	for (i = 0; i < LEN; i++)
		KL_ASSERT(got[FILLER + i] == 0x5c,
			  "received byte %d of the request is %#x, want the client's 0x5c",
			  i, got[FILLER + i]);

	c = send_cqe(&d, "notification");
	KL_ASSERT(c.flags & IORING_CQE_F_NOTIF, "second CQE is not the notification (flags %#x)",
		  c.flags);
	KL_EXPECT_EQ(kl_ublk_child_wait(&d, pid, KL_TIMEOUT_MS), 0,
		     "client write completes after the notification");
	close(tx);
	close(rx);
	kl_ublk_dev_del(&d);
	kl_pass();
}
