// SPDX-License-Identifier: GPL-2.0
/*
 * tcp_bw a|b send|sendzc SIZE QD COUNT TAG: bandwidth of COUNT io_uring SENDs
 * (or SEND_ZCs from registered buffers) of SIZE on one TCP connection between
 * two guests, QD of them in flight: the TCP baseline of rdma-bzc-perf, on the
 * same link and with the same sizes, depths and counts as bzc's WRITEs. Both
 * guests run it at once (rdma_bzc_perf.sh measures their CPU around it); TAG
 * names this run's barriers.
 *
 * b listens, accepts, receives with io_uring RECV (MSG_WAITALL, one at a time,
 * as the socket queues the stream anyway) until COUNT * SIZE bytes came, checks
 * the last SIZE of them (as bzc_bw checks one slot), answers one byte, and then must see the stream end with
 * nothing more. a keeps QD sends in flight, each from its own slot (a SEND_ZC's
 * slot is busy until its notification), every completion must say SIZE; the
 * bandwidth is the bytes over the time from the first submission to b's
 * answer, so it counts what b received, not what a's socket buffered.
 *
 * Sends in flight on one stream may interleave where one of them was cut short
 * and resumed, so the bytes carry no position: every byte is FILL, which a
 * zeroed or stale page would not be; the count is exact. SEND_ZC asks the
 * kernel to report a send it copied after all (IORING_SEND_ZC_REPORT_USAGE),
 * and a says how many. a prints `tcp_bw: result <MB/s>`.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include "bw_args.h"

#define TCP_BW_PORT	18600
#define FILL		0xa5

/* Wait until fd is readable, within the lab's bound. */
static void wait_readable(int fd, const char *what)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, 60000 * kl_scale());

	KL_ASSERT(n == 1, "%s: nothing within %d s", what, 60 * kl_scale());
}

static void role_b(size_t size, unsigned long long count, const char *tag)
{
	unsigned long long want = count * size, got = 0;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(TCP_BW_PORT) };
	unsigned char *buf = bzc_alloc(size);
	int l, s, one = 1;
	struct io_uring ring;
	struct kl_cqe c;
	char ack = 'k';

	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	KL_ASSERT(l >= 0, "b: socket: %s", strerror(errno));
	KL_ASSERT(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, "b: SO_REUSEADDR: %s",
		  strerror(errno));
	KL_ASSERT(bind(l, (struct sockaddr *)&sin, sizeof(sin)) == 0, "b: bind :%d: %s", TCP_BW_PORT, strerror(errno));
	KL_ASSERT(listen(l, 1) == 0, "b: listen: %s", strerror(errno));
	bw_barrier(tag, "listening");
	wait_readable(l, "b: accept");
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	KL_ASSERT(s >= 0, "b: accept: %s", strerror(errno));
	kl_ring_init(&ring, 4, 0);
	while (got < want) {
		size_t n = want - got < size ? want - got : size;
		struct io_uring_sqe *sqe = kl_sqe(&ring);

		io_uring_prep_recv(sqe, s, buf, n, MSG_WAITALL);
		KL_EXPECT_EQ(io_uring_submit(&ring), 1, "b: submit RECV");
		c = bzc_wait(&ring, "b: RECV");
		KL_ASSERT(c.res > 0, "b: RECV after %llu of %llu bytes: %d %s", got, want, c.res,
			  c.res < 0 ? kl_err(c.res) : "(the stream ended)");
		got += c.res;
	}
	/* as bzc_bw checks one slot at the end, not every byte: a check costs the mode CPU */
	for (size_t i = 0; i < size; i++)
		KL_ASSERT(buf[i] == FILL, "b: byte %zu of the last message is 0x%02x, not 0x%02x", i, buf[i], FILL);
	KL_ASSERT(write(s, &ack, 1) == 1, "b: answer: %s", strerror(errno));
	wait_readable(s, "b: the end of a's stream");
	KL_EXPECT_EQ(read(s, buf, 1), 0, "b: the stream ends after its COUNT * SIZE bytes");
	bw_barrier(tag, "checked");
	io_uring_queue_exit(&ring);
	close(s);
	close(l);
}

static void role_a(int zc, size_t size, unsigned int qd, unsigned long long count, const char *tag)
{
	unsigned long long done = 0, issued = 0, copied = 0, notifs = 0;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(TCP_BW_PORT) };
	unsigned char *bufs = bzc_alloc((size_t)qd * size);
	unsigned int free_slots[32], nfree = 0;
	struct iovec *iov = calloc(qd, sizeof(*iov));
	const char *peer = getenv("KL_PEER");
	long long start, end;
	struct io_uring ring;
	struct kl_cqe c;
	char ack;
	int s;

	KL_ASSERT(peer && inet_pton(AF_INET, peer, &sin.sin_addr) == 1, "a: KL_PEER '%s' is no IPv4 address",
		  peer ? peer : "");
	memset(bufs, FILL, (size_t)qd * size);
	kl_ring_init(&ring, 4 * qd, 0);
	for (unsigned int i = 0; i < qd; i++) {
		iov[i].iov_base = bufs + (size_t)i * size;
		iov[i].iov_len = size;
		free_slots[nfree++] = qd - 1 - i;
	}
	if (zc)
		KL_EXPECT_EQ(io_uring_register_buffers(&ring, iov, qd), 0, "a: register the QD send buffers");
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	KL_ASSERT(s >= 0, "a: socket: %s", strerror(errno));
	bw_barrier(tag, "listening");
	KL_ASSERT(connect(s, (struct sockaddr *)&sin, sizeof(sin)) == 0, "a: connect to %s:%d: %s", peer,
		  TCP_BW_PORT, strerror(errno));

	start = kl_now_ms();
	while (done < count || (zc && notifs < issued)) {
		while (nfree && issued < count) {
			unsigned int slot = free_slots[--nfree];
			struct io_uring_sqe *sqe = kl_sqe(&ring);

			if (zc)
				io_uring_prep_send_zc_fixed(sqe, s, iov[slot].iov_base, size, MSG_WAITALL,
							    IORING_SEND_ZC_REPORT_USAGE, slot);
			else
				io_uring_prep_send(sqe, s, iov[slot].iov_base, size, MSG_WAITALL);
			sqe->user_data = slot;
			issued++;
		}
		io_uring_submit(&ring);
		c = bzc_wait(&ring, zc ? "a: SEND_ZC" : "a: SEND");
		if (c.flags & IORING_CQE_F_NOTIF) {
			notifs++;
			if ((__u32)c.res & IORING_NOTIF_USAGE_ZC_COPIED)
				copied++;
			free_slots[nfree++] = (unsigned int)c.user_data;
			continue;
		}
		KL_ASSERT(c.res == (int)size, "a: %s %llu: want %zu, got %d%s%s", zc ? "SEND_ZC" : "SEND", done, size,
			  c.res, c.res < 0 ? " " : "", kl_err(c.res));
		done++;
		if (!zc)
			free_slots[nfree++] = (unsigned int)c.user_data;
		else
			KL_ASSERT(c.flags & IORING_CQE_F_MORE, "a: SEND_ZC %llu completed without a notification to come",
				  done);
	}
	wait_readable(s, "a: b's answer");
	KL_EXPECT_EQ(read(s, &ack, 1), 1, "a: b's answer after the whole stream");
	end = kl_now_ms();
	KL_ASSERT(shutdown(s, SHUT_WR) == 0, "a: shutdown: %s", strerror(errno));
	bw_barrier(tag, "checked");
	io_uring_queue_exit(&ring);
	close(s);

	KL_ASSERT(end > start, "a: %llu sends in no measurable time", done);
	kl_info("tcp_bw: %s %zu B, %u in flight: %llu sends, %llu bytes in %.3f s", zc ? "SEND_ZC" : "SEND", size,
		qd, done, done * size, (double)(end - start) / 1000);
	if (zc)
		kl_info("tcp_bw: %llu of %llu SEND_ZCs were copied by the kernel after all", copied, notifs);
	kl_info("tcp_bw: result %.2f", (double)(done * size) / 1e6 / ((double)(end - start) / 1000));
}

int main(int argc, char **argv)
{
	struct bw_args a = bw_parse(argc, argv, "send", "sendzc");

	if (a.is_b)
		role_b(a.size, a.count, a.tag);
	else
		role_a(!strcmp(a.mode, "sendzc"), a.size, a.qd, a.count, a.tag);
	kl_pass();
}
