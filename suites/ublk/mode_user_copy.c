// SPDX-License-Identifier: GPL-2.0
/*
 * user-copy (UBLK_F_USER_COPY): FETCH / COMMIT carry no buffer address. The
 * server moves request data itself with pread()/pwrite() on /dev/ublkcN at
 * UBLKSRV_IO_BUF_OFFSET + (q_id << UBLK_QID_OFF) + (tag << UBLK_TAG_OFF):
 * reading there returns a WRITE request's data, writing there fills a READ
 * request. The null target still does the copies so the user-copy path is
 * exercised without a backing file. A null READ returns what the tag's
 * buffer holds, as copy mode does: zero-filling it first cost more than the
 * pwrite() itself under TCG (suites/ublk-perf/README.md).
 */
#include <errno.h>
#include <unistd.h>

#include "ublk_mode.h"

static const char *user_copy_probe(__u64 features)
{
	if (!(features & UBLK_F_USER_COPY))
		return "kernel lacks UBLK_F_USER_COPY";
	return NULL;
}

/* Copy the whole request between io->buf and the driver; 0 or -errno. */
static int user_copy_xfer(struct kl_queue *q, unsigned int tag,
			  unsigned int len, bool to_request)
{
	char *buf = q->ios[tag].buf;
	unsigned int done = 0;

	while (done < len) {
		__u64 pos = kl_user_copy_pos(q->q_id, tag, done);
		__u64 t0 = kl_now_ns();
		ssize_t n;

		if (to_request)
			n = pwrite(q->dev->cdev_fd, buf + done, len - done, pos);
		else
			n = pread(q->dev->cdev_fd, buf + done, len - done, pos);
		kl_stat_add(q, KL_ST_UCOPY_NS, kl_now_ns() - t0);
		kl_stat_add(q, KL_ST_UCOPY_CALLS, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* request shorter than its iod says */
		kl_stat_add(q, KL_ST_UCOPY_BYTES, n);
		done += n;
	}
	return 0;
}

static int user_copy_submit_io(struct kl_queue *q, unsigned int tag,
			       const struct ublksrv_io_desc *iod)
{
	unsigned int len = kl_iod_bytes(iod);
	int ret;

	if (ublksrv_get_op(iod) == UBLK_IO_OP_WRITE) {
		ret = user_copy_xfer(q, tag, len, false);
		if (ret)
			return ret;
		if (!kl_tgt_has_backing(q))
			return len;
		return kl_tgt_submit_rw(q, tag, iod);
	}
	if (kl_tgt_has_backing(q))
		return kl_tgt_submit_rw(q, tag, iod);
	ret = user_copy_xfer(q, tag, len, true);
	return ret ? ret : (int)len;
}

static int user_copy_complete_io(struct kl_queue *q, unsigned int tag,
				 const struct ublksrv_io_desc *iod,
				 const struct io_uring_cqe *cqe)
{
	int ret = kl_tgt_rw_done(q, tag, iod, cqe->res);

	if (ret > 0 && ublksrv_get_op(iod) == UBLK_IO_OP_READ) {
		int err = user_copy_xfer(q, tag, ret, true);

		if (err)
			return err;
	}
	return ret;
}

const struct kl_mode_ops kl_mode_user_copy = {
	.name = "user-copy",
	.dev_flags = UBLK_F_USER_COPY,
	.server_buf = true,
	.probe = user_copy_probe,
	.submit_io = user_copy_submit_io,
	.complete_io = user_copy_complete_io,
};
