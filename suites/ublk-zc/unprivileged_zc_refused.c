// SPDX-License-Identifier: GPL-2.0
/*
 * UBLK_F_SUPPORT_ZERO_COPY is refused for an unprivileged device: ADD_DEV
 * with UBLK_F_UNPRIVILEGED_DEV | UBLK_F_SUPPORT_ZERO_COPY from a user
 * without CAP_SYS_ADMIN fails with -EINVAL (instead of silently dropping
 * the flag), while the same user may add a plain unprivileged device.
 * With the argument "auto": the same for UBLK_F_AUTO_BUF_REG.
 */
#include <sys/prctl.h>

#include "zc_lib.h"

static int add_dev(struct kl_ublk_dev *d, __u64 flags, int *id)
{
	struct ublksrv_ctrl_dev_info info;
	int ret;

	memset(&info, 0, sizeof(info));
	info.nr_hw_queues = 1;
	info.queue_depth = 4;
	info.max_io_buf_bytes = 65536;
	info.dev_id = -1;
	info.flags = flags;
	ret = kl_ublk_ctrl_cmd_timeout(&d->ctrl, UBLK_U_CMD_ADD_DEV, -1, &info,
				       sizeof(info), 0, KL_TIMEOUT_MS);
	*id = info.dev_id;
	return ret;
}

int main(int argc, char **argv)
{
	bool autoreg = argc > 1 && !strcmp(argv[1], "auto");
	__u64 flag = autoreg ? UBLK_F_AUTO_BUF_REG : UBLK_F_SUPPORT_ZERO_COPY;
	const char *name = autoreg ? "AUTO_BUF_REG" : "SUPPORT_ZERO_COPY";
	struct kl_ublk_dev d;
	struct stat st;
	int status;
	pid_t pid;

	kl_ublk_require(&d, autoreg ? &zc_auto_cfg : &zc_cfg);
	if (stat("/dev/ublk-control", &st))
		kl_skip("no /dev/ublk-control");
	if (chmod("/dev/ublk-control", 0666))
		kl_skip("cannot open /dev/ublk-control up for an unprivileged user");

	pid = fork();
	if (!pid) {
		struct kl_ublk_dev u;
		int ret, id = -1;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (kl_ublk_open(&u, &zc_cfg))
			_exit(11);
		ret = add_dev(&u, UBLK_F_UNPRIVILEGED_DEV, &id);
		if (ret)
			_exit(12);	/* unprivileged ublk not usable here */
		u.dev_id = id;
		kl_ublk_ctrl(&u, UBLK_U_CMD_DEL_DEV, NULL, 0, 0, KL_TIMEOUT_MS);
		ret = add_dev(&u, UBLK_F_UNPRIVILEGED_DEV | flag, &id);
		if (!ret) {
			u.dev_id = id;
			kl_ublk_ctrl(&u, UBLK_U_CMD_DEL_DEV, NULL, 0, 0, KL_TIMEOUT_MS);
			_exit(1);
		}
		_exit(ret == -EINVAL ? 0 : 2);
	}
	waitpid(pid, &status, 0);
	chmod("/dev/ublk-control", st.st_mode & 07777);
	if (!WIFEXITED(status))
		kl_fail("unprivileged child died");
	switch (WEXITSTATUS(status)) {
	case 0:
		kl_pass();
	case 1:
		kl_fail("unprivileged ADD_DEV with %s succeeded, want -EINVAL", name);
	case 2:
		kl_fail("unprivileged ADD_DEV with %s: want -EINVAL, got another error", name);
	case 10:
	case 11:
		kl_skip("cannot become an unprivileged user here");
	case 12:
		kl_skip("plain unprivileged ADD_DEV fails here, nothing to compare with");
	}
	kl_fail("unexpected child status %d", WEXITSTATUS(status));
}
