// SPDX-License-Identifier: GPL-2.0
/*
 * UBLK_F_FUSED_ZERO_COPY is not for unprivileged devices (it implies
 * UBLK_F_USER_COPY, whose server reads and writes request pages of its
 * own will): a task without CAP_SYS_ADMIN asking ADD_DEV for
 * UBLK_F_UNPRIVILEGED_DEV | UBLK_F_FUSED_ZERO_COPY gets -EINVAL, and no
 * device is added. The same task then adds an UBLK_F_UNPRIVILEGED_DEV
 * device with the same id: that it may add unprivileged devices, and that
 * the id was still free, shows the refusal was the flag's and left nothing
 * behind (review T3). The root parent deletes that device.
 */
#include "fused_lib.h"
#include <linux/capability.h>
#include <sys/syscall.h>

#define DEV_ID	733U	/* an id no other test asks for */

struct results {
	int fused_res;		/* ADD_DEV UNPRIVILEGED_DEV | FUSED_ZERO_COPY */
	int plain_res;		/* ADD_DEV UNPRIVILEGED_DEV */
	__u64 plain_flags;	/* as the plain ADD_DEV returned them */
	int step;		/* what failed in the child, 0 if nothing */
};

static int drop_cap_sys_admin(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(__NR_capget, &hdr, data))
		return -1;
	data[CAP_SYS_ADMIN / 32].effective &= ~(1U << (CAP_SYS_ADMIN % 32));
	data[CAP_SYS_ADMIN / 32].permitted &= ~(1U << (CAP_SYS_ADMIN % 32));
	data[CAP_SYS_ADMIN / 32].inheritable &= ~(1U << (CAP_SYS_ADMIN % 32));
	return syscall(__NR_capset, &hdr, data);
}

static int add_dev(struct kl_ublk_ctrl *c, __u64 flags, __u64 *flags_out)
{
	struct ublksrv_ctrl_dev_info info;
	int ret;

	memset(&info, 0, sizeof(info));
	info.nr_hw_queues = 1;
	info.queue_depth = KL_UBLK_DEPTH;
	info.max_io_buf_bytes = 64U << 10;
	info.dev_id = DEV_ID;
	info.ublksrv_pid = getpid();
	info.flags = flags | UBLK_F_CMD_IOCTL_ENCODE;
	ret = kl_ublk_ctrl_cmd_timeout(c, UBLK_U_CMD_ADD_DEV, DEV_ID, &info, sizeof(info), 0,
				       KL_TIMEOUT_MS);
	if (flags_out)
		*flags_out = info.flags;
	return ret;
}

/* In a child without CAP_SYS_ADMIN: both ADD_DEVs, results to @out. */
static void child(int out)
{
	struct results r = { .fused_res = 1, .plain_res = 1 };
	struct kl_ublk_ctrl c;

	if (drop_cap_sys_admin())
		r.step = 1;
	else if (kl_ublk_ctrl_try_open(&c))
		r.step = 2;
	if (!r.step) {
		r.fused_res = add_dev(&c, UBLK_F_UNPRIVILEGED_DEV | UBLK_F_FUSED_ZERO_COPY, NULL);
		r.plain_res = add_dev(&c, UBLK_F_UNPRIVILEGED_DEV, &r.plain_flags);
	}
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

/* DEL_DEV of the unprivileged device DEV_ID: it takes its char device's path. */
static int del_dev(struct kl_ublk_ctrl *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	char path[64];
	struct kl_cqe cqe;
	int len, ret;

	if (!sqe)
		return -EBUSY;
	len = snprintf(path, sizeof(path), "/dev/ublkc%u", DEV_ID);
	kl_ublk_ctrl_prep(c, sqe, UBLK_U_CMD_DEL_DEV, DEV_ID, path, len, 0);
	((struct ublksrv_ctrl_cmd *)sqe->cmd)->dev_path_len = len;
	ret = io_uring_submit(&c->ring);
	if (ret < 0)
		return ret;
	ret = kl_wait_timeout(&c->ring, 3 * KL_TIMEOUT_MS, &cqe);
	return ret ? ret : cqe.res;
}

int main(void)
{
	struct results r;
	struct kl_ublk_dev d;
	int pipefd[2], status, ret;
	pid_t pid;

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	if (pipe(pipefd))
		kl_fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		kl_fail("fork: %s", strerror(errno));
	if (!pid) {
		close(pipefd[0]);
		child(pipefd[1]);
	}
	close(pipefd[1]);
	ret = read(pipefd[0], &r, sizeof(r));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		kl_fail("the child without CAP_SYS_ADMIN did not exit normally (status %#x)", status);
	if (ret != sizeof(r))
		kl_fail("the child's results: read %d bytes", ret);
	if (r.step == 1)
		kl_fail("could not drop CAP_SYS_ADMIN (capset)");
	if (r.step == 2)
		kl_fail("/dev/ublk-control without CAP_SYS_ADMIN: could not open it or set up a ring");

	/* the device the child may have added is deleted whatever the results */
	if (!r.fused_res || !r.plain_res) {
		ret = del_dev(&d.ctrl);
		if (ret)
			kl_info("DEL_DEV of device %u: %s", DEV_ID, strerror(-ret));
	}
	KL_EXPECT_EQ(r.fused_res, -EINVAL,
		     "ADD_DEV UNPRIVILEGED_DEV | FUSED_ZERO_COPY without CAP_SYS_ADMIN");
	if (r.plain_res == -EEXIST)
		kl_fail("device %u exists after the refused ADD_DEV: it was added anyway", DEV_ID);
	KL_EXPECT_EQ(r.plain_res, 0, "ADD_DEV UNPRIVILEGED_DEV without CAP_SYS_ADMIN (same id)");
	if (!(r.plain_flags & UBLK_F_UNPRIVILEGED_DEV) ||
	    (r.plain_flags & (UBLK_F_FUSED_ZERO_COPY | UBLK_F_USER_COPY)))
		kl_fail("the unprivileged device has flags %#llx",
			(unsigned long long)r.plain_flags);
	kl_info("unprivileged ADD_DEV: with FUSED_ZERO_COPY %d, without %d (flags %#llx)",
		r.fused_res, r.plain_res, (unsigned long long)r.plain_flags);
	kl_pass();
}
