// SPDX-License-Identifier: GPL-2.0
/*
 * SKIP never drops a CQE that is the application's only record of a
 * resource or of the end of a stream (review B9, beyond provided buffers,
 * which skip_keeps_provided_buffer_cqe covers). Under a program that counts
 * its runs and returns SKIP for everything:
 *  - a successful OPENAT, SOCKET and ACCEPT each post their CQE with the
 *    file descriptor they installed (a valid, open fd);
 *  - the final CQE of a multishot RECV (res 0, no F_MORE, the peer shut
 *    its side down) is posted, so the application knows the stream ended;
 *  - SEND_ZC's first CQE (F_MORE: a notification follows) is posted, and
 *    the notification after it;
 * while a NOP and an OPENAT that fails (nothing installed) have their CQEs
 * dropped, so the program did skip. It ran once per request: the
 * multishot RECV's data CQEs and SEND_ZC's notification are not shown to it.
 */
#include "ubpf.h"
#include "kl_net.h"
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

enum { UD_NOP = 1, UD_OPEN, UD_OPEN_FAIL, UD_SOCKET, UD_ACCEPT, UD_RECV, UD_SEND_ZC };

#define BGID	3
#define BUF_LEN	64

static char bufs[2][BUF_LEN];

static void check_fd(struct ubpf_cqe *c, int n, __u64 ud, const char *what)
{
	__s32 fd = ubpf_res(c, n, ud, what);

	KL_ASSERT(fd >= 0 && fcntl(fd, F_GETFD) >= 0,
		  "%s: want an open fd in the CQE, got %d", what, fd);
	close(fd);
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[256], zc_data[32] = "zero-copy";
	struct io_uring_buf_ring *br;
	struct io_uring_buf_reg reg;
	struct io_uring_sqe *sqe;
	struct ubpf_cqe c[16], *e;
	struct io_uring ring;
	int prog, map, sv[2], lfd, cfd, udp, n, i, more = 0, notif = 0;

	close(ubpf_require());
	kl_lo_up();
	map = ubpf_counter_map();
	prog = UBPF_ASM(
		I_MOV_REG(R6, R1),
		I_COUNT_RUN(map),
		I_RET(UBPF_SKIP));
	if (prog < 0)
		kl_fail("load: %s\n%s", strerror(errno), ubpf_log);
	ubpf_defer_ring(&ring, 16);

	/* a multishot RECV takes buffers from a ring */
	br = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED)
		kl_fail("mmap: %s", strerror(errno));
	io_uring_buf_ring_init(br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uintptr_t)br;
	reg.ring_entries = 2;
	reg.bgid = BGID;
	KL_EXPECT_EQ(io_uring_register_buf_ring(&ring, &reg, 0), 0, "IORING_REGISTER_PBUF_RING");
	for (i = 0; i < 2; i++)
		io_uring_buf_ring_add(br, bufs[i], BUF_LEN, i, io_uring_buf_ring_mask(2), i);
	io_uring_buf_ring_advance(br, 2);

	/* a listening unix socket with a connection waiting, for ACCEPT */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/kl-skip-accept", ubpf_tmpdir());
	unlink(sun.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || cfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    listen(lfd, 1) || connect(cfd, (struct sockaddr *)&sun, sizeof(sun)))
		kl_fail("unix socket for ACCEPT: %s", strerror(errno));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		kl_fail("socketpair: %s", strerror(errno));
	/* SEND_ZC needs a socket that supports it: UDP to itself on lo */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	if (udp < 0 || bind(udp, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(udp, (struct sockaddr *)&a, &(socklen_t){ sizeof(a) }) ||
	    connect(udp, (struct sockaddr *)&a, sizeof(a)))
		kl_fail("UDP socket on lo: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/kl-skip-open", ubpf_tmpdir());
	close(open(path, O_CREAT | O_WRONLY, 0600));

	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");

	sqe = ubpf_sqe(&ring);
	io_uring_prep_nop(sqe);
	sqe->user_data = UD_NOP;
	sqe = ubpf_sqe(&ring);
	io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY, 0);
	sqe->user_data = UD_OPEN;
	sqe = ubpf_sqe(&ring);
	io_uring_prep_openat(sqe, AT_FDCWD, "/nonexistent/kl", O_RDONLY, 0);
	sqe->user_data = UD_OPEN_FAIL;
	sqe = ubpf_sqe(&ring);
	io_uring_prep_socket(sqe, AF_UNIX, SOCK_DGRAM, 0, 0);
	sqe->user_data = UD_SOCKET;
	sqe = ubpf_sqe(&ring);
	io_uring_prep_accept(sqe, lfd, NULL, NULL, 0);
	sqe->user_data = UD_ACCEPT;
	sqe = ubpf_sqe(&ring);
	io_uring_prep_send_zc(sqe, udp, zc_data, sizeof(zc_data), 0, 0);
	sqe->user_data = UD_SEND_ZC;
	sqe = ubpf_sqe(&ring);
	io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	sqe->user_data = UD_RECV;
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 16, 200);

	KL_ASSERT(!ubpf_find(c, n, UD_NOP), "the NOP's CQE was posted: the program did not skip");
	KL_ASSERT(!ubpf_find(c, n, UD_OPEN_FAIL),
		  "the failed OPENAT's CQE was posted (res %d): nothing installed, it is skippable",
		  ubpf_find(c, n, UD_OPEN_FAIL) ? ubpf_find(c, n, UD_OPEN_FAIL)->res : 0);
	check_fd(c, n, UD_OPEN, "OPENAT");
	check_fd(c, n, UD_SOCKET, "SOCKET");
	check_fd(c, n, UD_ACCEPT, "ACCEPT");
	for (i = 0; i < n; i++) {
		if (c[i].user_data != UD_SEND_ZC)
			continue;
		if (c[i].flags & IORING_CQE_F_NOTIF) {
			notif++;
		} else {
			KL_EXPECT_EQ(c[i].res, (int)sizeof(zc_data), "SEND_ZC bytes sent");
			KL_ASSERT(c[i].flags & IORING_CQE_F_MORE,
				  "SEND_ZC's first CQE without F_MORE (flags %#x)", c[i].flags);
			more++;
		}
	}
	KL_EXPECT_EQ(more, 1, "SEND_ZC's first CQE (F_MORE) posted");
	KL_EXPECT_EQ(notif, 1, "SEND_ZC's notification posted");

	/* the multishot RECV: one data CQE (F_MORE), then the end of the stream */
	if (write(sv[1], "data", 4) != 4)
		kl_fail("write: %s", strerror(errno));
	n = ubpf_reap(&ring, c, 16, 200);
	KL_EXPECT_EQ(n, 1, "CQEs of the multishot RECV's data");
	KL_ASSERT(c[0].user_data == UD_RECV && c[0].res == 4 && (c[0].flags & IORING_CQE_F_MORE),
		  "want the RECV's data CQE (4 bytes, F_MORE), got user_data %llu res %d flags %#x",
		  (unsigned long long)c[0].user_data, c[0].res, c[0].flags);
	shutdown(sv[1], SHUT_WR);
	n = ubpf_reap(&ring, c, 16, 200);
	e = ubpf_find(c, n, UD_RECV);
	KL_ASSERT(e, "the multishot RECV's final CQE was dropped: the application never learns the stream ended (%d CQEs)",
		  n);
	KL_ASSERT(e->res == 0 && !(e->flags & IORING_CQE_F_MORE),
		  "want the RECV's final CQE (res 0, no F_MORE), got res %d flags %#x", e->res,
		  e->flags);

	KL_EXPECT_EQ(ubpf_counter_read(map), 7,
		     "program runs (NOP, 2 OPENAT, SOCKET, ACCEPT, SEND_ZC, RECV's end)");
	io_uring_queue_exit(&ring);
	unlink(sun.sun_path);
	unlink(path);
	kl_pass();
}
