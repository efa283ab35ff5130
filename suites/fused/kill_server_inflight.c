// SPDX-License-Identifier: GPL-2.0
/*
 * kill -9 of a ublk server with a fused command in flight (its secondary
 * blocked on a pipe nobody writes): the kernel cancels the secondary, the
 * fused command releases the request, the client's IO fails instead of
 * hanging, the device goes DEAD and can be deleted.
 */
#include <sys/wait.h>

#include "fused_lib.h"

#define LEN	(8U << 10)

static void server(int report, int *blocker)
{
	struct io_uring_sqe *prim, *sec;
	struct kl_ublk_dev d;
	unsigned int tag;
	int msg;

	kl_ublk_require(&d, &fu_cfg);
	kl_ublk_dev_setup(&d, 0);
	msg = d.dev_id;
	if (write(report, &msg, sizeof(msg)) != sizeof(msg))
		exit(KL_FAIL);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 1 << 20);
	prim = io_uring_get_sqe(&d.ring);
	sec = io_uring_get_sqe(&d.ring);
	fu_prep_primary(prim, d.cdev_fd, tag, FU_UD_PRIM | tag);
	fu_prep_secondary(sec, IORING_OP_READ, blocker[0], 0, LEN, -1,
			  FU_UD_SEC | tag);
	if (io_uring_submit(&d.ring) != 2)
		exit(KL_FAIL);
	msg = -1;
	if (write(report, &msg, sizeof(msg)) != sizeof(msg))
		exit(KL_FAIL);
	for (;;)
		pause();
}

int main(void)
{
	int rep[2], blocker[2], msg, state = -1, ret;
	long long end;
	struct kl_ublk_client c;
	struct kl_ublk_dev d;
	pid_t pid;

	fu_require_fused();
	if (pipe(rep) || pipe(blocker))
		kl_fail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		kl_fail("fork: %s", strerror(errno));
	if (!pid) {
		close(rep[0]);
		server(rep[1], blocker);
	}
	close(rep[1]);
	close(blocker[0]);
	close(blocker[1]);

	if (read(rep[0], &msg, sizeof(msg)) != sizeof(msg)) {
		waitpid(pid, &ret, 0);
		if (WIFEXITED(ret) && WEXITSTATUS(ret) == KL_SKIP)
			kl_skip("the server could not add a fused zero copy device");
		kl_fail("server died before adding the device (status %#x)", ret);
	}
	kl_ublk_dev_init(&d, &fu_cfg);
	d.dev_id = msg;
	kl_ublk_client_start(&c, d.dev_id, false, LEN, 1 << 20);
	if (read(rep[0], &msg, sizeof(msg)) != sizeof(msg) || msg != -1)
		kl_fail("server did not get the fused command in flight");
	usleep(100000);
	KL_ASSERT(!c.done, "client IO completed while its fused read was blocked");

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	kl_info("server %d killed with a fused command in flight", pid);

	end = kl_now_ms() + 3 * KL_TIMEOUT_MS;
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE)) {
		if (kl_now_ms() > end)
			kl_fail("client IO still hanging after the server was killed");
		usleep(10000);
	}
	ret = kl_ublk_client_wait(&c);
	kl_info("client pread: %d", ret);
	KL_ASSERT(ret < 0, "client IO: want an error, got %d", ret);

	if (kl_ublk_ctrl_try_open(&d.ctrl))
		kl_fail("opening /dev/ublk-control");
	end = kl_now_ms() + 3 * KL_TIMEOUT_MS;
	while (kl_now_ms() < end) {
		state = kl_ublk_get_state(&d);
		if (state == UBLK_S_DEV_DEAD)
			break;
		usleep(50000);
	}
	KL_EXPECT_EQ(state, UBLK_S_DEV_DEAD, "device state after the kill");
	ret = kl_ublk_ctrl(&d, UBLK_U_CMD_DEL_DEV, NULL, 0, 0, 3 * KL_TIMEOUT_MS);
	KL_EXPECT_EQ(ret, 0, "DEL_DEV");
	kl_pass();
}
