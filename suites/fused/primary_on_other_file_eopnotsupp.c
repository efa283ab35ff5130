// SPDX-License-Identifier: GPL-2.0
/*
 * A fused command goes only to a driver that provides its secondary's
 * buffer (FOP_FUSED_CMD; the ublk char device): on any other file the
 * primary is -EOPNOTSUPP before the driver sees it, its secondary is
 * cancelled (-ECANCELED) and runs neither on its own nor with a buffer
 * (review B4, T3). The files: a regular file (no ->uring_cmd), and three
 * whose ->uring_cmd knows nothing of fused commands: /dev/null (a no-op
 * that returns 0: without the opt-in the primary "succeeded" while its
 * secondary was cancelled), a UDP socket and /dev/ublk-control. The
 * socket's command is a SETSOCKOPT(SO_KEEPALIVE, 1) and the control
 * device's a GET_FEATURES into a buffer: neither runs, the option stays off
 * and the buffer untouched. Each secondary is a READ from /dev/zero into a
 * victim buffer at ->addr, which keeps its bytes.
 */
#include "fused_lib.h"
#include <netinet/in.h>
#include <sys/socket.h>

#define LEN	512U

static unsigned char victim[LEN];

/*
 * Submit the pair (@prim's command set up by the caller) with a secondary
 * READ of /dev/zero into the victim; both results, and the victim checked.
 */
static void run_pair(struct io_uring *ring, struct io_uring_sqe *sec, int zero, const char *what)
{
	int pres = 1, sres = 1, n, ret;

	memset(victim, 0x77, LEN);
	fu_prep_secondary(sec, IORING_OP_READ, zero, (__u64)(uintptr_t)victim, LEN, 0, 2);
	ret = io_uring_submit(ring);
	if (ret != 2)
		kl_fail("%s: submit want 2 (the secondary is consumed), got %d", what, ret);
	for (n = 0; n < 2; n++) {
		struct kl_cqe cqe;

		if (kl_wait_timeout(ring, KL_TIMEOUT_MS, &cqe))
			kl_fail("%s: CQE %d of 2 missing", what, n + 1);
		if (cqe.user_data == 1)
			pres = cqe.res;
		else if (cqe.user_data == 2)
			sres = cqe.res;
		else
			kl_fail("%s: unexpected CQE %llx", what, (unsigned long long)cqe.user_data);
	}
	if (pres != -EOPNOTSUPP)
		kl_fail("%s: primary want -EOPNOTSUPP, got %s (%d)", what, kl_err(pres), pres);
	KL_EXPECT_EQ(sres, -ECANCELED, "its secondary");
	for (n = 0; n < (int)LEN; n++)
		if (victim[n] != 0x77)
			kl_fail("%s: the cancelled secondary wrote into its ->addr", what);
	kl_info("%s: primary %d, secondary %d, victim untouched", what, pres, sres);
}

/* A FUSED_CMD primary with IORING_FUSED_CMD_BUF on @fd, its command @cmd_op. */
static struct io_uring_sqe *prep_primary(struct io_uring *ring, int fd, __u32 cmd_op,
					 struct io_uring_sqe **sec)
{
	struct io_uring_sqe *prim = io_uring_get_sqe(ring);

	*sec = io_uring_get_sqe(ring);
	if (!prim || !*sec)
		kl_fail("no SQEs for a fused pair");
	fu_prep_primary(prim, fd, 0, 1);
	prim->cmd_op = cmd_op;
	return prim;
}

int main(void)
{
	struct io_uring_sqe *prim, *sec;
	struct ublksrv_ctrl_cmd *ctrl;
	struct io_uring ring;
	int zero, null, file, sock, ctl, on = 1, val;
	socklen_t vlen = sizeof(val);
	__u64 features = 0;

	fu_require_fused();
	zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (zero < 0 || null < 0)
		kl_fail("open /dev/zero, /dev/null: %s", strerror(errno));
	file = kl_tmp_file(4096, kl_fill_byte, 0x11);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		kl_fail("socket(AF_INET, SOCK_DGRAM): %s", strerror(errno));
	kl_ring_init(&ring, 8, IORING_SETUP_FUSED_REQ);

	prep_primary(&ring, file, UBLK_U_IO_FUSED_SUBMIT_IO, &sec);
	run_pair(&ring, sec, zero, "a regular file (no ->uring_cmd)");
	prep_primary(&ring, null, UBLK_U_IO_FUSED_SUBMIT_IO, &sec);
	run_pair(&ring, sec, zero, "/dev/null (a ->uring_cmd that does nothing)");

	prim = prep_primary(&ring, sock, SOCKET_URING_OP_SETSOCKOPT, &sec);
	memset(prim->cmd, 0, 16);
	prim->level = SOL_SOCKET;
	prim->optname = SO_KEEPALIVE;
	prim->optval = (__u64)(uintptr_t)&on;
	prim->optlen = sizeof(on);
	run_pair(&ring, sec, zero, "a UDP socket's SETSOCKOPT(SO_KEEPALIVE)");
	if (getsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &val, &vlen))
		kl_fail("getsockopt(SO_KEEPALIVE): %s", strerror(errno));
	if (val)
		kl_fail("SO_KEEPALIVE is on: the refused fused primary ran as a socket command");
	io_uring_queue_exit(&ring);

	/* /dev/ublk-control (the suite needs ublk) takes commands only from SQE128 rings */
	ctl = open("/dev/ublk-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		kl_fail("open /dev/ublk-control: %s", strerror(errno));
	kl_ring_init(&ring, 8, IORING_SETUP_FUSED_REQ | IORING_SETUP_SQE128);
	prim = prep_primary(&ring, ctl, UBLK_U_CMD_GET_FEATURES, &sec);
	memset(prim->cmd, 0, 80);
	ctrl = (struct ublksrv_ctrl_cmd *)prim->cmd;
	ctrl->dev_id = (__u32)-1;
	ctrl->queue_id = (__u16)-1;
	ctrl->addr = (__u64)(uintptr_t)&features;
	ctrl->len = sizeof(features);
	memset(sec, 0, 128);
	run_pair(&ring, sec, zero, "/dev/ublk-control's GET_FEATURES");
	if (features)
		kl_fail("GET_FEATURES wrote %#llx: the refused fused primary ran",
			(unsigned long long)features);
	io_uring_queue_exit(&ring);
	close(ctl);
	close(sock);
	close(file);
	close(null);
	close(zero);
	kl_pass();
}
