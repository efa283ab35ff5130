// SPDX-License-Identifier: GPL-2.0
/*
 * SKIP never drops a CQE that hands a provided buffer back to the
 * application (review B9): a RECV with IOSQE_BUFFER_SELECT has taken a
 * buffer out of its group, and only its CQE (IORING_CQE_F_BUFFER and the
 * buffer ID) tells the application which one and that it holds the data;
 * skipping it would leak the buffer. Under a program that counts its runs
 * and returns SKIP for everything, a RECV from a legacy provided-buffer
 * group (data already there) and one from a registered buffer ring (data
 * arriving later) each post their CQE with F_BUFFER, the buffer ID given
 * and the bytes received in that buffer; a NOP and a RECV into a buffer of
 * its own have their CQEs dropped; the program ran for all four.
 */
#include "ubpf.h"
#include <sys/mman.h>
#include <sys/socket.h>

#define BGID_LEGACY	1
#define BID_LEGACY	5
#define BGID_RING	2
#define BID_RING	9
#define BUF_LEN		64

static char legacy_buf[BUF_LEN], ring_buf[BUF_LEN], own_buf[BUF_LEN];

static void send_str(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		kl_fail("write to the socket: %s", strerror(errno));
}

static void queue_recv(struct io_uring *ring, int fd, void *buf, int bgid, __u64 ud)
{
	struct io_uring_sqe *sqe = ubpf_sqe(ring);

	io_uring_prep_recv(sqe, fd, buf, BUF_LEN, 0);
	if (bgid >= 0) {
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = bgid;
	}
	sqe->user_data = ud;
}

static void check_buffer_cqe(struct ubpf_cqe *c, int n, __u64 ud, const char *what,
			     unsigned int bid, const char *buf, const char *data)
{
	char w[160];

	snprintf(w, sizeof(w), "%s: CQEs under a skip-all program", what);
	KL_EXPECT_EQ(n, 1, w);
	snprintf(w, sizeof(w), "%s: CQE user_data", what);
	KL_EXPECT_EQ(c[0].user_data, ud, w);
	snprintf(w, sizeof(w), "%s: bytes received", what);
	KL_EXPECT_EQ(c[0].res, (long long)strlen(data), w);
	KL_ASSERT(c[0].flags & IORING_CQE_F_BUFFER,
		  "%s: want IORING_CQE_F_BUFFER in the CQE flags, got flags 0x%x", what,
		  c[0].flags);
	snprintf(w, sizeof(w), "%s: buffer ID in the CQE", what);
	KL_EXPECT_EQ(c[0].flags >> IORING_CQE_BUFFER_SHIFT, bid, w);
	KL_ASSERT(!memcmp(buf, data, strlen(data)),
		  "%s: want \"%s\" in the provided buffer, got \"%.*s\"", what, data,
		  (int)strlen(data), buf);
}

int main(void)
{
	struct io_uring_buf_reg reg;
	struct io_uring_buf_ring *br;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct ubpf_cqe c[8];
	struct io_uring ring;
	int prog, map, sv[2], n, ret;

	close(ubpf_require());
	map = ubpf_counter_map();
	prog = UBPF_ASM(
		I_MOV_REG(R6, R1),
		I_COUNT_RUN(map),
		I_RET(UBPF_SKIP));
	if (prog < 0)
		kl_fail("load: %s\n%s", strerror(errno), ubpf_log);
	ubpf_defer_ring(&ring, 16);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		kl_fail("socketpair: %s", strerror(errno));

	/* one legacy provided buffer, before the program is there to skip its CQE */
	sqe = ubpf_sqe(&ring);
	io_uring_prep_provide_buffers(sqe, legacy_buf, BUF_LEN, 1, BGID_LEGACY, BID_LEGACY);
	io_uring_submit(&ring);
	ret = io_uring_wait_cqe(&ring, &cqe);
	KL_EXPECT_EQ(ret, 0, "wait for PROVIDE_BUFFERS");
	KL_EXPECT_EQ(cqe->res, 0, "PROVIDE_BUFFERS");
	io_uring_cqe_seen(&ring, cqe);

	/* one buffer in a registered buffer ring */
	br = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED)
		kl_fail("mmap: %s", strerror(errno));
	io_uring_buf_ring_init(br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uintptr_t)br;
	reg.ring_entries = 4;
	reg.bgid = BGID_RING;
	ret = io_uring_register_buf_ring(&ring, &reg, 0);
	KL_EXPECT_EQ(ret, 0, "IORING_REGISTER_PBUF_RING");
	io_uring_buf_ring_add(br, ring_buf, BUF_LEN, BID_RING, io_uring_buf_ring_mask(4), 0);
	io_uring_buf_ring_advance(br, 1);

	KL_EXPECT_EQ(ubpf_attach(&ring, prog), 0, "attach");

	/* legacy group, the data already queued: completes at issue */
	send_str(sv[1], "legacy-buffer");
	queue_recv(&ring, sv[0], NULL, BGID_LEGACY, 1);
	io_uring_prep_nop(ubpf_sqe(&ring));
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 8, 200);
	check_buffer_cqe(c, n, 1, "RECV from a legacy buffer group (and a NOP)", BID_LEGACY,
			 legacy_buf, "legacy-buffer");

	/* buffer ring, no data yet: completes from poll, later */
	queue_recv(&ring, sv[0], NULL, BGID_RING, 3);
	io_uring_submit(&ring);
	KL_EXPECT_EQ(ubpf_reap(&ring, c, 8, 50), 0, "CQEs before the data is sent");
	send_str(sv[1], "ring-buffer");
	n = ubpf_reap(&ring, c, 8, 200);
	check_buffer_cqe(c, n, 3, "RECV from a buffer ring", BID_RING, ring_buf, "ring-buffer");

	/* no provided buffer: the CQE is skipped, the data did arrive */
	send_str(sv[1], "own-buffer");
	queue_recv(&ring, sv[0], own_buf, -1, 4);
	io_uring_submit(&ring);
	n = ubpf_reap(&ring, c, 8, 200);
	KL_EXPECT_EQ(n, 0, "CQEs of a RECV into its own buffer under a skip-all program");
	KL_ASSERT(!memcmp(own_buf, "own-buffer", 10),
		  "RECV into its own buffer: want \"own-buffer\" received, got \"%.10s\"", own_buf);

	KL_EXPECT_EQ(ubpf_counter_read(map), 4, "program runs (RECV, NOP, RECV, RECV)");
	io_uring_queue_exit(&ring);
	kl_pass();
}
