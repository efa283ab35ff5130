// SPDX-License-Identifier: GPL-2.0
/*
 * Deleting a device while IO is running and a fused command is in flight:
 * STOP_DEV waits for the request the fused command holds, the server
 * finishes it, the remaining IO fails, the server's commands are aborted
 * and DEL_DEV completes. Nothing hangs.
 */
#include "fused_lib.h"

#define LEN	(4U << 10)

struct ctl {
	int dev_id;
	volatile int stop_res, del_res;
	volatile bool stop_done, del_done;
};

static void *ctl_fn(void *arg)
{
	struct ctl *t = arg;
	struct kl_ublk_ctrl c;

	if (kl_ublk_ctrl_try_open(&c)) {
		t->stop_res = t->del_res = -ENODEV;
	} else {
		t->stop_res = kl_ublk_ctrl_cmd_timeout(&c, UBLK_U_CMD_STOP_DEV,
						       t->dev_id, NULL, 0, 0,
						       3 * KL_TIMEOUT_MS);
		__atomic_store_n(&t->stop_done, true, __ATOMIC_RELEASE);
		t->del_res = kl_ublk_ctrl_cmd_timeout(&c, UBLK_U_CMD_DEL_DEV,
						      t->dev_id, NULL, 0, 0,
						      3 * KL_TIMEOUT_MS);
	}
	__atomic_store_n(&t->stop_done, true, __ATOMIC_RELEASE);
	__atomic_store_n(&t->del_done, true, __ATOMIC_RELEASE);
	return NULL;
}

int main(void)
{
	struct io_uring_sqe *prim, *sec;
	struct kl_ublk_client c, more;
	int p[2], got = 0, tag;
	unsigned char *data;
	pthread_t ctl_thr;
	struct ctl t;
	struct kl_ublk_dev d;
	long long end;

	fu_require_fused();
	kl_ublk_require(&d, &fu_cfg);
	kl_ublk_dev_setup(&d, 0);
	if (pipe(p))
		kl_fail("pipe: %s", strerror(errno));

	/* a READ whose fused secondary blocks on a pipe */
	kl_ublk_client_start(&c, d.dev_id, false, LEN, 1 << 20);
	tag = kl_ublk_wait_client_req(&d, UBLK_IO_OP_READ, 1 << 20);
	prim = io_uring_get_sqe(&d.ring);
	sec = io_uring_get_sqe(&d.ring);
	fu_prep_primary(prim, d.cdev_fd, tag, FU_UD_PRIM | tag);
	fu_prep_secondary(sec, IORING_OP_READ, p[0], 0, LEN, -1,
			  FU_UD_SEC | tag);
	io_uring_submit(&d.ring);

	/* delete the device under it, with more IO queued */
	memset(&t, 0, sizeof(t));
	t.dev_id = d.dev_id;
	if (pthread_create(&ctl_thr, NULL, ctl_fn, &t))
		kl_fail("pthread_create");
	kl_ublk_client_start(&more, d.dev_id, false, LEN, 2 << 20);
	usleep(200000 * kl_scale());
	KL_ASSERT(!t.stop_done, "STOP_DEV returned (%d) while a request was held by a fused command",
		  t.stop_res);

	/* let the fused command finish; serve whatever else comes */
	data = malloc(LEN);
	kl_fill(data, LEN, 77);
	if (write(p[1], data, LEN) != LEN)
		kl_fail("writing the pipe: %s", strerror(errno));
	while (got != 3) {
		struct kl_cqe cqe;
		int ret;

		/* requests of the other tags are kept for serving below */
		ret = kl_ublk_reap(&d, KL_TIMEOUT_MS, &cqe);
		if (ret < 0)
			kl_fail("fused pair did not complete");
		if (!ret)
			continue;
		if (KL_UBLK_UD_KIND(cqe.user_data) == FU_UD_SEC) {
			KL_EXPECT_EQ(cqe.res, LEN, "secondary READ");
			got |= 2;
		} else if (KL_UBLK_UD_KIND(cqe.user_data) == FU_UD_PRIM) {
			got |= 1;
		}
	}
	kl_ublk_commit(&d, tag, LEN);
	kl_ublk_serve_until_stopped(&d, 3 * KL_TIMEOUT_MS);

	end = kl_now_ms() + 3 * KL_TIMEOUT_MS;
	while (!__atomic_load_n(&t.stop_done, __ATOMIC_ACQUIRE)) {
		if (kl_now_ms() > end)
			kl_fail("STOP_DEV hangs");
		usleep(10000);
	}
	KL_EXPECT_EQ(t.stop_res, 0, "STOP_DEV");
	/* DEL_DEV waits for /dev/ublkcN to be released */
	kl_ublk_queue_close(&d);
	while (!__atomic_load_n(&t.del_done, __ATOMIC_ACQUIRE)) {
		if (kl_now_ms() > end)
			kl_fail("DEL_DEV hangs");
		usleep(10000);
	}
	KL_EXPECT_EQ(t.del_res, 0, "DEL_DEV");
	pthread_join(ctl_thr, NULL);

	KL_EXPECT_EQ(kl_ublk_client_wait(&c), LEN, "the IO held by the fused command");
	if (memcmp(c.buf, data, LEN))
		kl_fail("held IO did not get the secondary's data");
	kl_info("IO queued during the delete: %zd", kl_ublk_client_wait(&more));
	kl_pass();
}
